"""Reports: ``GET /api/reports/{study_id}`` (JSON) and ``GET /api/reports/{study_id}.pdf``.

The first request for a study's latest prediction records a ``Report`` row (when it was issued and
with which notice); later requests show the same report. Concurrent first requests agree on one row:
the insert is ``INSERT ... ON CONFLICT DO NOTHING`` against the unique (study, prediction) constraint,
and every request then reads the row that won.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from pneumoscan.api.app import services
from pneumoscan.api.auth import record
from pneumoscan.api.declare import access, audited
from pneumoscan.api.errors import ApiError
from pneumoscan.api.reports import NOTICE, model_summary, render_pdf
from pneumoscan.api.schemas import ReportSchema, binary
from pneumoscan.api.serialize import patient_json, study_json
from pneumoscan.api.storage import Report, Study, iso, utcnow

bp = APIBlueprint("reports", __name__, url_prefix="/api/reports", tag="Reports")


def _report(session: Session, study_id: int) -> tuple[dict, Study]:
    study = session.scalar(
        select(Study).where(Study.id == study_id).options(selectinload(Study.predictions), selectinload(Study.patient))
    )
    if study is None:
        raise ApiError(404, "not_found", f"Study {study_id} does not exist, so it has no report.")
    pred = study.prediction
    if pred is None:
        raise ApiError(404, "not_found", f"Study {study_id} has no prediction yet, so it has no report.")
    which = select(Report).where(Report.study_id == study.id, Report.prediction_id == pred.id)
    report = session.scalar(which)
    if report is None:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(insert(Report).values(study_id=study.id, prediction_id=pred.id, notice=NOTICE,
                                              generated_at=utcnow()).on_conflict_do_nothing())
        report = session.scalar(which)
    svc = services()
    body = {
        "id": report.id,
        "study": study_json(study),
        "patient": patient_json(study.patient) if study.patient is not None else None,
        "model": model_summary(svc.model_card, pred.model_version, pred.model_id),
        "generated_at": iso(report.generated_at),
        "notice": report.notice,
        "pdf_url": f"/api/reports/{study.id}.pdf",
    }
    return body, study


@bp.get("/<id:study_id>")
@access("clinician")
@audited("view", "report", "study_id")
@bp.output(ReportSchema, description="The report")
@bp.doc(operation_id="readReport")
def report_json(study_id: int):
    """The study's report as JSON"""
    with services().db.session() as session:
        body, study = _report(session, study_id)
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
        body, study = _report(session, study_id)
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
