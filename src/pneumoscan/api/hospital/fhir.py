"""A study's result as a FHIR R4 Bundle (built and validated with fhir.resources).

The Bundle (type ``collection``) holds:

- a ``DiagnosticReport``: status ``preliminary`` (no clinician has verified it), LOINC 18748-4
  "Diagnostic imaging study", the conclusion in words, the PDF report as ``presentedForm``;
- an ``Observation`` for the finding: SNOMED CT 233604007 "Pneumonia", value Present (52101004) or
  Absent (2667000), the probability and the decision threshold as components, made by the Device;
- a ``Device`` for the model (name, version, the checkpoint's SHA-256 prefix);
- the ``Patient`` (identifier = MRN) when the study has one.

fhir.resources ships FHIR R4 as its ``R4B`` package (4.3.0, the R4 technical correction); the
resources used here read the same in R4 (4.0.1).
"""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from pneumoscan.api.hospital.dicom_out import ResultSource
from pneumoscan.api.storage import iso

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
IDENTIFIER_SYSTEM = "urn:pneumoscan"


def _urn(*parts: object) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'pneumoscan:' + ':'.join(str(p) for p in parts))}"


def _quantity(value: float) -> dict:
    return {"value": round(float(value), 6), "unit": "probability", "system": UCUM, "code": "1"}


def fhir_bundle(src: ResultSource, pdf: bytes, base_url: str = "") -> dict[str, Any]:
    """The study's result as a validated FHIR R4 Bundle (a JSON-ready dict).

    Raises:
        pydantic.ValidationError: a resource is not valid FHIR (a bug: the test suite checks it).
    """
    study, pred, patient = src.study, src.prediction, src.patient
    present = pred.label.upper() == "PNEUMONIA"
    when = iso(pred.created_at) or dt.datetime.now(dt.UTC).isoformat()
    device_url, obs_url, report_url = (_urn("device", pred.model_id), _urn("observation", study.id, pred.id),
                                       _urn("report", study.id, pred.id))
    patient_url = _urn("patient", patient.id) if patient is not None else None
    subject = {"reference": patient_url, "display": patient.name} if patient is not None else None

    device = {
        "resourceType": "Device",
        "identifier": [{"system": f"{IDENTIFIER_SYSTEM}:model-id", "value": pred.model_id}],
        "manufacturer": "PneumoScan",
        "deviceName": [{"name": "PneumoScan pneumonia screening model", "type": "model-name"}],
        "version": [{"value": pred.model_version}],
        "note": [{"text": "Machine-learning screening aid; results support and do not replace a clinician's "
                          "diagnosis."}],
    }
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "preliminary",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "imaging", "display": "Imaging"}]}],
        "code": {"coding": [{"system": SNOMED, "code": "233604007", "display": "Pneumonia"}], "text": "Pneumonia"},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "52101004" if present else "2667000",
                                             "display": "Present" if present else "Absent"}]},
        "device": {"reference": device_url},
        "method": {"text": f"PneumoScan {pred.model_version}, threshold {pred.threshold:.4f}"},
        "component": [
            {"code": {"text": "Probability of pneumonia (model output)"}, "valueQuantity": _quantity(pred.probability)},
            {"code": {"text": "Decision threshold"}, "valueQuantity": _quantity(pred.threshold)},
        ],
    }
    conclusion = (f"{'Pneumonia suspected' if present else 'No pneumonia suspected'} by the screening model "
                  f"(probability {pred.probability:.3f}, threshold {pred.threshold:.3f}). Preliminary, machine-"
                  "generated result: it supports and does not replace a clinician's diagnosis.")
    report: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": f"{IDENTIFIER_SYSTEM}:study", "value": str(study.id)}],
        "status": "preliminary",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD",
                                  "display": "Radiology"}]}],
        "code": {"coding": [{"system": LOINC, "code": "18748-4", "display": "Diagnostic imaging study"}]},
        "effectiveDateTime": iso(study.uploaded_at) or when,
        "issued": when,
        "performer": [{"reference": device_url, "display": "PneumoScan"}],
        "result": [{"reference": obs_url}],
        "conclusion": conclusion,
        "conclusionCode": [{"coding": [{"system": SNOMED, "code": "233604007", "display": "Pneumonia"}]}]
        if present else None,
        "presentedForm": [{"contentType": "application/pdf", "language": "en",
                           "data": base64.b64encode(pdf).decode("ascii"),
                           "title": f"PneumoScan report, study {study.id}",
                           "url": f"{base_url}/api/reports/{study.id}.pdf"}],
    }
    if report["conclusionCode"] is None:
        del report["conclusionCode"]
    entries = [{"fullUrl": report_url, "resource": report}, {"fullUrl": obs_url, "resource": observation},
               {"fullUrl": device_url, "resource": device}]
    if subject is not None:
        observation["subject"] = report["subject"] = subject
        person: dict[str, Any] = {
            "resourceType": "Patient",
            "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                 "code": "MR"}]}, "system": f"{IDENTIFIER_SYSTEM}:mrn",
                            "value": patient.mrn}],
            "name": [{"text": patient.name}],
            "gender": {"female": "female", "male": "male", "other": "other"}.get(patient.sex, "unknown"),
        }
        if patient.birth_date is not None:
            person["birthDate"] = patient.birth_date.isoformat()
        entries.append({"fullUrl": patient_url, "resource": person})
    bundle = Bundle.model_validate({
        "resourceType": "Bundle",
        "identifier": {"system": f"{IDENTIFIER_SYSTEM}:bundle", "value": _urn("bundle", study.id, pred.id)},
        "type": "collection",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "entry": entries,
    })
    return bundle.model_dump(mode="json", exclude_none=True)
