"""The edge: what every request and response passes before and after the views.

- **JSON in**: request bodies are parsed strictly (``StrictJSONProvider``): ``NaN``, ``Infinity`` and
  numbers too large for a float (``1e400``) are refused at parsing, containers nest at most
  ``MAX_JSON_DEPTH`` deep, and every string (keys included) must be valid Unicode, so a lone UTF-16
  surrogate (``"\\ud800"``) never reaches a view or the database. Each problem is a 400 naming it.
- **Query strings**: a NUL character in any parameter is a 400 (it would match everything in a search).
- **Headers out** on every response: a Content-Security-Policy (the web app's pages allow exactly
  their own inline scripts, by SHA-256 hash computed from the built HTML), ``X-Content-Type-Options:
  nosniff``, ``X-Frame-Options: DENY`` with ``frame-ancestors 'none'``, ``Referrer-Policy: no-referrer``;
  patient data (``/api/patients``, ``/api/studies``, ``/api/reports``) is ``Cache-Control: no-store``.
- **Last resort**: a WSGI wrapper answers the JSON 500 body itself if even Flask's error handling fails,
  so a client never sees an HTML crash page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider

from pneumoscan.api.errors import ApiError

log = logging.getLogger(__name__)

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays/objects accepted in a request body (the API's own bodies are 1-2 deep)."""

PATIENT_DATA_PREFIXES = ("/api/patients", "/api/studies", "/api/reports")
"""Responses under these paths hold patient data: never cached (``no-store``)."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
"""CSP of JSON and other API answers: they load nothing and may not be framed."""
DOCUMENT_CSP = "frame-ancestors 'none'"
"""CSP of PDFs shown inline: a stricter default-src would keep Chromium's PDF viewer from drawing them."""


class JSONInputError(ValueError):
    """A request body that is JSON but not JSON this API accepts; ``message`` names the problem and fix."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def _reject_constant(name: str) -> Any:
    raise JSONInputError(f"The JSON body holds {name}, which is not a number JSON allows; send a finite number "
                         "(or null).")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise JSONInputError(f"The JSON body holds the number {shown}, which is too large for a float; send a "
                             "finite number (or null).")
    return value


def check_json_tree(value: Any, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse containers nested deeper than ``max_depth`` and strings (or keys) that are not valid Unicode.

    Raises:
        JSONInputError: naming the field (the top-level key it sits under) and the fix.
    """
    stack: list[tuple[Any, int, str | None]] = [(value, 0, None)]
    while stack:
        item, depth, field = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                where = f"'{field}'" if field else "A string in the JSON body"
                raise JSONInputError(f"{where} holds a lone UTF-16 surrogate (an escape such as \\ud800 that is "
                                     "not half of a pair), which is not valid Unicode; send valid UTF-8 text.",
                                     field=field)
        elif isinstance(item, dict | list):
            if depth + 1 > max_depth:
                raise JSONInputError(f"The JSON body is nested more than {max_depth} levels deep; the API's bodies "
                                     "are flat objects.")
            children: Iterable[tuple[Any, str | None]]
            if isinstance(item, dict):
                keys = [(k, field if depth else None) for k in item]
                children = keys + [(v, field if depth else k) for k, v in item.items()]
            else:
                children = [(v, field) for v in item]
            stack.extend((child, depth + 1, where) for child, where in children)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, with the strict parsing described in the module docstring."""

    sort_keys = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = json.loads(s, parse_constant=_reject_constant, parse_float=_finite_float, **kwargs)
        except RecursionError:
            raise JSONInputError(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep; the API's "
                                 "bodies are flat objects.") from None
        check_json_tree(value)
        return value


def parse_json_body(raw: bytes, app: Flask) -> Any:
    """Parse a request body with the app's strict provider.

    Raises:
        ApiError: 400 ``bad_request`` naming the problem (not JSON, NaN, too deep, invalid Unicode...).
    """
    try:
        return app.json.loads(raw)
    except JSONInputError as exc:
        raise ApiError(400, "bad_request", exc.message, field=exc.field) from None
    except ValueError:
        raise ApiError(400, "bad_request", "The request body is not valid JSON; send a JSON object.") from None


def _check_query() -> None:
    for key, value in request.args.items(multi=True):
        if "\x00" in key or "\x00" in value:
            name = key.replace("\x00", "\\0")[:40]
            raise ApiError(400, "invalid_field", f"Query parameter '{name}' contains a NUL character; remove it.",
                           field=name)


# --- headers -------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _inline_script_hashes(path: str, mtime_ns: int) -> tuple[str, ...]:
    """``'sha256-...'`` of every inline ``<script>`` in an HTML file (cached per file version)."""
    del mtime_ns  # part of the cache key only
    found = []
    for match in _INLINE_SCRIPT.finditer(Path(path).read_bytes()):
        found.append("'sha256-" + base64.b64encode(hashlib.sha256(match.group(1)).digest()).decode() + "'")
    return tuple(dict.fromkeys(found))


def page_csp(html_file: Path) -> str:
    """The CSP of one page of the web app: its own inline scripts by hash, everything else same-origin.

    Inline style *attributes* (React's ``style={...}`` rendered into the exported HTML) are allowed, inline
    ``<style>`` elements are not; images may be ``data:`` (previews from the API) or ``blob:`` (the chosen
    file before upload).
    """
    hashes = " ".join(_inline_script_hashes(str(html_file), html_file.stat().st_mtime_ns))
    return ("default-src 'self'; "
            f"script-src 'self' {hashes}; "
            "style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self'; "
            "connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    if "Content-Security-Policy" not in headers:
        page = g.get("html_page")
        if page is not None:
            headers["Content-Security-Policy"] = page_csp(page)
        elif response.mimetype == "application/pdf":
            headers["Content-Security-Policy"] = DOCUMENT_CSP
        else:
            headers["Content-Security-Policy"] = API_CSP
    if request.path.startswith(PATIENT_DATA_PREFIXES):
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
        headers.pop("Expires", None)
    return response


# --- last resort ---------------------------------------------------------------------------------


def _last_resort(wsgi_app: Callable) -> Callable:
    """Wrap a WSGI app: an exception that escapes Flask's own handling becomes the JSON 500 body."""

    def app(environ, start_response):
        try:
            return wsgi_app(environ, start_response)
        except Exception:  # noqa: BLE001 - the one place that must answer whatever happened
            log.exception("unhandled error escaped the error handlers on %s %s", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"))
            body = json.dumps({"error": {"status": 500, "code": "internal_error",
                                         "message": "An unexpected error occurred and was logged; nothing was "
                                                    "stored. Try again."}}).encode()
            start_response("500 INTERNAL SERVER ERROR",
                           [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            ("X-Content-Type-Options", "nosniff"), ("Cache-Control", "no-store")])
            return [body]

    return app


def install_edge(app: Flask) -> None:
    """Install the strict JSON provider, the query check, the response headers and the last-resort 500."""
    app.json = StrictJSONProvider(app)
    app.before_request(_check_query)
    app.after_request(_security_headers)
    app.wsgi_app = _last_resort(app.wsgi_app)
