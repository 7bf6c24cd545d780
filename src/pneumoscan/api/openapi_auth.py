"""The accounts part of the OpenAPI document: ``/api/auth/...``, ``/api/admin/...``, the security
schemes, and the 401/403 answers of every endpoint that needs an account."""

from __future__ import annotations

from typing import Any

_OPEN = {"/api/health", "/api/model", "/api/model/figures/{name}", "/api/openapi.json", "/api/auth/login"}
_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _err(description: str) -> dict:
    return _json(_ref("Error"), description)


def _errors(*statuses: int) -> dict[str, dict]:
    text = {400: "Missing or invalid field", 401: "Not signed in, or the credentials are no longer valid",
            403: "The role lacks the right, the account is disabled, or the CSRF token is missing",
            404: "Unknown id", 409: "Conflicts with existing users", 415: "Not JSON",
            429: "Too many failed sign-ins: wait (Retry-After)"}
    return {str(s): _err(text[s]) for s in statuses}


def _body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _schemas() -> dict[str, Any]:
    ts = {"type": ["string", "null"], "format": "date-time"}
    return {
        "User": {"type": "object", "required": ["id", "username", "role", "disabled"], "properties": {
            "id": {"type": "integer"}, "username": {"type": "string"}, "role": {"enum": ["clinician", "admin"]},
            "disabled": {"type": "boolean"}, "locked_until": ts, "created_at": ts}},
        "Me": {"type": "object", "required": ["user"], "properties": {
            "user": _ref("User"), "via": {"enum": ["session", "token"]}, "csrf_token": {"type": "string"},
            "expires_at": ts}},
        "SignedIn": {"type": "object", "required": ["user", "csrf_token"], "properties": {
            "user": _ref("User"), "csrf_token": {"type": "string"}, "expires_at": ts}},
        "ApiToken": {"type": "object", "required": ["id", "name", "prefix"], "properties": {
            "id": {"type": "integer"}, "name": {"type": "string"}, "prefix": {"type": "string"},
            "created_at": ts, "last_used_at": ts, "revoked_at": ts, "expires_at": ts,
            "token": {"type": "string", "description": "only in the answer that creates it"}}},
        "UserWithPassword": {"type": "object", "required": ["user"], "properties": {
            "user": _ref("User"), "password": {"type": ["string", "null"],
                                               "description": "the generated password, shown once"}}},
        "AuditEntry": {"type": "object", "required": ["id", "at", "action", "outcome"], "properties": {
            "id": {"type": "integer"}, "at": {"type": "string"}, "user_id": {"type": ["integer", "null"]},
            "username": {"type": ["string", "null"]}, "action": {"type": "string"},
            "object_type": {"type": ["string", "null"]}, "object_id": {"type": ["integer", "null"]},
            "patient_id": {"type": ["integer", "null"]}, "outcome": {"enum": ["success", "failure", "denied"]},
            "status": {"type": ["integer", "null"]}, "client_address": {"type": ["string", "null"]},
            "request_id": {"type": ["string", "null"]}, "detail": {"type": ["string", "null"]}}},
    }


def _paths() -> dict[str, Any]:
    user_id = {"name": "user_id", "in": "path", "required": True, "schema": _ID}
    return {
        "/api/auth/login": {"post": {
            "summary": "Sign in: sets the HttpOnly session cookie and returns the CSRF token",
            "operationId": "login", "security": [],
            "requestBody": _body({"type": "object", "required": ["username", "password"], "properties": {
                "username": {"type": "string"}, "password": {"type": "string"}}}),
            "responses": {"200": _json(_ref("SignedIn"), "Signed in"), **_errors(400, 401, 403, 415, 429)}}},
        "/api/auth/logout": {"post": {
            "summary": "Sign out: ends the session on the server", "operationId": "logout",
            "responses": {"200": _json({"type": "object"}, "Signed out"), **_errors(401, 403)}}},
        "/api/auth/me": {"get": {"summary": "The signed-in user (and the session's CSRF token)", "operationId": "me",
                                 "responses": {"200": _json(_ref("Me"), "You"), **_errors(401)}}},
        "/api/auth/tokens": {
            "get": {"summary": "Your API tokens (never the secret)", "operationId": "listTokens",
                    "responses": {"200": _json({"type": "object", "properties": {
                        "items": {"type": "array", "items": _ref("ApiToken")}}}, "Tokens"), **_errors(401)}},
            "post": {"summary": "Create an API token; the answer holds the token, shown once",
                     "operationId": "createToken",
                     "requestBody": _body({"type": "object", "required": ["name"], "properties": {
                         "name": {"type": "string"},
                         "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 730,
                                             "description": "lifetime (default 90 days)"}}}),
                     "responses": {"201": _json(_ref("ApiToken"), "Created"), **_errors(400, 401, 403, 415)}}},
        "/api/auth/tokens/{token_id}": {"delete": {
            "summary": "Revoke one of your API tokens", "operationId": "revokeToken",
            "parameters": [{"name": "token_id", "in": "path", "required": True, "schema": _ID}],
            "responses": {"204": {"description": "Revoked"}, **_errors(401, 403, 404)}}},
        "/api/admin/users": {
            "get": {"summary": "Every user (admin)", "operationId": "listUsers",
                    "responses": {"200": _json({"type": "object", "properties": {
                        "items": {"type": "array", "items": _ref("User")}}}, "Users"), **_errors(401, 403)}},
            "post": {"summary": "Create a user (admin); a generated password is returned once",
                     "operationId": "createUser",
                     "requestBody": _body({"type": "object", "required": ["username"], "properties": {
                         "username": {"type": "string"}, "role": {"enum": ["clinician", "admin"]},
                         "password": {"type": "string"}}}),
                     "responses": {"201": _json(_ref("UserWithPassword"), "Created"),
                                   **_errors(400, 401, 403, 409, 415)}}},
        "/api/admin/users/{user_id}": {"patch": {
            "summary": "Disable/enable a user or change the role (admin)", "operationId": "updateUser",
            "parameters": [user_id],
            "requestBody": _body({"type": "object", "properties": {
                "disabled": {"type": "boolean"}, "role": {"enum": ["clinician", "admin"]}}}),
            "responses": {"200": _json(_ref("User"), "Updated"), **_errors(400, 401, 403, 404, 409, 415)}}},
        "/api/admin/users/{user_id}/reset-password": {"post": {
            "summary": "Give a user a new password (generated unless sent); ends their sessions (admin)",
            "operationId": "resetPassword", "parameters": [user_id],
            "requestBody": _body({"type": "object", "properties": {"password": {"type": "string"}}}, required=False),
            "responses": {"200": _json(_ref("UserWithPassword"), "Reset"), **_errors(400, 401, 403, 404, 415)}}},
        "/api/admin/users/{user_id}/unlock": {"post": {
            "summary": "Lift a lock left by failed sign-ins (admin)", "operationId": "unlockUser",
            "parameters": [user_id],
            "responses": {"200": _json(_ref("User"), "Unlocked"), **_errors(401, 403, 404)}}},
        "/api/admin/users/{user_id}/tokens": {"get": {
            "summary": "A user's API tokens, newest first, never the secret (admin)", "operationId": "listUserTokens",
            "parameters": [user_id],
            "responses": {"200": _json({"type": "object", "properties": {
                "items": {"type": "array", "items": _ref("ApiToken")}}}, "Tokens"), **_errors(401, 403, 404)}}},
        "/api/admin/users/{user_id}/tokens/{token_id}": {"delete": {
            "summary": "Revoke one of a user's API tokens (admin)", "operationId": "revokeUserToken",
            "parameters": [user_id, {"name": "token_id", "in": "path", "required": True, "schema": _ID}],
            "responses": {"204": {"description": "Revoked"}, **_errors(401, 403, 404)}}},
        "/api/admin/audit": {"get": {
            "summary": "The audit log, newest first, filterable by user, patient, action and date (admin)",
            "operationId": "auditLog",
            "parameters": [
                {"name": "user", "in": "query", "schema": {"type": "string"}},
                {"name": "patient_id", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                                 "maximum": 2**31 - 1}},
                {"name": "action", "in": "query", "schema": {"type": "string"}},
                {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "until", "in": "query", "schema": {"type": "string", "format": "date"}},
                {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
            ],
            "responses": {"200": _json({"type": "object", "properties": {
                "items": {"type": "array", "items": _ref("AuditEntry")}, "total": {"type": "integer"}}},
                "A page of audit entries"), **_errors(400, 401, 403)}}},
    }


def add_accounts(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the account endpoints, the security schemes and every protected operation's 401/403."""
    doc["paths"].update(_paths())
    doc["components"]["schemas"].update(_schemas())
    doc["components"]["securitySchemes"] = {
        "session": {"type": "apiKey", "in": "cookie", "name": "pneumoscan_session",
                    "description": "From POST /api/auth/login; state-changing requests also send X-CSRF-Token"},
        "token": {"type": "http", "scheme": "bearer", "description": "A personal API token (psk_...)"},
    }
    doc["security"] = [{"session": []}, {"token": []}]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if path in _OPEN:
                op.setdefault("security", [])
                continue
            op["responses"].setdefault("401", _err("Not signed in, or the credentials are no longer valid"))
            op["responses"].setdefault("403", _err("The role lacks the right, or the CSRF token is missing"))
    return doc
