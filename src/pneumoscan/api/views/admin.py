"""Administration (admin role): users (create, change role, disable/enable, reset password, unlock), their
API tokens (list, revoke) and the audit log, filterable by user, patient, action and date."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint
from flask import jsonify
from sqlalchemy import func, select

from pneumoscan.api.access import add_audit, audit_row, write_audit
from pneumoscan.api.accounts import AccountError, create_user, set_disabled, set_password, set_role
from pneumoscan.api.accounts import unlock as unlock_account
from pneumoscan.api.declare import access
from pneumoscan.api.errors import ApiError
from pneumoscan.api.orm import ApiToken, AuditEntry, User, utcnow
from pneumoscan.api.schemas import (
    ApiTokenListSchema,
    AuditPageSchema,
    AuditQuerySchema,
    PasswordResetSchema,
    UserCreateSchema,
    UserListSchema,
    UserPatchSchema,
    UserSchema,
    UserWithPasswordSchema,
)
from pneumoscan.api.services import services
from pneumoscan.api.storage import iso
from pneumoscan.api.views.auth import token_json, user_json

bp = APIBlueprint("admin", __name__, url_prefix="/api/admin", tag="Administration")


def _user(session, user_id: int, action: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        write_audit(audit_row(action, object_type="user", object_id=user_id, outcome="failure", status=404))
        raise ApiError(404, "not_found", f"User {user_id} does not exist. List users at /api/admin/users.")
    return user


def _refuse(action: str, user_id: int | None, exc: AccountError):
    """The refusal's audit row and its ``ApiError``, with the status that the error's code carries."""
    write_audit(audit_row(action, object_type="user", object_id=user_id, outcome="failure", status=exc.status,
                          detail=str(exc)[:200]))
    return ApiError(exc.status, "invalid_field" if exc.status == 400 else "conflict", str(exc), field=exc.field)


@bp.get("/users")
@access("admin")
@bp.output(UserListSchema, description="Users")
@bp.doc(operation_id="listUsers")
def list_users():
    """Every user (admin)"""
    with services().db.session() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
        return jsonify({"items": [user_json(u) for u in users]})


@bp.post("/users", endpoint="create_user")
@access("admin")
@bp.input(UserCreateSchema, arg_name="body", validation=False)
@bp.output(UserWithPasswordSchema, status_code=201, description="Created")
@bp.doc(operation_id="createUser", responses={409: "The username is taken", 415: "Not JSON"})
def create_user_view(body: dict[str, Any]):
    """Create a user (admin); a generated password is returned once

    The fields are checked by ``accounts.create_user``; a refusal is audited.
    """
    unknown = sorted(set(body) - {"username", "role", "password"})
    if unknown:
        raise ApiError(400, "invalid_field", f"Unknown field(s) {', '.join(unknown)}; send username, role and "
                       "optionally password.", field=unknown[0])
    with services().db.session() as session:
        try:
            user, generated = create_user(session, body.get("username"), body.get("role", "clinician"),
                                          body.get("password"))
        except AccountError as exc:
            raise _refuse("create", None, exc) from None
        add_audit(session, audit_row("create", object_type="user", object_id=user.id, status=201,
                                     detail=f"role {user.role}"))
        out = {"user": user_json(user), "password": generated}
    response = jsonify(out)
    response.status_code = 201
    return response


@bp.patch("/users/<id:user_id>")
@access("admin")
@bp.input(UserPatchSchema, arg_name="body", validation=False)
@bp.output(UserSchema, description="Updated")
@bp.doc(operation_id="updateUser", responses={409: "The only enabled admin", 415: "Not JSON"})
def update_user(user_id: int, body: dict[str, Any]):
    """Disable/enable a user or change the role (admin)

    Checked here and by ``accounts``, so that every refusal is audited.
    """
    unknown = sorted(set(body) - {"disabled", "role"})
    if unknown or not body:
        raise ApiError(400, "invalid_field", "Send {\"disabled\": true|false} and/or {\"role\": \"clinician\"|"
                       "\"admin\"}.", field=(unknown or ["disabled"])[0])
    if "disabled" in body and not isinstance(body["disabled"], bool):
        raise ApiError(400, "invalid_field", "'disabled' must be true or false.", field="disabled")
    with services().db.session() as session:
        user = _user(session, user_id, "update")
        changes = []
        try:
            if "role" in body and body["role"] != user.role:
                changes.append(f"role {set_role(session, user, body['role'])}")
            if "disabled" in body and body["disabled"] != user.disabled:
                set_disabled(session, user, body["disabled"])
                changes.append("disabled" if body["disabled"] else "enabled")
        except AccountError as exc:
            session.rollback()
            raise _refuse("update", user_id, exc) from None
        action = "disable" if "disabled" in changes else "enable" if "enabled" in changes else "update"
        add_audit(session, audit_row(action, object_type="user", object_id=user.id, status=200,
                                     detail=", ".join(changes) or "no change"))
        out = user_json(user)
    return jsonify(out)


@bp.post("/users/<id:user_id>/reset-password")
@access("admin")
@bp.input(PasswordResetSchema, arg_name="body", validation=False)
@bp.output(UserWithPasswordSchema, description="Reset")
@bp.doc(operation_id="resetPassword", responses={415: "Not JSON"})
def reset_password(user_id: int, body: dict[str, Any]):
    """Give a user a new password (generated unless sent); ends their sessions (admin)"""
    with services().db.session() as session:
        user = _user(session, user_id, "reset_password")
        try:
            generated = set_password(session, user, body.get("password"))
        except AccountError as exc:
            raise _refuse("reset_password", user_id, exc) from None
        add_audit(session, audit_row("reset_password", object_type="user", object_id=user.id, status=200))
        out = {"user": user_json(user), "password": generated}
    return jsonify(out)


@bp.post("/users/<id:user_id>/unlock")
@access("admin")
@bp.output(UserSchema, description="Unlocked")
@bp.doc(operation_id="unlockUser")
def unlock_user(user_id: int):
    """Lift a lock left by failed sign-ins (admin)

    Forgets the user's failed sign-ins, so that no slow-down is left for them from any address.
    """
    with services().db.session() as session:
        user = _user(session, user_id, "unlock")
        forgiven = unlock_account(session, user)
        add_audit(session, audit_row("unlock", object_type="user", object_id=user.id, status=200,
                              detail=f"{forgiven} failed sign-ins forgotten"))
        out = user_json(user)
    return jsonify(out)


@bp.get("/users/<id:user_id>/tokens")
@access("admin")
@bp.output(ApiTokenListSchema, description="Tokens")
@bp.doc(operation_id="listUserTokens")
def list_user_tokens(user_id: int):
    """A user's API tokens, newest first, never the secret (admin)"""
    with services().db.session() as session:
        user = _user(session, user_id, "view")
        rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))
        items = [token_json(t) for t in rows]
        add_audit(session, audit_row("view", object_type="api_token", object_id=None, status=200,
                              detail=f"tokens of user {user.id}"))
    return jsonify({"items": items})


@bp.delete("/users/<id:user_id>/tokens/<id:token_id>")
@access("admin")
@bp.doc(operation_id="revokeUserToken", responses={204: "Revoked"})
def revoke_user_token(user_id: int, token_id: int):
    """Revoke one of a user's API tokens (admin)

    Revoking one already revoked is a no-op.
    """
    with services().db.session() as session:
        user = _user(session, user_id, "revoke")
        token = session.get(ApiToken, token_id)
        if token is None or token.user_id != user.id:
            write_audit(audit_row("revoke", object_type="api_token", object_id=token_id, outcome="failure",
                                  status=404))
            raise ApiError(404, "not_found", f"User {user_id} has no API token {token_id}. List them at "
                           f"/api/admin/users/{user_id}/tokens.")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        add_audit(session, audit_row("revoke", object_type="api_token", object_id=token.id, status=204,
                              detail=f"token of user {user.id}"))
    return "", 204


def entry_json(row: AuditEntry) -> dict:
    return {
        "id": row.id, "at": iso(row.at), "user_id": row.user_id, "username": row.username, "action": row.action,
        "object_type": row.object_type, "object_id": row.object_id, "patient_id": row.patient_id,
        "outcome": row.outcome, "status": row.status, "client_address": row.client_address,
        "request_id": row.request_id, "detail": row.detail,
    }


@bp.get("/audit")
@access("admin")
@bp.input(AuditQuerySchema, location="query", arg_name="query")
@bp.output(AuditPageSchema, description="A page of audit entries")
@bp.doc(operation_id="auditLog")
def audit_log(query: dict[str, Any]):
    """The audit log, newest first, filterable by user, patient, action and date (admin)

    ``?user=<username>&patient_id=&action=&since=YYYY-MM-DD&until=YYYY-MM-DD&page=&per_page=`` (dates
    may also be ISO times).
    """
    page, per_page, patient_id = query["page"], query["per_page"], query["patient_id"]
    since, until = query["since"], query["until"]
    username, action = query["user"].strip().lower(), query["action"].strip()
    stmt = select(AuditEntry)
    if username:
        stmt = stmt.where(AuditEntry.username == username)
    if patient_id:
        stmt = stmt.where(AuditEntry.patient_id == patient_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action[:32])
    if since is not None:
        stmt = stmt.where(AuditEntry.at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.at < until)
    with services().db.session() as session:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(stmt.order_by(AuditEntry.id.desc()).offset((page - 1) * per_page).limit(per_page))
        items = [entry_json(r) for r in rows]
        add_audit(session, audit_row("view", object_type="audit_log", status=200,
                              detail=f"filter user={username or '*'} patient={patient_id or '*'}"))
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})
