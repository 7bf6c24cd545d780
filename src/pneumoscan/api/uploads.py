"""Reading requests: the uploaded image, JSON bodies and query parameters, each checked at the edge.

Every problem raises ``ApiError`` with a code from docs/api.md and a message that names the field
and the fix.
"""

from __future__ import annotations

import base64
import hashlib
import math
from dataclasses import dataclass
from typing import Any

from flask import current_app, request

from pneumoscan.api.edge import parse_json_body
from pneumoscan.api.errors import DECODE_STATUS, ApiError
from pneumoscan.api.schemas import MAX_AGE_YEARS
from pneumoscan.data.decoding import DecodedImage, ImageDecodeError, decode_image, to_png_bytes

IMAGE_FIELD = "image"
PREVIEW_MAX_SIDE = 512


@dataclass(frozen=True)
class Upload:
    """An uploaded file: its bytes, SHA-256 and the name the browser gave it (maybe empty)."""

    data: bytes
    filename: str
    sha256: str


def read_upload() -> Upload:
    """The file in the multipart field ``image``.

    Raises:
        ApiError: not multipart (415), no ``image`` field (400 missing_field), a zero-byte file
            (400 empty_file); an oversized body raises Werkzeug's 413 first.
    """
    if request.mimetype != "multipart/form-data":
        got = request.mimetype or "no Content-Type"
        raise ApiError(
            415, "unsupported_media_type",
            f"Expected a multipart/form-data upload with the X-ray in the field '{IMAGE_FIELD}', got {got}. "
            "Send the file as a form upload (e.g. curl -F image=@xray.png).",
        )
    files = request.files
    if IMAGE_FIELD not in files:
        others = sorted({str(k) for k in files} | {str(k) for k in request.form})  # a nameless part is None
        hint = f" (the request had: {', '.join(others)})" if others else ""
        raise ApiError(
            400, "missing_field",
            f"No file in the form field '{IMAGE_FIELD}'{hint}. Attach the X-ray as '{IMAGE_FIELD}'.",
            field=IMAGE_FIELD,
        )
    storage = files[IMAGE_FIELD]
    data = storage.read()
    filename = (storage.filename or "").replace("\\", "/").rsplit("/", 1)[-1][:255]
    if not data:
        raise ApiError(
            400, "empty_file",
            f"The uploaded file{f' {filename!r}' if filename else ''} is empty (0 bytes). "
            "Choose the X-ray file again and re-upload it.",
            field=IMAGE_FIELD,
        )
    return Upload(data=data, filename=filename, sha256=hashlib.sha256(data).hexdigest())


def decode_upload(upload: Upload) -> DecodedImage:
    """Decode an upload with the server's size limit.

    Raises:
        ApiError: with the ``ImageDecodeError`` code and message (400, 415 or 422).
    """
    try:
        return decode_image(upload.data, max_pixels=int(current_app.config["MAX_IMAGE_PIXELS"]))
    except ImageDecodeError as exc:
        raise ApiError(DECODE_STATUS.get(exc.code, 422), exc.code, exc.message, field=IMAGE_FIELD) from exc


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def preview_data_url(decoded: DecodedImage) -> str:
    return png_data_url(to_png_bytes(decoded.image, max_side=PREVIEW_MAX_SIDE))


def json_body() -> dict[str, Any]:
    """The request's JSON object.

    Raises:
        ApiError: not ``application/json`` (415), malformed JSON, NaN/Infinity, nesting deeper than
            ``edge.MAX_JSON_DEPTH`` or invalid Unicode (400 bad_request), not an object (400).
    """
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type",
            f"Expected a JSON body (Content-Type: application/json), got {request.mimetype or 'none'}.",
        )
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise ApiError(400, "bad_request", "The request body is empty; send a JSON object.")
    body = parse_json_body(raw, current_app)
    if not isinstance(body, dict):
        raise ApiError(
            400, "bad_request", f"The JSON body must be an object, not {type(body).__name__}; send {{...}}."
        )
    return body


def flag(name: str) -> bool:
    """A boolean query parameter: ``1/true/yes/on`` or ``0/false/no/off`` (absent = false).

    Raises:
        ApiError: another value (400 invalid_field).
    """
    raw = request.args.get(name)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on", ""):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ApiError(400, "invalid_field", f"Query parameter '{name}' must be 1 or 0, got {raw!r}.", field=name)


def age_field() -> float | None:
    """The optional multipart form field ``age_years``: the patient's age in years (decimals allowed).

    Raises:
        ApiError: not a finite number between 0 and 130 (400 invalid_field).
    """
    raw = request.form.get("age_years")
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or not 0 <= value <= MAX_AGE_YEARS:
        raise ApiError(
            400, "invalid_field",
            f"'age_years' must be the patient's age in years, a number from 0 to {MAX_AGE_YEARS}, got {raw[:40]!r}. "
            "Leave it out when the age is unknown.",
            field="age_years",
        )
    return value
