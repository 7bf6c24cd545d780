"""The OpenAPI 3 document served at ``/api/openapi.json`` (the machine-readable docs/api.md).

Written by hand next to the views it describes; ``tests/api/test_openapi.py`` checks that every
route of the app is documented and fuzzes the API from this document with schemathesis.
"""

from __future__ import annotations

from typing import Any

from pneumoscan import __version__

_NULLABLE_STR = {"type": ["string", "null"]}
MRN_PATTERN = r"""^[^\x00-\x1F\x7F-\x9F!"#$%&'()*+,:;<=>?@\[\\\]^`{|}~]+$"""
"""The MRN character rule: letters and digits of any script, spaces and ``. - _ /``; no control
characters and no other ASCII symbol. Written so that Python's ``re`` and ECMA-262 (the ``u`` flag,
as the web form compiles it) read it the same way."""


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


def _errors(*statuses: int) -> dict[str, dict]:
    text = {
        400: "Malformed request: missing or invalid field, empty file",
        404: "Unknown id",
        413: "Upload larger than the server's limit",
        415: "Not multipart/JSON, or a file that is not PNG, JPEG or DICOM",
        422: "Unreadable or unsuitable image (not_chest_xray carries a reason), or a conflicting value",
    }
    return {str(s): _error(text[s]) for s in statuses}


def _png(description: str) -> dict:
    return {"description": description, "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}}


_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "format": "binary", "description": "PNG, JPEG or DICOM"}},
            }
        }
    },
}

_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _path_id(name: str, what: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": _ID, "description": f"The {what}'s id"}


def _schemas() -> dict[str, Any]:
    metric = {
        "type": "object",
        "properties": {
            "value": {"type": ["number", "null"]},
            "ci_low": {"type": ["number", "null"]},
            "ci_high": {"type": ["number", "null"]},
        },
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["status", "code", "message"],
                    "properties": {
                        "status": {"type": "integer"},
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "reason": {"type": "string", "description": "for not_chest_xray: photograph, document, "
                                   "blank_image, not_radiograph, ct_or_mr, not_chest, lateral_view, "
                                   "out_of_distribution"},
                        "field": {"type": "string"},
                        "request_id": {"type": "string", "description": "on 500: quote it when reporting"},
                    },
                }
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "model_version"],
            "properties": {"status": {"const": "ok"}, "model_version": {"type": "string"},
                           "model_id": {"type": "string"}},
        },
        "Metric": metric,
        "ModelCard": {
            "type": "object",
            "required": ["model_version", "class_names", "threshold", "preprocessing", "figures"],
            "properties": {
                "model_version": {"type": "string"},
                "architecture": _NULLABLE_STR,
                "backbone": _NULLABLE_STR,
                "weights_origin": _NULLABLE_STR,
                "class_names": {"type": "array", "items": {"type": "string"}},
                "threshold": {"type": "number"},
                "threshold_rule": _NULLABLE_STR,
                "preprocessing": {"type": "object"},
                "training_data": {"type": ["object", "null"]},
                "metrics": {"type": "object"},
                "intended_use": {},
                "limitations": {},
                "figures": {"type": "object", "additionalProperties": {"type": "string"}},
                "operating_point": _ref("OperatingPoint"),
                "validation_reports": {"type": "array", "items": _ref("ValidationReport")},
                "subtype_head": {"type": ["object", "null"], "description": "the bacterial-vs-viral head: "
                                 "features, threshold, fitted_on counts, metrics (validation, test, with CIs)"},
            },
        },
        "Subtype": {
            "type": ["object", "null"],
            "description": "for a PNEUMONIA answer of a model with a subtype head, the pattern it looks more "
                           "like (supports, does not replace, clinical judgement); null otherwise",
            "required": ["pattern", "probability", "wording"],
            "properties": {
                "pattern": {"enum": ["bacterial", "viral"]},
                "probability": {"type": "number", "minimum": 0, "maximum": 1},
                "head_test_accuracy": {"type": ["number", "null"]},
                "wording": {"type": "string"},
            },
        },
        "OperatingPoint": {
            "type": "object",
            "required": ["source", "threshold", "label"],
            "description": "Where the decision threshold comes from: the run's validation split, or a site's "
                           "labelled images (`pneumoscan calibrate`, with its provenance)",
            "properties": {
                "source": {"enum": ["validation", "site"]},
                "threshold": {"type": "number"},
                "rule": {"type": ["object", "null"]},
                "label": {"type": "string", "description": "short text shown with every answer"},
                "site": {"type": "string"},
                "n_per_class": {"type": "object", "additionalProperties": {"type": "integer"}},
                "data_fingerprint": {"type": "string"},
                "date": {"type": "string", "format": "date"},
                "original_threshold": {"type": "number"},
                "original_rule": {"type": ["object", "null"]},
                "recalibration": {"enum": ["none", "platt", "isotonic"]},
            },
        },
        "ValidationReport": {
            "type": "object",
            "required": ["source", "n", "answered", "refused", "figures"],
            "description": "Summary of a `pneumoscan validate` report attached to the run",
            "properties": {
                "source": {"type": "string"},
                "n": {"type": "integer"},
                "answered": {"type": "integer"},
                "refused": {"type": "object", "additionalProperties": {"type": "integer"}},
                "pneumonia_called_share": {"type": ["number", "null"]},
                "counts": {"type": ["object", "null"]},
                "threshold": {"type": ["number", "null"]},
                **{k: {"oneOf": [{"type": "null"}, _ref("Metric")]}
                   for k in ("auc", "sensitivity", "specificity", "ppv", "npv", "brier")},
                "null_reasons": {"type": "object", "additionalProperties": {"type": "string"}},
                "created_at": _NULLABLE_STR,
                "figures": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "DicomTags": {
            "type": "object",
            "properties": {
                "patient_name": _NULLABLE_STR,
                "patient_id": _NULLABLE_STR,
                "sex": {"enum": ["female", "male", "other", "unknown"]},
                "birth_date": {"type": ["string", "null"], "format": "date"},
                "study_date": {"type": ["string", "null"], "format": "date"},
                "modality": _NULLABLE_STR,
                "view_position": _NULLABLE_STR,
                "body_part": _NULLABLE_STR,
                "photometric_interpretation": _NULLABLE_STR,
                "bits_stored": {"type": ["integer", "null"]},
                "transfer_syntax": _NULLABLE_STR,
            },
        },
        "Refusal": {
            "type": "object",
            "required": ["reason", "message"],
            "properties": {"reason": {"type": "string"}, "message": {"type": "string"}, "detail": {"type": "object"}},
        },
        "Inspect": {
            "type": "object",
            "required": ["format", "width", "height", "dicom", "preview"],
            "properties": {
                "format": {"enum": ["png", "jpeg", "dicom"]},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "bit_depth": {"type": "integer"},
                "sha256": {"type": "string"},
                "dicom": {"oneOf": [{"type": "null"}, _ref("DicomTags")]},
                "preview": {"type": "string", "description": "data:image/png;base64,..."},
                "refusal": {"oneOf": [{"type": "null"}, _ref("Refusal")]},
            },
        },
        "PredictResult": {
            "type": "object",
            "required": ["label", "probability", "threshold", "model_version"],
            "properties": {
                "label": {"enum": ["NORMAL", "PNEUMONIA"]},
                "probability": {"type": "number", "minimum": 0, "maximum": 1},
                "threshold": {"type": "number"},
                "model_version": {"type": "string"},
                "model_id": {"type": "string"},
                "operating_point": {"type": "string", "description": "which operating point decided (the "
                                    "model card's operating_point.label)"},
                "sha256": {"type": "string"},
                "heatmap": {"type": "string", "description": "data:image/png;base64,... (with ?heatmap=1)"},
                "subtype": _ref("Subtype"),
            },
        },
        "PatientInput": {
            "type": "object",
            "additionalProperties": False,
            "x-age-birth-date-tolerance-years": 1,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "mrn": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": MRN_PATTERN,
                        "description": "letters and digits of any script, spaces and . - _ / (no control "
                        "characters, no other ASCII symbol)"},
                "sex": {"enum": ["female", "male", "other", "unknown"]},
                "birth_date": {"type": ["string", "null"], "format": "date"},
                "age_years": {"type": ["integer", "null"], "minimum": 0, "maximum": 130},
                "referring_doctor": {"type": ["string", "null"], "maxLength": 200},
                "notes": {"type": ["string", "null"], "maxLength": 5000},
            },
        },
        "Patient": {
            "type": "object",
            "required": ["id", "name", "mrn", "sex", "birth_date", "age_years", "referring_doctor", "notes",
                         "created_at"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "mrn": {"type": "string"},
                "sex": {"enum": ["female", "male", "other", "unknown"]},
                "birth_date": {"type": ["string", "null"], "format": "date"},
                "age_years": {"type": ["integer", "null"]},
                "referring_doctor": _NULLABLE_STR,
                "notes": _NULLABLE_STR,
                "created_at": {"type": "string", "format": "date-time"},
                "studies": {"type": "array", "items": _ref("Study")},
            },
        },
        "PatientPage": {
            "type": "object",
            "required": ["items", "total", "page", "per_page"],
            "properties": {
                "items": {"type": "array", "items": _ref("Patient")},
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
            },
        },
        "StoredPrediction": {
            "type": "object",
            "required": ["label", "probability", "threshold", "model_version", "created_at"],
            "properties": {
                "label": {"enum": ["NORMAL", "PNEUMONIA"]},
                "probability": {"type": "number"},
                "threshold": {"type": "number"},
                "model_version": {"type": "string"},
                "model_id": {"type": "string"},
                "operating_point": {"type": ["string", "null"], "description": "the served model's operating "
                                    "point label when the served model made it, else null"},
                "subtype": _ref("Subtype"),
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "Study": {
            "type": "object",
            "required": ["id", "patient_id", "sha256", "original_filename", "format", "dicom_tags", "uploaded_at",
                         "image_url", "heatmap_url", "prediction", "report_url", "report_pdf_url"],
            "properties": {
                "id": {"type": "integer"},
                "patient_id": {"type": ["integer", "null"]},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "original_filename": _NULLABLE_STR,
                "format": {"enum": ["png", "jpeg", "dicom"]},
                "width": {"type": "integer"},
                "height": {"type": "integer"},
                "dicom_tags": {"oneOf": [{"type": "null"}, _ref("DicomTags")]},
                "uploaded_at": {"type": "string", "format": "date-time"},
                "image_url": {"type": "string"},
                "heatmap_url": _NULLABLE_STR,
                "prediction": {"oneOf": [{"type": "null"}, _ref("StoredPrediction")]},
                "report_url": {"type": "string"},
                "report_pdf_url": {"type": "string"},
            },
        },
        "StudyPage": {
            "type": "object",
            "required": ["items", "total", "page", "per_page"],
            "properties": {
                "items": {"type": "array", "items": _ref("Study")},
                "total": {"type": "integer"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
            },
        },
        "Report": {
            "type": "object",
            "required": ["id", "study", "patient", "model", "generated_at", "notice"],
            "properties": {
                "id": {"type": "integer"},
                "study": _ref("Study"),
                "patient": {"oneOf": [{"type": "null"}, _ref("Patient")]},
                "model": {"type": "object", "required": ["model_version"]},
                "generated_at": {"type": "string", "format": "date-time"},
                "notice": {"type": "string"},
                "pdf_url": {"type": "string"},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 description of every ``/api`` endpoint."""
    page_params = [
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100,
                                                      "default": 20}},
    ]
    patient_body = {"required": True, "content": {"application/json": {"schema": _ref("PatientInput")}}}
    create_patient_schema = {"allOf": [_ref("PatientInput"), {"required": ["name", "mrn"]}]}
    paths: dict[str, Any] = {
        "/api/health": {"get": {"summary": "Liveness and the served model version", "operationId": "health",
                                "responses": {"200": _json(_ref("Health"), "Up")}}},
        "/api/model": {"get": {"summary": "The served model's card", "operationId": "modelCard",
                               "responses": {"200": _json(_ref("ModelCard"), "Model card")}}},
        "/api/model/figures/{name}": {
            "get": {
                "summary": "A figure from the run folder (ROC curve, confusion matrix, ...)",
                "operationId": "modelFigure",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+\\.png$"}}],
                "responses": {"200": _png("The figure"), **_errors(404)},
            }
        },
        "/api/model/validation/{source}/{name}": {
            "get": {
                "summary": "A figure of a validation report attached to the run (`pneumoscan validate --attach`)",
                "operationId": "validationFigure",
                "parameters": [{"name": "source", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}},
                               {"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+\\.png$"}}],
                "responses": {"200": _png("The figure"), **_errors(404)},
            }
        },
        "/api/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                      "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")}}},
        "/api/inspect": {
            "post": {
                "summary": "Decode an upload for preview and DICOM prefill (nothing predicted or stored)",
                "operationId": "inspect",
                "requestBody": _UPLOAD_BODY,
                "responses": {"200": _json(_ref("Inspect"), "Decoded"), **_errors(400, 413, 415, 422)},
            }
        },
        "/api/predict": {
            "post": {
                "summary": "Predict one upload; nothing stored",
                "operationId": "predict",
                "parameters": [{"name": "heatmap", "in": "query", "schema": {"enum": ["0", "1"]},
                                "description": "1 adds a Grad-CAM overlay"}],
                "requestBody": _UPLOAD_BODY,
                "responses": {"200": _json(_ref("PredictResult"), "Prediction"), **_errors(400, 413, 415, 422)},
            }
        },
        "/api/patients": {
            "get": {
                "summary": "List or search patients (q matches name or MRN), newest first",
                "operationId": "listPatients",
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}, *page_params],
                "responses": {"200": _json(_ref("PatientPage"), "A page of patients"), **_errors(400)},
            },
            "post": {
                "summary": "Create a patient",
                "operationId": "createPatient",
                "requestBody": {"required": True, "content": {"application/json": {"schema": create_patient_schema}}},
                "responses": {"201": _json(_ref("Patient"), "Created"), **_errors(400, 415, 422)},
            },
        },
        "/api/patients/{patient_id}": {
            "parameters": [_path_id("patient_id", "patient")],
            "get": {"summary": "A patient with their studies", "operationId": "readPatient",
                    "responses": {"200": _json(_ref("Patient"), "The patient"), **_errors(404)}},
            "patch": {"summary": "Change some of a patient's fields", "operationId": "updatePatient",
                      "requestBody": patient_body,
                      "responses": {"200": _json(_ref("Patient"), "Updated"), **_errors(400, 404, 415, 422)}},
            "put": {"summary": "Replace a patient's fields", "operationId": "replacePatient",
                    "requestBody": {"required": True,
                                    "content": {"application/json": {"schema": create_patient_schema}}},
                    "responses": {"200": _json(_ref("Patient"), "Replaced"), **_errors(400, 404, 415, 422)}},
            "delete": {"summary": "Delete a patient who has no studies", "operationId": "deletePatient",
                       "responses": {"204": {"description": "Deleted"}, **_errors(404, 422)}},
        },
        "/api/studies": {
            "get": {
                "summary": "List studies, newest first (optionally one patient's)",
                "operationId": "listStudies",
                "parameters": [{"name": "patient_id", "in": "query",
                                "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}},
                               *page_params],
                "responses": {"200": _json(_ref("StudyPage"), "A page of studies"), **_errors(400)},
            },
            "post": {
                "summary": "Upload an X-ray: decode, refuse or predict, store",
                "operationId": "createStudy",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": {
                        "type": "object",
                        "required": ["image"],
                        "properties": {"image": {"type": "string", "format": "binary"},
                                       "patient_id": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}},
                    }}},
                },
                "responses": {"201": _json(_ref("Study"), "Stored"), **_errors(400, 404, 413, 415, 422)},
            },
        },
        "/api/studies/{study_id}": {
            "parameters": [_path_id("study_id", "study")],
            "get": {"summary": "A study with its latest prediction", "operationId": "readStudy",
                    "responses": {"200": _json(_ref("Study"), "The study"), **_errors(404)}},
            "patch": {
                "summary": "Assign the study to a patient, or detach it",
                "operationId": "updateStudy",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["patient_id"], "additionalProperties": False,
                    "properties": {"patient_id": {"type": ["integer", "null"], "minimum": 1, "maximum": 2**31 - 1}}}}}},
                "responses": {"200": _json(_ref("Study"), "Updated"), **_errors(400, 404, 415)},
            },
        },
        "/api/studies/{study_id}/image": {
            "parameters": [_path_id("study_id", "study")],
            "get": {"summary": "The decoded X-ray as PNG", "operationId": "studyImage",
                    "responses": {"200": _png("The X-ray"), **_errors(404)}},
        },
        "/api/studies/{study_id}/original": {
            "parameters": [_path_id("study_id", "study")],
            "get": {"summary": "The uploaded file, byte for byte", "operationId": "studyOriginal",
                    "responses": {"200": {"description": "The original file",
                                          "content": {media: {"schema": {"type": "string", "format": "binary"}}
                                                      for media in ("image/png", "image/jpeg", "application/dicom")}},
                                  **_errors(404)}},
        },
        "/api/studies/{study_id}/heatmap": {
            "parameters": [_path_id("study_id", "study")],
            "get": {"summary": "The Grad-CAM overlay as PNG", "operationId": "studyHeatmap",
                    "responses": {"200": _png("The heatmap overlay"), **_errors(404)}},
        },
        "/api/reports/{study_id}": {
            "parameters": [_path_id("study_id", "study")],
            "get": {"summary": "The study's report as JSON", "operationId": "readReport",
                    "responses": {"200": _json(_ref("Report"), "The report"), **_errors(404)}},
        },
        "/api/reports/{study_id}.pdf": {
            "parameters": [_path_id("study_id", "study")],
            "get": {"summary": "The study's report as PDF", "operationId": "readReportPdf",
                    "responses": {"200": {"description": "The PDF", "content": {"application/pdf": {"schema": {
                        "type": "string", "format": "binary"}}}}, **_errors(404)}},
        },
    }
    from pneumoscan.api.hospital.openapi import add_hospital
    from pneumoscan.api.openapi_auth import add_accounts

    return add_accounts(add_hospital({
        "openapi": "3.1.0",
        "info": {
            "title": "PneumoScan API",
            "version": __version__,
            "description": "Chest X-ray pneumonia screening support. Results support and do not replace a "
            "clinician's diagnosis. Errors: {\"error\": {\"status\", \"code\", \"message\"}}.",
        },
        "paths": paths,
        "components": {"schemas": _schemas()},
    }))
