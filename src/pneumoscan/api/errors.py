"""JSON errors: every 4xx (and the 500 that should never happen) answers one shape.

``{"error": {"status": 422, "code": "not_chest_xray", "message": "...", "reason": "photograph"}}``

No stack trace ever reaches a client: unexpected exceptions are logged with the request id and
answered with a plain message.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

DECODE_STATUS: dict[str, int] = {
    "empty_file": 400,
    "unsupported_media_type": 415,
    "unreadable_image": 422,
    "no_pixel_data": 422,
    "image_too_large": 422,
    "image_too_small": 422,
}
"""HTTP status for each ``ImageDecodeError`` code."""


class ApiError(Exception):
    """An error answered as JSON.

    Args:
        status: the HTTP status (4xx).
        code: a stable machine-readable code (see docs/api.md).
        message: plain words: the problem and the fix.
        **extra: more keys for the error object (e.g. ``reason``, ``field``).
    """

    def __init__(self, status: int, code: str, message: str, **extra: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = {k: v for k, v in extra.items() if v is not None}

    def body(self) -> dict:
        return {"error": {"status": self.status, "code": self.code, "message": self.message, **self.extra}}


def error_response(status: int, code: str, message: str, **extra: Any):
    """A Flask response with the JSON error body."""
    response = jsonify(ApiError(status, code, message, **extra).body())
    response.status_code = status
    return response


def _http_error(exc: HTTPException):
    status = exc.code or 500
    if status == 404:
        return error_response(
            404, "not_found",
            f"There is no endpoint {request.method} {request.path}. "
            "The API is described at /api/openapi.json.",
        )
    if status == 405:
        valid = getattr(exc, "valid_methods", None) or []
        allowed = sorted(set(valid) - {"HEAD", "OPTIONS"})
        response = error_response(
            405, "method_not_allowed",
            f"{request.method} is not allowed on {request.path}; "
            f"use {' or '.join(allowed) or 'another method'}.",
            allowed=allowed or None,
        )
        if allowed:
            response.headers["Allow"] = ", ".join(allowed)
        return response
    if status == 413:
        return error_response(413, "payload_too_large", _too_large_message())
    if status == 415:
        return error_response(415, "unsupported_media_type", exc.description or "Unsupported media type.")
    if 400 <= status < 500:
        return error_response(
            status, "bad_request",
            f"The request could not be understood ({exc.name}: {exc.description}). "
            "Check the body and the URL.",
        )
    original = getattr(exc, "original_exception", None)
    if isinstance(original, Exception):  # an error Flask met outside the view (e.g. in an after_request hook)
        return _unexpected(original)
    request_id = g.get("request_id", "-")
    log.error("HTTP %s on %s %s (request %s): %s", status, request.method, request.path, request_id, exc)
    return error_response(status, "internal_error",
                          f"The server could not complete the request (request {request_id}); try again.",
                          request_id=request_id)


def _too_large_message() -> str:
    """Name the limit that was really exceeded: the body size, or the form's parts / field size."""
    limit = request.max_content_length
    size_limit = f"{limit / 1024 / 1024:g} MB" if limit else None
    parts = request.max_form_parts
    field = request.max_form_memory_size
    form_limits = (f"at most {parts} parts" if parts else "") + (
        f"{' and ' if parts else 'at most '}{field // 1024} KB per text field" if field else "")
    sent = request.content_length
    if limit and sent is not None and sent > limit:
        return (f"The request body is {sent / 1024 / 1024:.1f} MB; the limit is {size_limit}. Upload a single "
                "X-ray image; downscale or compress it if needed.")
    if sent is not None and request.mimetype == "multipart/form-data":
        return (f"The form is too large: it may have {form_limits}. Send the X-ray in the field 'image' "
                "(and 'patient_id' when needed), nothing else.")
    return (f"The request body is too large: the limit is {size_limit or 'set by the server'}"
            f"{f', and a form may have {form_limits}' if form_limits else ''}. Upload a single X-ray image.")


def _unexpected(exc: Exception):
    request_id = g.get("request_id", "-")
    log.error("unexpected error on %s %s (request %s)", request.method, request.path, request_id,
              exc_info=(type(exc), exc, exc.__traceback__))
    return error_response(
        500, "internal_error",
        f"An unexpected error occurred and was logged (request {request_id}); nothing was stored. "
        "Try again, and report the request id if it happens again.",
        request_id=request_id,
    )


def register_error_handlers(app: Flask) -> None:
    """JSON bodies for ``ApiError``, every ``HTTPException`` and any other exception."""
    app.register_error_handler(ApiError, lambda exc: (jsonify(exc.body()), exc.status))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
