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
        limit = request.max_content_length
        size = f" (the limit is {limit / 1024 / 1024:.0f} MB)" if limit else ""
        return error_response(
            413, "payload_too_large",
            f"The request body is too large{size}. Upload a single X-ray image; "
            "downscale or compress it if needed.",
        )
    if status == 415:
        return error_response(415, "unsupported_media_type", exc.description or "Unsupported media type.")
    if 400 <= status < 500:
        return error_response(
            status, "bad_request",
            f"The request could not be understood ({exc.name}: {exc.description}). "
            "Check the body and the URL.",
        )
    log.error("HTTP %s on %s %s: %s", status, request.method, request.path, exc)
    return error_response(status, "internal_error", "The server could not complete the request; try again.")


def _unexpected(exc: Exception):
    request_id = getattr(g, "request_id", "-")
    log.exception("unexpected error on %s %s (request %s)", request.method, request.path, request_id)
    return error_response(
        500, "internal_error",
        f"An unexpected error occurred and was logged (request {request_id}); nothing was stored. "
        "Try again, and report the request id if it happens again.",
    )


def register_error_handlers(app: Flask) -> None:
    """JSON bodies for ``ApiError``, every ``HTTPException`` and any other exception."""
    app.register_error_handler(ApiError, lambda exc: (jsonify(exc.body()), exc.status))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
