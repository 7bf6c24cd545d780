"""Hospital endpoints: DICOM and FHIR results of a study, the worklist, mark as read, STOW-RS.

- ``GET /api/studies/{id}/dicom/sr|heatmap|pdf``: the result as a DICOM file.
- ``GET /api/studies/{id}/fhir``: the result as a FHIR R4 Bundle.
- ``GET /api/worklist``: studies by urgency (unread first; above the threshold by margin; refusals
  flagged apart), with filters by day, result and read status, and each study's send status.
- ``POST /api/studies/{id}/read``: mark as read (the audit log records who).
- ``POST /dicomweb/studies``: DICOMweb STOW-RS (multipart/related of application/dicom parts).
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import io
import logging
from typing import Any

from apiflask import APIBlueprint
from flask import Blueprint, Response, current_app, jsonify, request
from pydicom import dcmread
from pydicom.errors import InvalidDicomError
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pneumoscan.api.access import audit_entry, current_user, record
from pneumoscan.api.declare import access, audited
from pneumoscan.api.errors import ApiError
from pneumoscan.api.hospital import dicom_out
from pneumoscan.api.hospital.fhir import fhir_bundle
from pneumoscan.api.hospital.inbound import receive_instance
from pneumoscan.api.hospital.results import report_pdf_bytes, result_object, result_source
from pneumoscan.api.hospital.sender import hospital_settings, send_status
from pneumoscan.api.orm import DicomSend, Study, utcnow
from pneumoscan.api.schemas import StudySchema, WorklistQuerySchema, WorklistSchema, binary
from pneumoscan.api.serialize import study_json
from pneumoscan.api.services import services

log = logging.getLogger(__name__)

bp = APIBlueprint("hospital", __name__, tag="Hospital systems")
stow_bp = Blueprint("dicomweb", __name__, url_prefix="/dicomweb")
"""STOW-RS follows DICOM PS3.18, not this API's JSON conventions: not in the OpenAPI document (docs/api.md)."""


@bp.record_once
def _settings(state) -> None:
    if "pneumoscan" in state.app.extensions:
        hospital_settings(state.app)  # a bad PNEUMOSCAN_DICOM_* value fails at start-up, not later


def _record_download(study_id: int) -> None:
    """The audit row of a result the view built (from sessions of its own): names the study's patient."""
    with services().db.session() as session:
        study = session.get(Study, study_id)
        record(session, patient_id=study.patient_id if study is not None else None)


@bp.get("/api/studies/<id:study_id>/dicom/<kind>")
@access("clinician")
@audited("download", "study", "study_id", detail="dicom-{kind}")
@bp.doc(operation_id="studyDicom", responses={
    200: binary("application/dicom", description="A DICOM Part 10 file"),
    404: "Unknown study or kind, or it has no prediction (refused) or no heatmap"})
def study_dicom(study_id: int, kind: str):
    """The study's result as a DICOM object

    ``kind``: ``sr`` (TID 1500 Comprehensive 3D SR), ``heatmap`` (Secondary Capture of the Grad-CAM
    overlay) or ``pdf`` (Encapsulated PDF report).
    """
    ds = result_object(services(), study_id, kind)
    _record_download(study_id)
    return Response(
        dicom_out.to_bytes(ds), mimetype="application/dicom",
        headers={"Content-Disposition": f'attachment; filename="pneumoscan-study-{study_id}-{kind}.dcm"'},
    )


@bp.get("/api/studies/<id:study_id>/fhir")
@access("clinician")
@audited("download", "study", "study_id", detail="fhir")
@bp.doc(operation_id="studyFhir", responses={
    200: {"description": "A FHIR Bundle", "content": {
        "application/fhir+json": {"schema": {"type": "object", "required": ["resourceType"]}}}},
    404: "Unknown study, or it has no prediction (refused)"})
def study_fhir(study_id: int):
    """The study's result as a FHIR R4 Bundle (DiagnosticReport, Observation, Device, Patient)."""
    svc = services()
    src = result_source(svc, study_id)
    bundle = fhir_bundle(src, report_pdf_bytes(svc, study_id), base_url=request.host_url.rstrip("/"))
    _record_download(study_id)
    return Response(jsonify(bundle).get_data(), mimetype="application/fhir+json")


@bp.post("/api/studies/<id:study_id>/read")
@access("clinician")
@audited("mark_read", "study", "study_id")
@bp.output(StudySchema, description="The study")
@bp.doc(operation_id="markRead")
def mark_read(study_id: int):
    """Mark the study as read by the signed-in clinician (recorded in the audit log)."""
    user = current_user()
    with services().db.session() as session:
        study = session.scalar(select(Study).where(Study.id == study_id).options(selectinload(Study.predictions)))
        if study is None:
            raise ApiError(404, "not_found", f"Study {study_id} does not exist. List studies at /api/worklist.")
        if study.read_at is None:
            study.read_at = utcnow()
            study.read_by = user.username if user is not None else None
        session.flush()
        record(session, patient_id=study.patient_id)
        return study_json(study)


def urgency(study: Study) -> tuple[str, float | None]:
    """``above_threshold`` / ``below_threshold`` with the margin p - threshold, or ``refused``."""
    pred = study.prediction
    if pred is None:
        return "refused", None
    margin = float(pred.probability) - float(pred.threshold)
    return ("above_threshold" if margin >= 0 else "below_threshold"), margin


@bp.get("/api/worklist")
@access("clinician")
@audited("list", "study")
@bp.input(WorklistQuerySchema, location="query", arg_name="query")
@bp.output(WorklistSchema, description="The worklist")
@bp.doc(operation_id="worklist")
def worklist(query: dict[str, Any]):
    """The studies of a day (``date``, default all days) by urgency: unread first, then the most
    suspicious (probability furthest above the threshold) first; refusals after the answered ones,
    flagged ``refused``. Filters: ``result`` (pneumonia, normal, refused), ``read`` (unread, read)."""
    day, result, read = query["date"], query["result"], query["read"]
    stmt = select(Study).options(selectinload(Study.predictions), selectinload(Study.patient))
    if day is not None:
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        stmt = stmt.where(Study.uploaded_at >= start, Study.uploaded_at < start + dt.timedelta(days=1))
    if read == "unread":
        stmt = stmt.where(Study.read_at.is_(None))
    elif read == "read":
        stmt = stmt.where(Study.read_at.is_not(None))
    with services().db.session() as session:
        studies = session.scalars(stmt.order_by(Study.id.desc()).limit(1000)).all()
        sends: dict[int, list[DicomSend]] = {}
        if studies:
            for row in session.scalars(select(DicomSend).where(DicomSend.study_id.in_([s.id for s in studies]))):
                sends.setdefault(row.study_id, []).append(row)
        items = []
        for study in studies:
            level, margin = urgency(study)
            label = (study.prediction.label.lower() if study.prediction else "refused")
            if result != "all" and label != result:
                continue
            items.append({
                **study_json(study),
                "patient": ({"id": study.patient.id, "name": study.patient.name, "mrn": study.patient.mrn}
                            if study.patient is not None else None),
                "urgency": level,
                "margin": margin,
                "dicom_send": send_status(sends.get(study.id, [])),
            })
        record(session)
    group = {"above_threshold": 0, "below_threshold": 1, "refused": 2}
    items.sort(key=lambda it: (it["read_at"] is not None, group[it["urgency"]],
                               -(it["margin"] if it["margin"] is not None else 0.0), -it["id"]))
    return {"items": items, "total": len(items), "date": day.isoformat() if day else None,
            "result": result, "read": read, "generated_at": utcnow().isoformat().replace("+00:00", "Z")}


# --- STOW-RS ---------------------------------------------------------------------------------------

_TAG = {"ReferencedSOPSequence": "00081199", "FailedSOPSequence": "00081198", "ReferencedSOPClassUID": "00081150",
        "ReferencedSOPInstanceUID": "00081155", "FailureReason": "00081197", "RetrieveURL": "00081190",
        "WarningReason": "00081196"}
_CANNOT_UNDERSTAND = 0xC000  # PS3.18: FailureReason 'Cannot understand'


def _parts() -> list[bytes]:
    """The DICOM files of a STOW-RS request body (multipart/related, or one application/dicom body)."""
    mimetype = request.mimetype
    body = request.get_data(cache=False)
    if mimetype == "application/dicom":
        return [body]
    if mimetype != "multipart/related":
        raise ApiError(
            415, "unsupported_media_type",
            f"STOW-RS expects multipart/related; type=\"application/dicom\", got {mimetype or 'no Content-Type'}. "
            "Send each instance as an application/dicom part.",
        )
    head = f"Content-Type: {request.headers.get('Content-Type')}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ApiError(400, "bad_request", "The multipart/related body has no parts (check the boundary).")
    parts = []
    for part in message.iter_parts():
        kind = part.get_content_type()
        if kind != "application/dicom":
            raise ApiError(415, "unsupported_media_type",
                           f"A part is {kind}; STOW-RS here takes application/dicom parts only.")
        parts.append(part.get_payload(decode=True) or b"")
    if not parts:
        raise ApiError(400, "bad_request", "The request holds no DICOM instance.")
    return parts


def _item(sop_class: str | None, sop_uid: str | None, **extra: object) -> dict:
    item = {}
    if sop_class:
        item[_TAG["ReferencedSOPClassUID"]] = {"vr": "UI", "Value": [sop_class]}
    if sop_uid:
        item[_TAG["ReferencedSOPInstanceUID"]] = {"vr": "UI", "Value": [sop_uid]}
    for key, value in extra.items():
        vr = {"FailureReason": "US", "WarningReason": "US", "RetrieveURL": "UR"}[key]
        item[_TAG[key]] = {"vr": vr, "Value": [value]}
    return item


@stow_bp.post("/studies")
@access("clinician")
@audited("create", "study")
def stow():
    """Store instances (STOW-RS); each takes the upload path and becomes a study (or a stored refusal)."""
    parts = _parts()
    user = current_user()
    stored, failed = [], []
    for data in parts:
        try:
            ds = dcmread(io.BytesIO(data), stop_before_pixels=True)
            sop_class, sop_uid = str(ds.SOPClassUID), str(ds.SOPInstanceUID)
        except (InvalidDicomError, AttributeError, ValueError, TypeError, EOFError, OSError) as exc:
            log.warning("STOW-RS part is not a DICOM instance: %s", exc)
            failed.append(_item(None, None, FailureReason=_CANNOT_UNDERSTAND))
            continue
        got = receive_instance(
            current_app._get_current_object(), data, source="stow", sop_instance_uid=sop_uid,  # noqa: SLF001
            audit=lambda study: audit_entry(object_id=study.id, patient_id=study.patient_id, status=200, user=user,
                                            detail="stow-rs"),  # one row per stored instance, with the study
        )
        if got.ok:
            extra = {"RetrieveURL": f"{request.host_url.rstrip('/')}/api/studies/{got.stored.study_id}"}
            stored.append(_item(sop_class, sop_uid, **extra))
        else:
            failed.append(_item(sop_class, sop_uid, FailureReason=_CANNOT_UNDERSTAND))
    # nothing stored: the request's own failure row is written afterwards (no row above committed)
    body: dict = {}
    if stored:
        body[_TAG["ReferencedSOPSequence"]] = {"vr": "SQ", "Value": stored}
    if failed:
        body[_TAG["FailedSOPSequence"]] = {"vr": "SQ", "Value": failed}
    status = 200 if not failed else (202 if stored else 409)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/dicom+json"
    return response

