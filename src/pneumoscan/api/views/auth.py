"""Sign-in, sign-out, who am I, and personal API tokens (``/api/auth/...``).

Sign-in abuse is slowed down by ``pneumoscan.api.throttle`` (429 with ``Retry-After``): per address,
per account and address, and per account across addresses, answering alike for known and unknown
usernames; no account can be locked by someone else.
"""

from __future__ import annotations

import logging
import math

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy import select

from pneumoscan.api import throttle
from pneumoscan.api.access import (
    audit_row,
    clear_session_cookies,
    client_address,
    new_session,
    set_session_cookies,
    write_audit,
)
from pneumoscan.api.accounts import MAX_PASSWORD, TOKEN_DAYS, AccountError, create_token, find_user, verify_password
from pneumoscan.api.errors import ApiError, error_response
from pneumoscan.api.orm import ApiToken, AuthSession, LoginAttempt, User, as_utc, utcnow
from pneumoscan.api.services import services
from pneumoscan.api.storage import iso
from pneumoscan.api.uploads import json_body

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__, url_prefix="/api/auth")

INVALID = "The username or password is wrong. Check them and try again."


def user_json(user: User) -> dict:
    now = utcnow()
    locked = user.locked_until is not None and as_utc(user.locked_until) > now
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": bool(user.disabled),
        "locked_until": iso(user.locked_until) if locked else None,
        "created_at": iso(user.created_at),
    }


def token_json(token: ApiToken) -> dict:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": iso(token.created_at),
        "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
        "expires_at": iso(token.expires_at),
    }


def _credentials() -> tuple[str, str]:
    body = json_body()
    username, password = body.get("username"), body.get("password")
    for key, value in (("username", username), ("password", password)):
        if value is None or value == "":
            raise ApiError(400, "missing_field", f"'{key}' is required.", field=key)
        if not isinstance(value, str):
            raise ApiError(400, "invalid_field", f"'{key}' must be a string.", field=key)
    if len(username) > 64 or len(password) > MAX_PASSWORD:
        raise ApiError(401, "invalid_credentials", INVALID)
    return username.strip().lower(), password


def _too_many(status: int, code: str, message: str, seconds: float):
    response = error_response(status, code, message, retry_after=max(1, math.ceil(seconds)))
    response.headers["Retry-After"] = str(max(1, math.ceil(seconds)))
    return response


@bp.post("/login")
def login():
    username, password = _credentials()
    now = utcnow()
    address = client_address()
    with services().db.session() as session:
        refusal = throttle.check(session, username, address, now, current_app.config)
        if refusal is not None:
            session.add(audit_row("sign_in_failed", object_type="user", outcome="failure", status=429,
                                  username=username, detail=f"throttled ({refusal.rule})"))
            log.warning("sign-in throttled (%s)", refusal.rule)
            return _too_many(429, "too_many_attempts", refusal.message, refusal.seconds)
        user = find_user(session, username)
        ok = verify_password(password, user.password_hash if user is not None else None)
        session.add(LoginAttempt(at=now, username=username, client_address=address, success=ok))
        if not ok:
            session.add(audit_row("sign_in_failed", object_type="user",
                                  object_id=user.id if user is not None else None, outcome="failure", status=401,
                                  username=username, detail="wrong username or password"))
            log.info("failed sign-in (user id=%s)", user.id if user is not None else "unknown")
            return error_response(401, "invalid_credentials", INVALID)
        if user.disabled:
            session.add(audit_row("sign_in_failed", object_type="user", object_id=user.id, outcome="failure",
                                  status=403, username=username, detail="account disabled"))
            return error_response(403, "account_disabled",
                                  "This account is disabled. Ask an administrator to enable it.")
        previous = g.get("auth_session")
        if previous is not None:  # signing in again replaces this browser's session
            old = session.get(AuthSession, previous.id)
            if old is not None and old.ended_at is None:
                old.ended_at = now
        row, raw = new_session(session, user)
        g.user = user
        session.add(audit_row("sign_in", object_type="user", object_id=user.id, user=user, status=200))
        body = {"user": user_json(user), "csrf_token": row.csrf_token, "expires_at": iso(row.expires_at)}
    log.info("user id=%s signed in", user.id)
    response = jsonify(body)
    set_session_cookies(response, raw, row.csrf_token)
    return response


@bp.post("/logout")
def logout():
    user = g.user
    with services().db.session() as session:
        if g.get("auth_session") is not None:
            row = session.get(AuthSession, g.auth_session.id)
            if row is not None and row.ended_at is None:
                row.ended_at = utcnow()
        session.add(audit_row("sign_out", object_type="user", object_id=user.id, user=user, status=200))
    g.audit_done = True
    response = jsonify({"signed_out": True})
    clear_session_cookies(response)
    return response


@bp.get("/me")
def me():
    body = {"user": user_json(g.user), "via": g.via}
    if g.get("auth_session") is not None:
        body["csrf_token"] = g.auth_session.csrf_token
        body["expires_at"] = iso(g.auth_session.expires_at)
    return jsonify(body)


@bp.get("/tokens")
def list_tokens():
    with services().db.session() as session:
        rows = session.scalars(select(ApiToken).where(ApiToken.user_id == g.user.id).order_by(ApiToken.id)).all()
        return jsonify({"items": [token_json(t) for t in rows]})


@bp.post("/tokens", endpoint="create_token")
def create_api_token():
    body = json_body()
    with services().db.session() as session:
        user = session.get(User, g.user.id)
        try:
            token, raw = create_token(session, user, body.get("name"), body.get("expires_in_days", TOKEN_DAYS))
        except AccountError as exc:
            raise ApiError(exc.status, "invalid_field", str(exc), field=exc.field) from None
        session.add(audit_row("create", object_type="api_token", object_id=token.id, status=201))
        out = {**token_json(token), "token": raw}
    g.audit_done = True
    response = jsonify(out)
    response.status_code = 201
    return response


@bp.delete("/tokens/<id:token_id>")
def revoke_token(token_id: int):
    with services().db.session() as session:
        token = session.get(ApiToken, token_id)
        if token is None or token.user_id != g.user.id:
            write_audit(audit_row("revoke", object_type="api_token", object_id=token_id, outcome="failure",
                                  status=404))
            raise ApiError(404, "not_found", f"You have no API token {token_id}. List yours at /api/auth/tokens.")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        session.add(audit_row("revoke", object_type="api_token", object_id=token.id, status=204))
    log.info("API token id=%s revoked", token_id)
    return "", 204

