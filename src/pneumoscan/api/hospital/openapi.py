"""The hospital part of the OpenAPI document: DICOM and FHIR results, the worklist, mark as read.

``POST /dicomweb/studies`` (STOW-RS) is not listed: it follows DICOM PS3.18, not this API's JSON
conventions (docs/api.md describes it).
"""

from __future__ import annotations

from typing import Any

_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_PATH_ID = {"name": "study_id", "in": "path", "required": True, "schema": _ID, "description": "The study's id"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _err(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _paths() -> dict[str, Any]:
    dicom = {"description": "A DICOM Part 10 file",
             "content": {"application/dicom": {"schema": {"type": "string", "format": "binary"}}}}
    return {
        "/api/studies/{study_id}/dicom/{kind}": {
            "parameters": [_PATH_ID, {"name": "kind", "in": "path", "required": True,
                                      "schema": {"enum": ["sr", "heatmap", "pdf"]},
                                      "description": "sr: TID 1500 Comprehensive 3D SR; heatmap: Secondary "
                                      "Capture of the Grad-CAM overlay; pdf: Encapsulated PDF report"}],
            "get": {"summary": "The study's result as a DICOM object", "operationId": "studyDicom",
                    "responses": {"200": dicom,
                                  "404": _err("Unknown study, or it has no prediction (refused) or no heatmap")}},
        },
        "/api/studies/{study_id}/fhir": {
            "parameters": [_PATH_ID],
            "get": {"summary": "The study's result as a FHIR R4 Bundle (DiagnosticReport, Observation, Device, "
                    "Patient)", "operationId": "studyFhir",
                    "responses": {"200": {"description": "A FHIR Bundle", "content": {
                        "application/fhir+json": {"schema": {"type": "object", "required": ["resourceType"]}}}},
                        "404": _err("Unknown study, or it has no prediction (refused)")}},
        },
        "/api/studies/{study_id}/read": {
            "parameters": [_PATH_ID],
            "post": {"summary": "Mark the study as read (the audit log records who)", "operationId": "markRead",
                     "responses": {"200": {"description": "The study", "content": {
                         "application/json": {"schema": _ref("Study")}}}, "404": _err("Unknown study")}},
        },
        "/api/worklist": {
            "get": {
                "summary": "Studies by urgency: unread first, then by probability above the threshold; refusals "
                "flagged apart",
                "operationId": "worklist",
                "parameters": [
                    {"name": "date", "in": "query", "schema": {"type": "string"},
                     "description": "A day as YYYY-MM-DD (UTC) or 'all' (default)"},
                    {"name": "result", "in": "query", "schema": {"enum": ["all", "pneumonia", "normal", "refused"]}},
                    {"name": "read", "in": "query", "schema": {"enum": ["all", "unread", "read"]}},
                ],
                "responses": {"200": {"description": "The worklist", "content": {
                    "application/json": {"schema": _ref("Worklist")}}}, "400": _err("Invalid filter")},
            }
        },
    }


def _schemas() -> dict[str, Any]:
    send = {"type": ["object", "null"], "properties": {
        "status": {"enum": ["pending", "sent"]}, "destination": {"type": "string"},
        "objects": {"type": "object", "additionalProperties": {"enum": ["pending", "sent"]}},
        "attempts": {"type": "integer"}, "last_error": {"type": ["string", "null"]}}}
    item = {"allOf": [_ref("Study"), {"type": "object", "required": ["urgency", "margin", "dicom_send", "patient"],
                                      "properties": {
        "urgency": {"enum": ["above_threshold", "below_threshold", "refused"]},
        "margin": {"type": ["number", "null"], "description": "probability - threshold (null: refused)"},
        "dicom_send": send,
        "patient": {"type": ["object", "null"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "mrn": {"type": "string"}}},
    }}]}
    return {"Worklist": {"type": "object", "required": ["items", "total"], "properties": {
        "items": {"type": "array", "items": item}, "total": {"type": "integer"},
        "date": {"type": ["string", "null"]}, "result": {"type": "string"}, "read": {"type": "string"},
        "generated_at": {"type": "string", "format": "date-time"}}}}


STUDY_FIELDS: dict[str, Any] = {
    "source": {"enum": ["upload", "dicom", "stow"], "description": "how the image arrived"},
    "refusal": {"type": ["object", "null"], "description": "a DICOM image the model refused (stored, no prediction)",
                "properties": {"reason": {"type": "string"}, "message": {"type": ["string", "null"]}}},
    "read_at": {"type": ["string", "null"], "format": "date-time"},
    "read_by": {"type": ["string", "null"]},
}


def add_hospital(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the hospital endpoints and the study's DICOM-intake fields to ``doc``."""
    doc["paths"].update(_paths())
    schemas = doc["components"]["schemas"]
    schemas.update(_schemas())
    schemas["Study"]["properties"].update(STUDY_FIELDS)
    return doc
