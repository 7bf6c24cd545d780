"""Studies: upload (decode -> refuse or predict -> store), list, read, image, heatmap, assign a patient.

An upload is all-or-nothing: ``pneumoscan.api.intake.store_study`` (the path images received over
DICOM take too) screens it before anything is written, then writes files and rows in one go.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from apiflask import APIBlueprint
from flask import request, send_file
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from pneumoscan.api.access import audit_entry, record
from pneumoscan.api.declare import access, audited
from pneumoscan.api.errors import ApiError
from pneumoscan.api.intake import require_patient, store_study
from pneumoscan.api.orm import Patient, Study
from pneumoscan.api.schemas import (
    UPLOAD_ERRORS,
    StudyPageSchema,
    StudyPatchSchema,
    StudyQuerySchema,
    StudySchema,
    StudyUploadSchema,
    binary,
)
from pneumoscan.api.serialize import study_json
from pneumoscan.api.services import services
from pneumoscan.api.uploads import age_field, decode_upload, read_upload
from pneumoscan.api.views import MAX_ID
from pneumoscan.api.views.images import refusal_error
from pneumoscan.serving.population import age_between
from pneumoscan.serving.refusal import NotChestXrayError

log = logging.getLogger(__name__)

bp = APIBlueprint("studies", __name__, url_prefix="/api/studies", tag="Studies")



def _patient_id_field() -> int | None:
    raw = request.form.get("patient_id")
    if raw is None or raw.strip() == "" or raw.strip().lower() == "null":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(
            400, "invalid_field", f"'patient_id' must be a patient's numeric id, got {raw!r}.", field="patient_id"
        ) from None
    if not 1 <= value <= MAX_ID:
        raise ApiError(
            400, "invalid_field", f"'patient_id' must be between 1 and {MAX_ID}, got {value}.", field="patient_id"
        )
    return value


def _patient_age(patient: Patient) -> float | None:
    """The patient's age in years today: from the birth date when stored, else the stored age."""
    if patient.birth_date is not None:
        return age_between(patient.birth_date, dt.date.today())
    return None if patient.age_years is None else float(patient.age_years)


def get_study(session: Session, study_id: int) -> Study:
    study = session.scalar(
        select(Study).where(Study.id == study_id).options(selectinload(Study.predictions))
    )
    if study is None:
        raise ApiError(404, "not_found", f"Study {study_id} does not exist. List studies at /api/studies.")
    return study


@bp.post("")
@access("clinician")
@audited("create", "study")
@bp.input(StudyUploadSchema, location="form_and_files", arg_name="form", validation=False)
@bp.output(StudySchema, status_code=201, description="Stored")
@bp.doc(operation_id="createStudy", responses={**UPLOAD_ERRORS, 404: "No patient with that patient_id"})
def create_study(form: Any):
    """Upload an X-ray: decode, refuse or predict, store

    The form is read by ``read_upload`` and its field helpers, which check it in the order the errors
    are most useful (415 not multipart, 400 no image, empty file, bad ``patient_id``/``age_years``).
    """
    svc = services()
    patient_id = _patient_id_field()
    age = age_field()  # the form's age wins over the patient record's, which wins over DICOM tags
    upload = read_upload()
    if patient_id is not None:
        with svc.db.session() as session:
            patient = require_patient(session, patient_id)
            if age is None:
                age = _patient_age(patient)
    decoded = decode_upload(upload)
    try:
        stored = store_study(svc, upload.data, upload.sha256, decoded, filename=upload.filename,
                             patient_id=patient_id, age_years=age,
                             audit=lambda study: audit_entry(object_id=study.id, patient_id=study.patient_id))
    except NotChestXrayError as exc:
        raise refusal_error(exc.refusal) from exc
    return stored.body, 201, {"Location": f"/api/studies/{stored.study_id}"}


@bp.get("")
@access("clinician")
@audited("list", "study")
@bp.input(StudyQuerySchema, location="query", arg_name="query")
@bp.output(StudyPageSchema, description="A page of studies")
@bp.doc(operation_id="listStudies")
def list_studies(query: dict[str, Any]):
    """List studies, newest first (optionally one patient's)"""
    page, per_page, patient_id = query["page"], query["per_page"], query["patient_id"]
    stmt = select(Study)
    if patient_id:
        stmt = stmt.where(Study.patient_id == patient_id)
    with services().db.session() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(
            stmt.options(selectinload(Study.predictions))
            .order_by(Study.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        ).all()
        items = [study_json(s) for s in rows]
        record(session, patient_id=patient_id or None)
    return {"items": items, "total": total, "page": page, "per_page": per_page}


@bp.get("/<id:study_id>")
@access("clinician")
@audited("view", "study", "study_id")
@bp.output(StudySchema, description="The study")
@bp.doc(operation_id="readStudy")
def read_study(study_id: int):
    """A study with its latest prediction"""
    with services().db.session() as session:
        study = get_study(session, study_id)
        record(session, patient_id=study.patient_id)
        return study_json(study)


@bp.patch("/<id:study_id>")
@access("clinician")
@audited("update", "study", "study_id")
@bp.input(StudyPatchSchema, arg_name="body")
@bp.output(StudySchema, description="Updated")
@bp.doc(operation_id="updateStudy", responses={415: "Not JSON"})
def update_study(study_id: int, body: dict[str, Any]):
    """Assign the study to a patient, or detach it

    ``{"patient_id": 3}`` assigns, ``{"patient_id": null}`` detaches.
    """
    value = body["patient_id"]
    with services().db.session() as session:
        study = get_study(session, study_id)
        if value is not None:
            require_patient(session, value)
        study.patient_id = value
        session.flush()
        record(session, patient_id=value)
        return study_json(study)


def _stored_file(relative: str | None, what: str, study_id: int) -> Path:
    svc = services()
    path = svc.store.path(relative) if relative else None
    if path is None or not path.is_file():
        raise ApiError(404, "not_found", f"Study {study_id} has no stored {what}.")
    return path


@bp.get("/<id:study_id>/image")
@access("clinician")
@audited("download", "study", "study_id", detail="image")
@bp.doc(operation_id="studyImage", responses={200: binary("image/png", description="The X-ray")})
def study_image(study_id: int):
    """The decoded X-ray as PNG

    An 8-bit PNG: what the model saw before preprocessing.
    """
    with services().db.session() as session:
        study = get_study(session, study_id)
        rel = study.display_path
        _stored_file(rel, "image", study_id)
        record(session, patient_id=study.patient_id)
    return send_file(_stored_file(rel, "image", study_id), mimetype="image/png", max_age=0)  # no-store: see api.edge


@bp.get("/<id:study_id>/original")
@access("clinician")
@audited("download", "study", "study_id", detail="original")
@bp.doc(operation_id="studyOriginal", responses={
    200: binary("image/png", "image/jpeg", "application/dicom", description="The original file")})
def study_original(study_id: int):
    """The uploaded file, byte for byte

    Its SHA-256 is the study's ``sha256``.
    """
    with services().db.session() as session:
        study = get_study(session, study_id)
        rel, fmt, name = study.image_path, study.format, study.original_filename
        _stored_file(rel, "original file", study_id)
        record(session, patient_id=study.patient_id)
    mimetype = {"png": "image/png", "jpeg": "image/jpeg", "dicom": "application/dicom"}[fmt]
    return send_file(_stored_file(rel, "original file", study_id), mimetype=mimetype, as_attachment=True,
                     download_name=name or Path(rel).name)


@bp.get("/<id:study_id>/heatmap")
@access("clinician")
@audited("download", "study", "study_id", detail="heatmap")
@bp.doc(operation_id="studyHeatmap", responses={200: binary("image/png", description="The heatmap overlay")})
def study_heatmap(study_id: int):
    """The Grad-CAM overlay as PNG

    The overlay of the study's latest prediction.
    """
    with services().db.session() as session:
        study = get_study(session, study_id)
        pred = study.prediction
        rel = pred.heatmap_path if pred is not None else None
        _stored_file(rel, "heatmap", study_id)
        record(session, patient_id=study.patient_id)
    return send_file(_stored_file(rel, "heatmap", study_id), mimetype="image/png", max_age=0)  # no-store: see api.edge
