"""What a view declares besides its schemas: who may call it (``@access("clinician")``) and the audit
action it performs (``@audited("view", "patient", "patient_id")``).

Levels: ``public``; ``predict`` (open unless ``PNEUMOSCAN_PREDICT_REQUIRES_LOGIN=1``); ``user`` (any
signed-in account); ``clinician``; ``admin`` (roles are ranked: an admin may do what a clinician may).
``register_blueprints`` builds the app's table from the declarations once the views are registered
(``access_table``); a URL rule whose view declares nothing is refused (403 ``no_access_rule``): closed
by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask

LEVELS = ("public", "predict", "user", "clinician", "admin")
EXTENSION = "pneumoscan.access_table"
AUDIT_EXTENSION = "pneumoscan.audit_table"

F = TypeVar("F", bound=Callable[..., Any])


def access(level: str) -> Callable[[F], F]:
    """Declare who may call the view (one of ``LEVELS``); put it under the route decorator."""
    if level not in LEVELS:
        raise ValueError(f"Unknown access level {level!r}. Only {', '.join(LEVELS)} are supported.")

    def decorate(view: F) -> F:
        view.access = level  # type: ignore[attr-defined]
        return view

    return decorate


def declared(app: Flask, attribute: str) -> dict[str, Any]:
    """Endpoint -> what its view declares as ``attribute`` (a function's, or a ``MethodView`` class's);
    endpoints that declare nothing are left out."""
    table = {}
    for endpoint, view in app.view_functions.items():
        value = getattr(view, attribute, None) or getattr(getattr(view, "view_class", None), attribute, None)
        if value is not None:
            table[endpoint] = value
    return table


def access_table(app: Flask) -> dict[str, str]:
    """Endpoint -> access level, from the views' ``@access`` declarations."""
    return declared(app, "access")


def rules(app: Flask) -> dict[str, str]:
    """The app's table (built by ``register_blueprints``; rebuilt here if it was dropped)."""
    table = app.extensions.get(EXTENSION)
    if table is None:
        table = app.extensions[EXTENSION] = access_table(app)
    return table


def openapi_path(rule: str) -> str:
    """A Flask URL rule written as an OpenAPI path: ``/api/patients/<id:patient_id>`` -> ``.../{patient_id}``."""
    return re.sub(r"<(?:[^<:>]+:)?([^<>]+)>", r"{\1}", rule)


def document_access(app: Flask, spec: dict[str, Any]) -> None:
    """Add each operation's security and its 401/403 answers to the generated document."""
    table = access_table(app)
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    by_operation: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        path = openapi_path(rule.rule)
        for method in rule.methods or ():
            by_operation[(path, method.lower())] = table.get(rule.endpoint, "closed")
    for path, operations in spec.get("paths", {}).items():
        for method, op in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            level = by_operation.get((path, method), "closed")
            op["x-access"] = level
            if level == "public":
                op["security"] = []
                continue
            if level == "predict":
                op["security"] = [{}, {"session": []}, {"token": []}]
                continue
            op["responses"].setdefault("401", {"description": "Not signed in, or the credentials are no longer "
                                               "valid", "content": error})
            op["responses"].setdefault("403", {"description": "The role lacks the right, the account is disabled, "
                                               "or the CSRF token is missing", "content": error})


@dataclass(frozen=True)
class Audited:
    """What an endpoint does to patient data (or to an upload on the open image endpoints), for its
    audit row: ``action`` (``view``, ``create``, ``download`` ...), the ``object_type`` it acts on, and
    the URL argument holding the object's id (``id_arg``), and a ``detail`` for the row (formatted with
    the URL arguments, e.g. ``"dicom-{kind}"``)."""

    action: str
    object_type: str
    id_arg: str | None = None
    detail: str | None = None


def audited(action: str, object_type: str, id_arg: str | None = None, detail: str | None = None
            ) -> Callable[[F], F]:
    """Declare the view's audit action; the view records it with ``access.record`` in its own transaction,
    and an action that fails (or records nothing) gets its row afterwards with the status it answered."""

    def decorate(view: F) -> F:
        view.audited = Audited(action, object_type, id_arg, detail)  # type: ignore[attr-defined]
        return view

    return decorate


def audit_table(app: Flask) -> dict[str, Audited]:
    """Endpoint -> its ``@audited`` declaration."""
    return declared(app, "audited")


def audit_of(app: Flask, endpoint: str | None) -> Audited | None:
    """The declared audit action of ``endpoint`` (from the views, looked up once per app)."""
    table = app.extensions.get(AUDIT_EXTENSION)
    if table is None:
        table = app.extensions[AUDIT_EXTENSION] = audit_table(app)
    return table.get(endpoint or "")
