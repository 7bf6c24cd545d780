"""Patients: create, list/search/paginate, read (with studies), update, delete (when unused)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask.views import MethodView
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from pneumoscan.api.access import record
from pneumoscan.api.declare import Audited, access, audited
from pneumoscan.api.errors import ApiError
from pneumoscan.api.orm import Patient, Study
from pneumoscan.api.schemas import (
    PatientCreateSchema,
    PatientInputSchema,
    PatientPageSchema,
    PatientQuerySchema,
    PatientSchema,
)
from pneumoscan.api.serialize import patient_json
from pneumoscan.api.services import services

bp = APIBlueprint("patients", __name__, url_prefix="/api/patients", tag="Patients")


def _patient_fields(body: dict[str, Any], replace: bool) -> dict[str, Any]:
    """A validated body as column values: ``sex`` null or absent on a new/replaced patient is unknown."""
    fields = dict(body)
    if "sex" in fields or replace:
        fields["sex"] = fields.get("sex") or "unknown"
    return fields


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
@access("clinician")
@audited("create", "patient")
@bp.input(PatientCreateSchema, arg_name="body")
@bp.output(PatientSchema, status_code=201, description="Created")
@bp.doc(operation_id="createPatient", responses={415: "Not JSON", 422: "The MRN belongs to another patient"})
def create_patient(body: dict[str, Any]):
    """Create a patient"""
    fields = _patient_fields(body, replace=True)
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
        record(session, object_id=patient.id)
        out = patient_json(patient)
    return out, 201, {"Location": f"/api/patients/{out['id']}"}


@bp.get("")
@access("clinician")
@audited("search", "patient")
@bp.input(PatientQuerySchema, location="query", arg_name="query")
@bp.output(PatientPageSchema, description="A page of patients")
@bp.doc(operation_id="listPatients")
def list_patients(query: dict[str, Any]):
    """List or search patients (q matches name or MRN), newest first"""
    page, per_page, q = query["page"], query["per_page"], query["q"].strip()
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
        record(session)
    return {"items": items, "total": total, "page": page, "per_page": per_page}


@bp.get("/<id:patient_id>")
@access("clinician")
@audited("view", "patient", "patient_id")
@bp.output(PatientSchema, description="The patient")
@bp.doc(operation_id="readPatient")
def read_patient(patient_id: int):
    """A patient with their studies"""
    with services().db.session() as session:
        patient = session.scalar(
            select(Patient)
            .where(Patient.id == patient_id)
            .options(selectinload(Patient.studies).selectinload(Study.predictions))
        )
        if patient is None:
            get_patient(session, patient_id)
        record(session)
        return patient_json(patient, studies=True)


def _update(patient_id: int, fields: dict[str, Any]) -> dict[str, Any]:
    with services().db.session() as session:
        patient = get_patient(session, patient_id)
        if "mrn" in fields:
            _check_mrn_free(session, fields["mrn"], patient_id)
        for key, value in fields.items():
            setattr(patient, key, value)
        session.flush()
        record(session)
        return patient_json(patient, studies=True)


class PatientUpdate(MethodView):
    """``PATCH`` changes the fields sent; ``PUT`` replaces them all (one endpoint, two bodies)."""

    access = "clinician"
    audited = Audited("update", "patient", "patient_id")

    @bp.input(PatientInputSchema, arg_name="body")
    @bp.output(PatientSchema, description="Updated")
    @bp.doc(operation_id="updatePatient", responses={415: "Not JSON", 422: "The MRN belongs to another patient"})
    def patch(self, patient_id: int, body: dict[str, Any]):
        """Change some of a patient's fields"""
        return _update(patient_id, _patient_fields(body, replace=False))

    @bp.input(PatientCreateSchema, arg_name="body")
    @bp.output(PatientSchema, description="Replaced")
    @bp.doc(operation_id="replacePatient", responses={415: "Not JSON", 422: "The MRN belongs to another patient"})
    def put(self, patient_id: int, body: dict[str, Any]):
        """Replace a patient's fields"""
        fields = {"referring_doctor": None, "notes": None, "birth_date": None, "age_years": None, **body}
        return _update(patient_id, _patient_fields(fields, replace=True))


bp.add_url_rule("/<id:patient_id>", view_func=PatientUpdate.as_view("update_patient"))


@bp.delete("/<id:patient_id>")
@access("clinician")
@audited("delete", "patient", "patient_id")
@bp.doc(operation_id="deletePatient", responses={204: "Deleted", 422: "The patient has studies"})
def delete_patient(patient_id: int):
    """Delete a patient who has no studies"""
    with services().db.session() as session:
        patient = get_patient(session, patient_id)
        if patient.studies:
            raise ApiError(
                422, "patient_has_studies",
                f"Patient {patient_id} has {len(patient.studies)} stud{'y' if len(patient.studies) == 1 else 'ies'}; "
                "a patient with studies is kept so that no result is lost. Correct the patient's details instead.",
            )
        session.delete(patient)
        record(session)
    return "", 204
