"""APIFlask's settings for this API: one error shape, strict JSON bodies, and the generated OpenAPI document.

- Validation errors from the views' ``@bp.input`` schemas answer 400 with the API's error body:
  ``missing_field`` (a required field absent or blank) or ``invalid_field``, naming the ``field``.
- JSON request bodies are read by ``uploads.json_body`` (415 when not JSON, strict parsing, an object).
- The OpenAPI document (``GET /api/openapi.json``) is generated from the views' declarations; this
  module adds only what is not an endpoint's own: the description, the security schemes and the
  ``PatientInput`` extension the web form reads.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError, _ValidationError
from apiflask.schema_adapters.marshmallow import parser
from flask import current_app, request

from pneumoscan.api.errors import error_response
from pneumoscan.api.schemas import MAX_ID, PATIENT_INPUT_EXTENSIONS, ErrorSchema, Text

DESCRIPTION = (
    "Chest X-ray pneumonia screening support. Results support and do not replace a clinician's diagnosis. "
    'Errors: {"error": {"status", "code", "message"}}. This document is generated from the endpoints\' '
    "declarations (docs/api.md has the prose)."
)

SECURITY_SCHEMES = {
    "session": {"type": "apiKey", "in": "cookie", "name": "pneumoscan_session",
                "description": "From POST /api/auth/login; state-changing requests also send X-CSRF-Token"},
    "token": {"type": "http", "scheme": "bearer", "description": "A personal API token (psk_...)"},
}


@parser.location_loader("json")
def _strict_json(req: Any, schema: Any) -> dict[str, Any]:
    """Every ``location="json"`` input reads the body through the API's strict JSON edge."""
    from pneumoscan.api.uploads import json_body

    meta = getattr(schema, "Meta", None)
    if getattr(meta, "optional_body", False) and not req.content_length:
        return {}
    return json_body()


def schema_name(schema: Any) -> str:
    """Component name of a schema: the class name without its ``Schema`` suffix."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    return name[: -len("Schema")] if name.endswith("Schema") and len(name) > 6 else name


def _body_schema() -> Any:
    view = current_app.view_functions.get(request.endpoint or "")
    method_spec = getattr(view, "_method_spec", None)
    spec = method_spec.get(request.method, {}) if method_spec else getattr(view, "_spec", {})
    return spec.get("body")


def _is_missing(field: str) -> bool:
    """A field of the JSON body that must hold a value and was absent, null or blank."""
    declared = getattr(_body_schema(), "fields", {}).get(field)
    if declared is None:
        return False
    body = request.get_json(silent=True) or {}
    value = body.get(field) if isinstance(body, dict) else None
    if value is None:
        return bool(declared.required or not declared.allow_none)
    return isinstance(declared, Text) and declared.nonblank and isinstance(value, str) and not value.strip()


def _first_message(messages: Any) -> str:
    while isinstance(messages, dict | list) and messages:
        messages = next(iter(messages.values())) if isinstance(messages, dict) else messages[0]
    return str(messages)


def error_processor(error: HTTPError):
    """APIFlask's errors in the API's shape; a validation error names its first field."""
    if isinstance(error, _ValidationError):
        for location, problems in (error.detail or {}).items():
            for name, messages in problems.items():
                field = None if name == "_schema" else str(name)
                code = "missing_field" if location == "json" and field and _is_missing(field) else "invalid_field"
                return error_response(error.status_code, code, _first_message(messages), field=field)
    extra = dict(error.extra_data or {})
    code = extra.pop("code", "bad_request")
    response = error_response(error.status_code, code, error.message or "The request was refused.", **extra)
    response.headers.update(error.headers or {})
    return response


def _path_parameters(app: APIFlask, spec: dict[str, Any]) -> None:
    """Path parameters are required; ``<id:...>`` ones are row ids (1..2**31-1)."""
    from pneumoscan.api.declare import openapi_path
    from pneumoscan.api.views import IdConverter

    ids: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        path = openapi_path(rule.rule)
        ids |= {(path, name) for name, conv in rule._converters.items() if isinstance(conv, IdConverter)}  # noqa: SLF001
    for path, operations in spec.get("paths", {}).items():
        for op in operations.values():
            for param in op.get("parameters", []) if isinstance(op, dict) else []:
                if param.get("in") != "path":
                    continue
                param["required"] = True
                if (path, param["name"]) in ids:
                    param["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}


def _merge_duplicate_components(spec: dict[str, Any]) -> None:
    """``User1`` -> ``User``: apispec registers a schema used both nested and on its own twice."""
    schemas = spec.get("components", {}).get("schemas", {})
    renames = {}
    for name in list(schemas):
        match = re.fullmatch(r"(.*\D)\d+", name)
        if match and schemas.get(match.group(1)) == schemas[name]:
            renames[f"#/components/schemas/{name}"] = f"#/components/schemas/{match.group(1)}"
            del schemas[name]
    if renames:
        def fix(node: Any) -> None:
            if isinstance(node, dict):
                if node.get("$ref") in renames:
                    node["$ref"] = renames[node["$ref"]]
                for child in node.values():
                    fix(child)
            elif isinstance(node, list):
                for child in node:
                    fix(child)

        fix(spec)


def _required_bodies(app: APIFlask, spec: dict[str, Any]) -> None:
    """A request body is required unless its schema says ``Meta.optional_body``."""
    optional = set()
    for view in app.view_functions.values():
        specs = list(getattr(view, "_method_spec", {}).values()) or [getattr(view, "_spec", {})]
        for one in specs:
            body = one.get("body")
            if body is not None and getattr(getattr(body, "Meta", None), "optional_body", False):
                optional.add(one.get("operation_id"))
    for operations in spec.get("paths", {}).values():
        for op in operations.values():
            if isinstance(op, dict) and "requestBody" in op:
                op["requestBody"]["required"] = op.get("operationId") not in optional


def configure_openapi(app: APIFlask) -> None:
    """Settings, the error processor and the spec processor of the PneumoScan API."""
    app.config.update(
        VALIDATION_ERROR_STATUS_CODE=400,
        VALIDATION_ERROR_DESCRIPTION="Missing or invalid field (the error names it)",
        VALIDATION_ERROR_SCHEMA=ErrorSchema,
        HTTP_ERROR_SCHEMA=ErrorSchema,
        NOT_FOUND_DESCRIPTION="Unknown id",
        DESCRIPTION=DESCRIPTION,
        SECURITY_SCHEMES=SECURITY_SCHEMES,
        AUTO_AUTH_ERROR_RESPONSE=False,
    )
    app.schema_name_resolver = schema_name
    # A schema used both on its own and nested is registered twice by APIFlask and apispec (which warns);
    # _merge_duplicate_components folds the copy back, so the warning says nothing to act on.
    warnings.filterwarnings("ignore", message=r".* has already been added to the spec", category=UserWarning,
                            module=r"apispec\.ext\.marshmallow")
    app.error_processor(error_processor)

    @app.spec_processor
    def _finish(spec: dict[str, Any]) -> dict[str, Any]:
        schemas = spec.get("components", {}).get("schemas", {})
        for name in ("PatientInput", "PatientCreate"):
            if name in schemas:
                schemas[name].update(PATIENT_INPUT_EXTENSIONS)
        spec["security"] = [{"session": []}, {"token": []}]
        _path_parameters(app, spec)
        _merge_duplicate_components(spec)
        _required_bodies(app, spec)
        from pneumoscan.api.declare import document_access

        document_access(app, spec)
        return spec
