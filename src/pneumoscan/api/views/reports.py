"""Reports: ``GET /api/reports/{study_id}`` (JSON) and ``GET /api/reports/{study_id}.pdf``.

The first request for a study's latest prediction records a ``Report`` row; later requests show the
same report (``report_documents.issue_report``).
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from pneumoscan.api.access import record
from pneumoscan.api.declare import access, audited
from pneumoscan.api.report_documents import issue_report, render_pdf
from pneumoscan.api.schemas import ReportSchema, binary
from pneumoscan.api.services import services

bp = APIBlueprint("reports", __name__, url_prefix="/api/reports", tag="Reports")


@bp.get("/<id:study_id>")
@access("clinician")
@audited("view", "report", "study_id")
@bp.output(ReportSchema, description="The report")
@bp.doc(operation_id="readReport")
def report_json(study_id: int):
    """The study's report as JSON"""
    with services().db.session() as session:
        body, study = issue_report(session, study_id)
        record(session, patient_id=study.patient_id)
    return body


@bp.get("/<id:study_id>.pdf")
@access("clinician")
@audited("download", "report", "study_id", detail="pdf")
@bp.doc(operation_id="readReportPdf", responses={200: binary("application/pdf", description="The PDF")})
def report_pdf(study_id: int):
    """The study's report as PDF"""
    svc = services()
    with svc.db.session() as session:
        body, study = issue_report(session, study_id)
        image = svc.store.path(study.display_path)
        pred = study.prediction
        heatmap = svc.store.path(pred.heatmap_path) if pred is not None and pred.heatmap_path else None
        record(session, patient_id=study.patient_id)
    pdf = render_pdf(body, image, heatmap)
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="pneumoscan-report-study-{study_id}.pdf"'},
    )
