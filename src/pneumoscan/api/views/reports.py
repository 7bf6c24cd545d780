"""Reports: ``GET /api/reports/{study_id}`` (JSON) and ``GET /api/reports/{study_id}.pdf``.

The first request for a study's latest prediction records a ``Report`` row; later requests show the
same report (``report_documents.issue_report``).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from pneumoscan.api.report_documents import issue_report, render_pdf
from pneumoscan.api.services import services

bp = Blueprint("reports", __name__, url_prefix="/api/reports")


@bp.get("/<id:study_id>")
def report_json(study_id: int):
    with services().db.session() as session:
        body, _ = issue_report(session, study_id)
    return jsonify(body)


@bp.get("/<id:study_id>.pdf")
def report_pdf(study_id: int):
    svc = services()
    with svc.db.session() as session:
        body, study = issue_report(session, study_id)
        image = svc.store.path(study.display_path)
        pred = study.prediction
        heatmap = svc.store.path(pred.heatmap_path) if pred is not None and pred.heatmap_path else None
    pdf = render_pdf(body, image, heatmap)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="pneumoscan-report-study-{study_id}.pdf"'},
    )
