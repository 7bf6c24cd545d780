"""Storing a study: the one path every image takes, whether uploaded or received over DICOM.

Decode (by the caller) -> refusal checks and prediction -> files and rows -> audit. Everything that
can fail on bad input happens before anything is written; then the files are written atomically and
the rows inserted in one transaction, under a lock file so that concurrent uploads of the same image
cannot remove each other's files. If the transaction fails, the files it created are removed again.

An upload that the model refuses is answered with the refusal and not stored (the person who
uploaded it is there to read it). An image that arrived over DICOM has nobody waiting for the
answer, so its refusal is stored as a study without a prediction and shown on the worklist.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pneumoscan.api.errors import ApiError
from pneumoscan.api.orm import AuditEntry, Patient, PredictionRecord, Study
from pneumoscan.api.serialize import study_json
from pneumoscan.data.decoding import DecodedImage, DicomInfo, to_png_bytes
from pneumoscan.serving.refusal import NotChestXrayError, Refusal

if TYPE_CHECKING:
    from pneumoscan.api.services import Services

log = logging.getLogger(__name__)

_EXT = {"png": "png", "jpeg": "jpg", "dicom": "dcm"}
SOURCES = ("upload", "dicom", "stow")


@dataclass(frozen=True)
class StoredStudy:
    """What ``store_study`` did: the study's JSON, its stored refusal (if any), and whether the same
    SOPInstanceUID had already been stored (then nothing new was written)."""

    study_id: int
    body: dict
    refusal: Refusal | None = None
    duplicate: bool = False


def require_patient(session: Session, patient_id: int) -> Patient:
    """The patient row, or a 404 ``ApiError`` that says how to create one."""
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise ApiError(
            404, "not_found",
            f"Patient {patient_id} does not exist; create the patient first (POST /api/patients) "
            "or leave 'patient_id' out.",
            field="patient_id",
        )
    return patient


def patient_from_dicom(session: Session, info: DicomInfo | None) -> Patient | None:
    """The patient whose MRN is the DICOM PatientID, created from the tags when there is none yet.

    Returns:
        None when the object carries no PatientID (the study is stored without a patient).
    """
    mrn = (info.patient_id or "").strip()[:64] if info is not None else ""
    if not mrn:
        return None
    patient = session.scalar(select(Patient).where(Patient.mrn == mrn))
    if patient is not None:
        return patient
    birth = dt.date.fromisoformat(info.birth_date) if info.birth_date else None
    patient = Patient(name=(info.patient_name or f"Unknown patient {mrn}")[:200], mrn=mrn, sex=info.sex,
                      birth_date=birth, notes="Created from the DICOM tags of a received image.")
    session.add(patient)
    session.flush()
    log.info("created patient %s from DICOM tags", patient.id)
    return patient


def find_duplicate(session: Session, sop_instance_uid: str | None) -> Study | None:
    if not sop_instance_uid:
        return None
    return session.scalar(select(Study).where(Study.sop_instance_uid == sop_instance_uid))


def store_study(
    svc: Services,
    data: bytes,
    sha256: str,
    decoded: DecodedImage,
    *,
    filename: str | None = None,
    patient_id: int | None = None,
    age_years: float | None = None,
    source: str = "upload",
    sop_instance_uid: str | None = None,
    keep_refusal: bool = False,
    audit: Callable[[Study], AuditEntry] | None = None,
) -> StoredStudy:
    """Screen one decoded image and store it as a study with its prediction (or its refusal).

    Args:
        svc: the application's services.
        data: the file's bytes as received (stored byte for byte).
        sha256: their SHA-256 (hex).
        decoded: ``decode_image(data)``.
        filename: the name it came with, if any.
        patient_id: attach to this patient (must exist); otherwise, for DICOM, the patient whose MRN
            is the PatientID (created from the tags when new).
        age_years: the patient's age when the caller knows it; None: the DICOM tags' age.
        source: ``upload``, ``dicom`` (C-STORE) or ``stow`` (STOW-RS).
        sop_instance_uid: the DICOM SOPInstanceUID: a second object with the same one is recognised
            as a duplicate and not stored again.
        keep_refusal: store a refused image as a study without a prediction (DICOM intake) instead
            of raising.
        audit: builds the audit row for the new study, added in the same transaction (for callers
            outside a request: the API's own hook audits requests).

    Returns:
        The stored study.

    Raises:
        NotChestXrayError: the model refused the image and ``keep_refusal`` is false.
        ApiError: ``patient_id`` names no patient (404).
    """
    if sop_instance_uid:
        with svc.db.session() as session:
            existing = find_duplicate(session, sop_instance_uid)
            if existing is not None:
                return StoredStudy(existing.id, study_json(existing), None, duplicate=True)
    refusal: Refusal | None = None
    try:
        pred = svc.predictor.screen(decoded, heatmap=True, age_years=age_years)
    except NotChestXrayError as exc:
        if not keep_refusal:
            raise
        pred, refusal = None, exc.refusal
    display_png = to_png_bytes(decoded.image)
    image_rel = f"images/{sha256[:2]}/{sha256}.{_EXT[decoded.format]}"
    display_rel = f"images/{sha256[:2]}/{sha256}.display.png"
    model_key = svc.model_id.split(":", 1)[-1][:16]
    heatmap_rel = f"heatmaps/{sha256[:2]}/{sha256}.{model_key}.png" if pred and pred.heatmap_png else None

    try:
        with svc.store.lock(), svc.store.transaction() as files, svc.db.session() as session:
            files.put(image_rel, data)
            files.put(display_rel, display_png)
            if heatmap_rel:
                files.put(heatmap_rel, pred.heatmap_png)
            if patient_id is not None:
                require_patient(session, patient_id)  # still there (not deleted meanwhile)
            elif source != "upload":
                patient = patient_from_dicom(session, decoded.dicom)
                patient_id = patient.id if patient is not None else None
            study = Study(
                patient_id=patient_id,
                sha256=sha256,
                original_filename=filename or None,
                format=decoded.format,
                width=decoded.width,
                height=decoded.height,
                bit_depth=decoded.bit_depth,
                size_bytes=len(data),
                image_path=image_rel,
                display_path=display_rel,
                dicom_tags=decoded.dicom.to_dict() if decoded.dicom else None,
                source=source,
                sop_instance_uid=sop_instance_uid or None,
                refusal_reason=refusal.reason if refusal else None,
                refusal_message=refusal.message if refusal else None,
            )
            if pred is not None:
                study.predictions.append(
                    PredictionRecord(
                        model_id=svc.model_id,
                        model_version=pred.model_version,
                        label=pred.label,
                        probability=pred.probability,
                        threshold=pred.threshold,
                        ood_distance=pred.ood_distance,
                        heatmap_path=heatmap_rel,
                        heatmap_class=pred.heatmap_class,
                        subtype=pred.subtype,
                    )
                )
            session.add(study)
            session.flush()
            if pred is not None:
                for hook in svc.study_hooks:  # e.g. queue its DICOM results
                    hook(session, study)
            if audit is not None:
                session.add(audit(study))
            body = study_json(study)
    except IntegrityError:
        with svc.db.session() as session:  # the same SOPInstanceUID stored meanwhile by another sender
            existing = find_duplicate(session, sop_instance_uid)
            if existing is None:
                raise
            return StoredStudy(existing.id, study_json(existing), None, duplicate=True)
    if pred is not None:
        log.info("stored study %s (%s, %s, %s) -> %s p=%.4f", body["id"], source, decoded.format, sha256[:12],
                 pred.label, pred.probability)
    else:
        log.info("stored study %s (%s, %s) as refused: %s", body["id"], source, sha256[:12], refusal.reason)
    return StoredStudy(body["id"], body, refusal)
