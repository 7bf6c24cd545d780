"""Health, the model card and its figures, and the OpenAPI document."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, send_file
from sqlalchemy import text

from pneumoscan.api.errors import ApiError
from pneumoscan.api.openapi import openapi_document
from pneumoscan.api.services import services

bp = Blueprint("meta", __name__, url_prefix="/api")

_FIGURE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.png$")


@bp.get("/health")
def health():
    """Liveness plus what is served: the model version and whether the database answers."""
    svc = services()
    with svc.db.session() as session:
        session.execute(text("SELECT 1"))
    return jsonify({"status": "ok", "model_version": svc.predictor.model_version, "model_id": svc.model_id})


@bp.get("/model")
def model_card():
    return jsonify(services().model_card)


@bp.get("/model/figures/<name>")
def model_figure(name: str):
    svc = services()
    fig_dir = svc.run_dir / "figures" if svc.run_dir else None
    if not _FIGURE_NAME.match(name) or fig_dir is None or not (fig_dir / name).is_file():
        available = ", ".join(sorted(svc.model_card.get("figures", {}))) or "none"
        raise ApiError(404, "not_found", f"No figure {name!r} in the run folder. Available: {available}.")
    return send_file(fig_dir / name, mimetype="image/png", max_age=3600)


@bp.get("/model/validation/<source>/<name>")
def validation_figure(source: str, name: str):
    """A figure of a validation report in ``RUN/validation/<source>/`` (listed in the card's reports)."""
    svc = services()
    reports = {r["source"]: r for r in svc.model_card.get("validation_reports", [])}
    folder = svc.run_dir / "validation" / source if svc.run_dir and source in reports else None
    if not _FIGURE_NAME.match(name) or folder is None or not (folder / name).is_file():
        if source not in reports:
            available = ", ".join(sorted(reports)) or "none"
            raise ApiError(404, "not_found", f"No validation report {source!r} attached to the run. "
                           f"Available: {available}.")
        available = ", ".join(sorted(reports[source]["figures"])) or "none"
        raise ApiError(404, "not_found", f"No figure {name!r} in the {source} validation report. "
                       f"Available: {available}.")
    return send_file(folder / name, mimetype="image/png", max_age=3600)


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
