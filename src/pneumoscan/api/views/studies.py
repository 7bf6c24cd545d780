"""Studies: upload (decode -> refuse or predict -> store), list, read, image, heatmap, assign a patient.

An upload is all-or-nothing: ``pneumoscan.api.intake.store_study`` (the path images received over
DICOM take too) screens it before anything is written, then writes files and rows in one go.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from flask import Blueprint, jsonify, request, send_file
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from pneumoscan.api.errors import ApiError
from pneumoscan.api.intake import require_patient, store_study
from pneumoscan.api.orm import Patient, Study
from pneumoscan.api.serialize import study_json
from pneumoscan.api.services import services
from pneumoscan.api.uploads import age_field, decode_upload, int_arg, json_body, read_upload
from pneumoscan.api.views import MAX_ID
from pneumoscan.api.views.images import refusal_error
from pneumoscan.serving.population import age_between
from pneumoscan.serving.refusal import NotChestXrayError

log = logging.getLogger(__name__)

bp = Blueprint("studies", __name__, url_prefix="/api/studies")


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
def create_study():
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
                             patient_id=patient_id, age_years=age)
    except NotChestXrayError as exc:
        raise refusal_error(exc.refusal) from exc
    response = jsonify(stored.body)
    response.status_code = 201
    response.headers["Location"] = f"/api/studies/{stored.study_id}"
    return response


@bp.get("")
def list_studies():
    page = int_arg("page", 1, 1, 1_000_000)
    per_page = int_arg("per_page", 20, 1, 100)
    patient_id = int_arg("patient_id", 0, 0, MAX_ID)
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
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})


@bp.get("/<id:study_id>")
def read_study(study_id: int):
    with services().db.session() as session:
        return jsonify(study_json(get_study(session, study_id)))


@bp.patch("/<id:study_id>")
def update_study(study_id: int):
    """Assign the study to a patient (``{"patient_id": 3}``) or detach it (``{"patient_id": null}``)."""
    body = json_body()
    unknown = sorted(set(body) - {"patient_id"})
    if unknown or "patient_id" not in body:
        raise ApiError(
            400, "invalid_field" if unknown else "missing_field",
            "Send {\"patient_id\": <id or null>}; only the patient can be changed on a stored study.",
            field=(unknown or ["patient_id"])[0],
        )
    value = body["patient_id"]
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID):
        raise ApiError(400, "invalid_field", f"'patient_id' must be a positive integer or null, got {value!r}.",
                       field="patient_id")
    with services().db.session() as session:
        study = get_study(session, study_id)
        if value is not None:
            require_patient(session, value)
        study.patient_id = value
        session.flush()
        return jsonify(study_json(study))


def _stored_file(relative: str | None, what: str, study_id: int) -> Path:
    svc = services()
    path = svc.store.path(relative) if relative else None
    if path is None or not path.is_file():
        raise ApiError(404, "not_found", f"Study {study_id} has no stored {what}.")
    return path


@bp.get("/<id:study_id>/image")
def study_image(study_id: int):
    """The decoded X-ray as an 8-bit PNG (what the model saw before preprocessing)."""
    with services().db.session() as session:
        study = get_study(session, study_id)
        rel = study.display_path
    return send_file(_stored_file(rel, "image", study_id), mimetype="image/png", max_age=0)  # no-store: see api.edge


@bp.get("/<id:study_id>/original")
def study_original(study_id: int):
    """The uploaded file, byte for byte (its SHA-256 is the study's ``sha256``)."""
    with services().db.session() as session:
        study = get_study(session, study_id)
        rel, fmt, name = study.image_path, study.format, study.original_filename
    mimetype = {"png": "image/png", "jpeg": "image/jpeg", "dicom": "application/dicom"}[fmt]
    return send_file(_stored_file(rel, "original file", study_id), mimetype=mimetype, as_attachment=True,
                     download_name=name or Path(rel).name)


@bp.get("/<id:study_id>/heatmap")
def study_heatmap(study_id: int):
    """The Grad-CAM overlay PNG of the study's latest prediction."""
    with services().db.session() as session:
        study = get_study(session, study_id)
        pred = study.prediction
        rel = pred.heatmap_path if pred is not None else None
    return send_file(_stored_file(rel, "heatmap", study_id), mimetype="image/png", max_age=0)  # no-store: see api.edge
