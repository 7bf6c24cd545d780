"""The web app's static export (Next.js ``output: "export"`` with ``trailingSlash``) served at ``/``.

``/exam/`` -> ``exam/index.html``; ``/_next/...`` assets as files; anything else under ``/api``
is never shadowed (the API blueprints are registered first and this one refuses ``api/`` paths).
When the export has not been built, ``/`` answers a JSON pointer to the API instead.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, g, jsonify, send_from_directory
from werkzeug.routing import PathConverter
from werkzeug.security import safe_join

from pneumoscan.api.declare import access
from pneumoscan.api.errors import ApiError
from pneumoscan.api.services import services

bp = Blueprint("web", __name__)


class SitePathConverter(PathConverter):
    """Any path except ``api`` and ``api/...``: the API's own 404 and 405 answers stay intact."""

    regex = r"(?!api(?:/|$))[^/].*?"


@bp.record_once
def _register_converter(state) -> None:
    state.app.url_map.converters["site_path"] = SitePathConverter


def _resolve(web_dir: Path, path: str) -> tuple[str, int] | None:
    """The file to send for ``path`` (relative to ``web_dir``) and the status, or None."""
    candidates = [path, f"{path.rstrip('/')}/index.html", f"{path.rstrip('/')}.html"] if path else ["index.html"]
    for rel in candidates:
        full = safe_join(str(web_dir), rel)
        if full is not None and Path(full).is_file():
            return rel, 200
    return None


@bp.get("/", defaults={"path": ""})
@bp.get("/<site_path:path>")
@access("public")
def static_site(path: str):
    web_dir = services().web_dir
    if web_dir is None:
        if path == "":
            return jsonify({"service": "PneumoScan API", "openapi": "/api/openapi.json",
                            "web_app": "not built (run `make web`)"})
        raise ApiError(404, "not_found", f"No page /{path}: the web app has not been built (run `make web`).")
    found = _resolve(web_dir, path)
    if found is None:
        if (web_dir / "404.html").is_file():
            g.html_page = web_dir / "404.html"  # its CSP allows its own inline scripts (pneumoscan.api.edge)
            response = send_from_directory(web_dir, "404.html", max_age=0)
            response.status_code = 404
            return response
        raise ApiError(404, "not_found", f"No page /{path}.")
    rel, _ = found
    if rel.endswith(".html"):
        g.html_page = web_dir / rel  # its CSP allows its own inline scripts (pneumoscan.api.edge)
    cache = 31536000 if rel.startswith("_next/static/") else 0
    return send_from_directory(web_dir, rel, max_age=cache)
