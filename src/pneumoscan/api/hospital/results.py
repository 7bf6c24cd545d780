"""A stored study's results, built as DICOM objects (for download and for sending to the PACS)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydicom import Dataset
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pneumoscan.api.errors import ApiError
from pneumoscan.api.hospital import dicom_out
from pneumoscan.api.hospital.dicom_out import ResultSource
from pneumoscan.api.orm import Study
from pneumoscan.api.report_documents import issue_report, render_pdf

if TYPE_CHECKING:
    from pneumoscan.api.services import Services


def report_pdf_bytes(svc: Services, study_id: int) -> bytes:
    """The study's PDF report (the same document as ``GET /api/reports/{id}.pdf``)."""
    with svc.db.session() as session:
        body, study = issue_report(session, study_id)
        image = svc.store.path(study.display_path)
        pred = study.prediction
        heatmap = svc.store.path(pred.heatmap_path) if pred is not None and pred.heatmap_path else None
    return render_pdf(body, image, heatmap)


def result_source(svc: Services, study_id: int) -> ResultSource:
    """Everything the DICOM builders need for one study.

    Raises:
        ApiError: no such study (404), or the study has no prediction (404: it was refused).
    """
    with svc.db.session() as session:
        study = session.scalar(select(Study).where(Study.id == study_id)
                               .options(selectinload(Study.predictions), selectinload(Study.patient)))
        if study is None:
            raise ApiError(404, "not_found", f"Study {study_id} does not exist. List studies at /api/studies.")
        pred = study.prediction
        if pred is None:
            raise ApiError(
                404, "not_found",
                f"Study {study_id} has no prediction ({study.refusal_reason or 'none yet'}), "
                "so it has no DICOM results.",
            )
        original = svc.store.path(study.image_path) if study.image_path else None
        reference, is_image = dicom_out.reference_dataset(study, study.patient, original)
        heatmap = None
        if pred.heatmap_path:
            path = svc.store.path(pred.heatmap_path)
            heatmap = path.read_bytes() if path.is_file() else None
        return ResultSource(study=study, patient=study.patient, prediction=pred, reference=reference,
                            reference_is_image=is_image, heatmap_png=heatmap, model_card=svc.model_card)


def result_object(svc: Services, study_id: int, kind: str) -> Dataset:
    """One result object: ``sr``, ``heatmap`` or ``pdf``.

    Raises:
        ApiError: unknown study, no prediction, or no heatmap (404).
    """
    if kind not in dicom_out.KINDS:
        raise ApiError(404, "not_found", f"Unknown DICOM result {kind[:20]!r}; use sr, heatmap or pdf.")
    src = result_source(svc, study_id)
    if kind == "sr":
        return dicom_out.structured_report(src)
    if kind == "heatmap":
        if not src.heatmap_png:
            raise ApiError(404, "not_found", f"Study {study_id} has no stored heatmap.")
        return dicom_out.heatmap_capture(src)
    if kind == "pdf":
        return dicom_out.encapsulated_pdf(src, report_pdf_bytes(svc, study_id))
    raise ApiError(404, "not_found", f"Unknown DICOM result {kind!r}; use sr, heatmap or pdf.")
