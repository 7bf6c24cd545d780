"""Patients: create, list/search/paginate, read (with studies), update, delete (when unused)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from pneumoscan.api.errors import ApiError
from pneumoscan.api.orm import Patient, Study
from pneumoscan.api.serialize import patient_json
from pneumoscan.api.services import services
from pneumoscan.api.uploads import int_arg, json_body

bp = Blueprint("patients", __name__, url_prefix="/api/patients")

SEXES = ("female", "male", "other", "unknown")
FIELDS = ("name", "mrn", "sex", "birth_date", "age_years", "referring_doctor", "notes")
_LIMITS = {"name": 200, "mrn": 64, "referring_doctor": 200, "notes": 5000}
_MAX_AGE = 130


def _text(body: dict, key: str, required: bool) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise ApiError(400, "missing_field", f"'{key}' is required; send it as a non-empty string.", field=key)
        return None
    if not isinstance(value, str):
        raise ApiError(400, "invalid_field", f"'{key}' must be a string, not {type(value).__name__}.", field=key)
    value = value.strip()
    if "\x00" in value:
        raise ApiError(400, "invalid_field", f"'{key}' contains a NUL character; remove it.", field=key)
    if not value:
        if required:
            raise ApiError(400, "missing_field", f"'{key}' is required and may not be blank.", field=key)
        return None
    if len(value) > _LIMITS[key]:
        raise ApiError(
            400, "invalid_field", f"'{key}' is {len(value)} characters long; at most {_LIMITS[key]} are allowed.",
            field=key,
        )
    return value


def _sex(body: dict) -> str | None:
    value = body.get("sex")
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().lower() not in SEXES:
        raise ApiError(400, "invalid_field", f"'sex' must be one of {', '.join(SEXES)}; got {value!r}.", field="sex")
    return value.strip().lower()


def _birth_date(body: dict) -> dt.date | None:
    value = body.get("birth_date")
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400, "invalid_field", f"'birth_date' must be a date written YYYY-MM-DD, got {value!r}.", field="birth_date"
        ) from None
    today = dt.date.today()
    if day > today or day.year < today.year - _MAX_AGE:
        raise ApiError(
            400, "invalid_field",
            f"'birth_date' {value} is not plausible; it must lie between {today.year - _MAX_AGE} and today.",
            field="birth_date",
        )
    return day


def _age(body: dict) -> int | None:
    value = body.get("age_years")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ApiError(400, "invalid_field", f"'age_years' must be a whole number, got {value!r}.", field="age_years")
    if not 0 <= int(value) <= _MAX_AGE:
        raise ApiError(
            400, "invalid_field", f"'age_years' must be between 0 and {_MAX_AGE}, got {value}.", field="age_years"
        )
    return int(value)


def parse_patient(body: dict, partial: bool) -> dict[str, Any]:
    """Validate a patient body; returns only the keys that were sent (all required ones when not partial).

    Raises:
        ApiError: unknown keys, a missing required field or an invalid value (400).
    """
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ApiError(
            400, "invalid_field", f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}.",
            field=unknown[0],
        )
    out: dict[str, Any] = {}
    for key in ("name", "mrn"):
        if not partial or key in body:
            out[key] = _text(body, key, required=True)
    for key in ("referring_doctor", "notes"):
        if key in body:
            out[key] = _text(body, key, required=False)
    if "sex" in body:
        out["sex"] = _sex(body) or "unknown"
    elif not partial:
        out["sex"] = "unknown"
    if "birth_date" in body:
        out["birth_date"] = _birth_date(body)
    if "age_years" in body:
        out["age_years"] = _age(body)
    if out.get("birth_date") is not None and out.get("age_years") is not None:
        from pneumoscan.api.serialize import age_on

        computed = age_on(out["birth_date"], dt.date.today())
        if abs(computed - out["age_years"]) > 1:
            raise ApiError(
                400, "invalid_field",
                f"'age_years' {out['age_years']} contradicts 'birth_date' {out['birth_date']} (age {computed}); "
                "send one of them.",
                field="age_years",
            )
    return out


def get_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise ApiError(404, "not_found", f"Patient {patient_id} does not exist. List patients at /api/patients.")
    return patient


def _check_mrn_free(session: Session, mrn: str, patient_id: int | None = None) -> None:
    other = session.scalar(select(Patient).where(Patient.mrn == mrn))
    if other is not None and other.id != patient_id:
        raise ApiError(
            422, "duplicate_mrn",
            f"A patient with MRN {mrn!r} already exists (id {other.id}, {other.name}). "
            "Open that patient or correct the MRN.",
            field="mrn", patient_id=other.id,
        )


@bp.post("")
def create_patient():
    fields = parse_patient(json_body(), partial=False)
    with services().db.session() as session:
        _check_mrn_free(session, fields["mrn"])
        patient = Patient(**fields)
        session.add(patient)
        try:
            session.flush()
        except IntegrityError:  # a concurrent request took the MRN between the check and the insert
            session.rollback()
            _check_mrn_free(session, fields["mrn"])
            raise
        body = patient_json(patient)
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = f"/api/patients/{body['id']}"
    return response


@bp.get("")
def list_patients():
    page = int_arg("page", 1, 1, 1_000_000)
    per_page = int_arg("per_page", 20, 1, 100)
    q = (request.args.get("q") or "").strip()
    stmt = select(Patient)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower() + "%"
        stmt = stmt.where(
            or_(func.lower(Patient.name).like(pattern, escape="\\"), func.lower(Patient.mrn).like(pattern, escape="\\"))
        )
    with services().db.session() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(Patient.id.desc()).offset((page - 1) * per_page).limit(per_page)).all()
        items = [patient_json(p) for p in rows]
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})


@bp.get("/<id:patient_id>")
def read_patient(patient_id: int):
    with services().db.session() as session:
        patient = session.scalar(
            select(Patient)
            .where(Patient.id == patient_id)
            .options(selectinload(Patient.studies).selectinload(Study.predictions))
        )
        if patient is None:
            get_patient(session, patient_id)
        return jsonify(patient_json(patient, studies=True))


@bp.route("/<id:patient_id>", methods=["PATCH", "PUT"])
def update_patient(patient_id: int):
    fields = parse_patient(json_body(), partial=request.method == "PATCH")
    with services().db.session() as session:
        patient = get_patient(session, patient_id)
        if "mrn" in fields:
            _check_mrn_free(session, fields["mrn"], patient_id)
        if request.method == "PUT":
            for key in ("referring_doctor", "notes", "birth_date", "age_years"):
                fields.setdefault(key, None)
        for key, value in fields.items():
            setattr(patient, key, value)
        session.flush()
        return jsonify(patient_json(patient, studies=True))


@bp.delete("/<id:patient_id>")
def delete_patient(patient_id: int):
    with services().db.session() as session:
        patient = get_patient(session, patient_id)
        if patient.studies:
            raise ApiError(
                422, "patient_has_studies",
                f"Patient {patient_id} has {len(patient.studies)} stud{'y' if len(patient.studies) == 1 else 'ies'}; "
                "a patient with studies is kept so that no result is lost. Correct the patient's details instead.",
            )
        session.delete(patient)
    return "", 204
