"""Database rows -> the JSON shapes of docs/api.md (mirrored by web/lib/definitions.ts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app

from pneumoscan.api.orm import Patient, PredictionRecord, Study
from pneumoscan.api.schemas import age_on
from pneumoscan.api.storage import iso


def patient_json(patient: Patient, studies: bool = False) -> dict[str, Any]:
    """A patient; ``age_years`` is computed from the birth date when there is one."""
    age = patient.age_years
    if patient.birth_date is not None:
        age = age_on(patient.birth_date, dt.date.today())
    out: dict[str, Any] = {
        "id": patient.id,
        "name": patient.name,
        "mrn": patient.mrn,
        "sex": patient.sex,
        "birth_date": iso(patient.birth_date),
        "age_years": age,
        "referring_doctor": patient.referring_doctor,
        "notes": patient.notes,
        "created_at": iso(patient.created_at),
    }
    if studies:
        out["studies"] = [study_json(s) for s in sorted(patient.studies, key=lambda s: s.id, reverse=True)]
    return out


def prediction_json(prediction: PredictionRecord | None) -> dict[str, Any] | None:
    if prediction is None:
        return None
    return {
        "label": prediction.label,
        "probability": prediction.probability,
        "threshold": prediction.threshold,
        "model_version": prediction.model_version,
        "model_id": prediction.model_id,
        "operating_point": operating_point_label(prediction.model_id),
        "subtype": prediction.subtype,
        "created_at": iso(prediction.created_at),
    }


def operating_point_label(model_id: str | None) -> str | None:
    """The served model's operating-point label for its own predictions (None for an earlier model's)."""
    svc = current_app.extensions.get("pneumoscan") if current_app else None
    if svc is None or model_id != svc.model_id:
        return None
    return (svc.model_card.get("operating_point") or {}).get("label")


def study_json(study: Study) -> dict[str, Any]:
    pred = study.prediction
    return {
        "id": study.id,
        "patient_id": study.patient_id,
        "sha256": study.sha256,
        "original_filename": study.original_filename,
        "format": study.format,
        "width": study.width,
        "height": study.height,
        "dicom_tags": study.dicom_tags,
        "uploaded_at": iso(study.uploaded_at),
        "image_url": f"/api/studies/{study.id}/image",
        "heatmap_url": f"/api/studies/{study.id}/heatmap" if pred is not None and pred.heatmap_path else None,
        "prediction": prediction_json(pred),
        "report_url": f"/api/reports/{study.id}",
        "report_pdf_url": f"/api/reports/{study.id}.pdf",
        "source": study.source or "upload",
        "refusal": ({"reason": study.refusal_reason, "message": study.refusal_message}
                    if study.refusal_reason else None),
        "read_at": iso(study.read_at),
        "read_by": study.read_by,
    }
