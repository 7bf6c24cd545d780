"""Administration (admin role): users (create, change role, disable/enable, reset password, unlock), their
API tokens (list, revoke) and the audit log, filterable by user, patient, action and date."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, g, jsonify, request
from sqlalchemy import func, select

from pneumoscan.api.access import audit_row, write_audit
from pneumoscan.api.accounts import AccountError, create_user, set_disabled, set_password, set_role
from pneumoscan.api.accounts import unlock as unlock_account
from pneumoscan.api.errors import ApiError
from pneumoscan.api.orm import ApiToken, AuditEntry, User, utcnow
from pneumoscan.api.services import services
from pneumoscan.api.storage import iso
from pneumoscan.api.uploads import int_arg, json_body
from pneumoscan.api.views import MAX_ID
from pneumoscan.api.views.auth import token_json, user_json

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


def _user(session, user_id: int, action: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        write_audit(audit_row(action, object_type="user", object_id=user_id, outcome="failure", status=404))
        g.audit_done = True
        raise ApiError(404, "not_found", f"User {user_id} does not exist. List users at /api/admin/users.")
    return user


def _refuse(action: str, user_id: int | None, exc: AccountError):
    """The refusal's audit row and its ``ApiError``, with the status that the error's code carries."""
    write_audit(audit_row(action, object_type="user", object_id=user_id, outcome="failure", status=exc.status,
                          detail=str(exc)[:200]))
    g.audit_done = True
    return ApiError(exc.status, "invalid_field" if exc.status == 400 else "conflict", str(exc), field=exc.field)


@bp.get("/users")
def list_users():
    with services().db.session() as session:
        users = session.scalars(select(User).order_by(User.username)).all()
        return jsonify({"items": [user_json(u) for u in users]})


@bp.post("/users", endpoint="create_user")
def create_user_view():
    body = json_body()
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
        session.add(audit_row("create", object_type="user", object_id=user.id, status=201, detail=f"role {user.role}"))
        out = {"user": user_json(user), "password": generated}
    g.audit_done = True
    response = jsonify(out)
    response.status_code = 201
    return response


@bp.patch("/users/<id:user_id>")
def update_user(user_id: int):
    body = json_body()
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
        session.add(audit_row(action, object_type="user", object_id=user.id, status=200,
                              detail=", ".join(changes) or "no change"))
        out = user_json(user)
    g.audit_done = True
    return jsonify(out)


@bp.post("/users/<id:user_id>/reset-password")
def reset_password(user_id: int):
    body = json_body() if request.content_length else {}
    with services().db.session() as session:
        user = _user(session, user_id, "reset_password")
        try:
            generated = set_password(session, user, body.get("password"))
        except AccountError as exc:
            raise _refuse("reset_password", user_id, exc) from None
        session.add(audit_row("reset_password", object_type="user", object_id=user.id, status=200))
        out = {"user": user_json(user), "password": generated}
    g.audit_done = True
    return jsonify(out)


@bp.post("/users/<id:user_id>/unlock")
def unlock_user(user_id: int):
    """Forget the user's failed sign-ins, so that no slow-down is left for them from any address."""
    with services().db.session() as session:
        user = _user(session, user_id, "unlock")
        forgiven = unlock_account(session, user)
        session.add(audit_row("unlock", object_type="user", object_id=user.id, status=200,
                              detail=f"{forgiven} failed sign-ins forgotten"))
        out = user_json(user)
    g.audit_done = True
    return jsonify(out)


@bp.get("/users/<id:user_id>/tokens")
def list_user_tokens(user_id: int):
    """Every API token of a user, newest first (never the secret)."""
    with services().db.session() as session:
        user = _user(session, user_id, "view")
        rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc()))
        items = [token_json(t) for t in rows]
        session.add(audit_row("view", object_type="api_token", object_id=None, status=200,
                              detail=f"tokens of user {user.id}"))
    g.audit_done = True
    return jsonify({"items": items})


@bp.delete("/users/<id:user_id>/tokens/<id:token_id>")
def revoke_user_token(user_id: int, token_id: int):
    """Revoke one API token of a user (204; revoking one already revoked is a no-op)."""
    with services().db.session() as session:
        user = _user(session, user_id, "revoke")
        token = session.get(ApiToken, token_id)
        if token is None or token.user_id != user.id:
            write_audit(audit_row("revoke", object_type="api_token", object_id=token_id, outcome="failure",
                                  status=404))
            g.audit_done = True
            raise ApiError(404, "not_found", f"User {user_id} has no API token {token_id}. List them at "
                           f"/api/admin/users/{user_id}/tokens.")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        session.add(audit_row("revoke", object_type="api_token", object_id=token.id, status=204,
                              detail=f"token of user {user.id}"))
    g.audit_done = True
    return "", 204


def _date_arg(name: str, end: bool) -> dt.datetime | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            value = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC) + (dt.timedelta(days=1) if end else
                                                                             dt.timedelta())
        else:
            value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    except ValueError:
        raise ApiError(400, "invalid_field", f"'{name}' must be a date (YYYY-MM-DD) or an ISO time, got {raw!r}.",
                       field=name) from None
    return value


def entry_json(row: AuditEntry) -> dict:
    return {
        "id": row.id, "at": iso(row.at), "user_id": row.user_id, "username": row.username, "action": row.action,
        "object_type": row.object_type, "object_id": row.object_id, "patient_id": row.patient_id,
        "outcome": row.outcome, "status": row.status, "client_address": row.client_address,
        "request_id": row.request_id, "detail": row.detail,
    }


@bp.get("/audit")
def audit_log():
    """``?user=<username>&patient_id=&action=&since=YYYY-MM-DD&until=YYYY-MM-DD&page=&per_page=``, newest first."""
    page = int_arg("page", 1, 1, 1_000_000)
    per_page = int_arg("per_page", 50, 1, 200)
    patient_id = int_arg("patient_id", 0, 0, MAX_ID)
    since, until = _date_arg("since", end=False), _date_arg("until", end=True)
    username = (request.args.get("user") or "").strip().lower()
    action = (request.args.get("action") or "").strip()
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
        session.add(audit_row("view", object_type="audit_log", status=200,
                              detail=f"filter user={username or '*'} patient={patient_id or '*'}"))
    g.audit_done = True
    return jsonify({"items": items, "total": total, "page": page, "per_page": per_page})
