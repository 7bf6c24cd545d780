"""Sign-in, sign-out, who am I, and personal API tokens (``/api/auth/...``).

Sign-in abuse is slowed down by ``pneumoscan.api.throttle`` (429 with ``Retry-After``): per address,
per account and address, and per account across addresses, answering alike for known and unknown
usernames; no account can be locked by someone else.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from apiflask import APIBlueprint
from flask import current_app, g, jsonify
from sqlalchemy import select

from pneumoscan.api import throttle
from pneumoscan.api.access import (
    add_audit,
    audit_row,
    clear_session_cookies,
    client_address,
    new_session,
    set_session_cookies,
    write_audit,
)
from pneumoscan.api.accounts import MAX_PASSWORD, TOKEN_DAYS, AccountError, create_token, find_user, verify_password
from pneumoscan.api.declare import access
from pneumoscan.api.errors import ApiError, error_response
from pneumoscan.api.orm import ApiToken, AuthSession, LoginAttempt, User, as_utc, utcnow
from pneumoscan.api.schemas import (
    ApiTokenListSchema,
    ApiTokenSchema,
    LoginSchema,
    MeSchema,
    SignedInSchema,
    SignedOutSchema,
    TokenCreateSchema,
)
from pneumoscan.api.services import services
from pneumoscan.api.storage import iso

log = logging.getLogger(__name__)

bp = APIBlueprint("auth", __name__, url_prefix="/api/auth", tag="Accounts")

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


def _credentials(body: dict[str, Any]) -> tuple[str, str]:
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
@access("public")
@bp.input(LoginSchema, arg_name="body", validation=False)
@bp.output(SignedInSchema, description="Signed in")
@bp.doc(operation_id="login", security=[], responses={
    401: "Wrong username or password", 403: "The account is disabled", 415: "Not JSON",
    429: "Too many failed sign-ins: wait (Retry-After)"})
def login(body: dict[str, Any]):
    """Sign in: sets the HttpOnly session cookie and returns the CSRF token

    The body is checked here (not by the schema): a username or password too long to be real
    answers like a wrong one (401), so the answer says nothing about the limits.
    """
    username, password = _credentials(body)
    now = utcnow()
    address = client_address()
    with services().db.session() as session:
        refusal = throttle.check(session, username, address, now, current_app.config)
        if refusal is not None:
            add_audit(session, audit_row("sign_in_failed", object_type="user", outcome="failure", status=429,
                                  username=username, detail=f"throttled ({refusal.rule})"))
            log.warning("sign-in throttled (%s)", refusal.rule)
            return _too_many(429, "too_many_attempts", refusal.message, refusal.seconds)
        user = find_user(session, username)
        ok = verify_password(password, user.password_hash if user is not None else None)
        session.add(LoginAttempt(at=now, username=username, client_address=address, success=ok))
        if not ok:
            add_audit(session, audit_row("sign_in_failed", object_type="user",
                                  object_id=user.id if user is not None else None, outcome="failure", status=401,
                                  username=username, detail="wrong username or password"))
            log.info("failed sign-in (user id=%s)", user.id if user is not None else "unknown")
            return error_response(401, "invalid_credentials", INVALID)
        if user.disabled:
            add_audit(session, audit_row("sign_in_failed", object_type="user", object_id=user.id, outcome="failure",
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
        add_audit(session, audit_row("sign_in", object_type="user", object_id=user.id, user=user, status=200))
        body = {"user": user_json(user), "csrf_token": row.csrf_token, "expires_at": iso(row.expires_at)}
    log.info("user id=%s signed in", user.id)
    response = jsonify(body)
    set_session_cookies(response, raw, row.csrf_token)
    return response


@bp.post("/logout")
@access("user")
@bp.output(SignedOutSchema, description="Signed out")
@bp.doc(operation_id="logout")
def logout():
    """Sign out: ends the session on the server"""
    user = g.user
    with services().db.session() as session:
        if g.get("auth_session") is not None:
            row = session.get(AuthSession, g.auth_session.id)
            if row is not None and row.ended_at is None:
                row.ended_at = utcnow()
        add_audit(session, audit_row("sign_out", object_type="user", object_id=user.id, user=user, status=200))
    response = jsonify({"signed_out": True})
    clear_session_cookies(response)
    return response


@bp.get("/me")
@access("user")
@bp.output(MeSchema, description="You")
@bp.doc(operation_id="me")
def me():
    """The signed-in user (and the session's CSRF token)"""
    body = {"user": user_json(g.user), "via": g.via}
    if g.get("auth_session") is not None:
        body["csrf_token"] = g.auth_session.csrf_token
        body["expires_at"] = iso(g.auth_session.expires_at)
    return jsonify(body)


@bp.get("/tokens")
@access("user")
@bp.output(ApiTokenListSchema, description="Tokens")
@bp.doc(operation_id="listTokens")
def list_tokens():
    """Your API tokens (never the secret)"""
    with services().db.session() as session:
        rows = session.scalars(select(ApiToken).where(ApiToken.user_id == g.user.id).order_by(ApiToken.id)).all()
        return jsonify({"items": [token_json(t) for t in rows]})


@bp.post("/tokens", endpoint="create_token")
@access("user")
@bp.input(TokenCreateSchema, arg_name="body", validation=False)
@bp.output(ApiTokenSchema, status_code=201, description="Created")
@bp.doc(operation_id="createToken", responses={415: "Not JSON"})
def create_api_token(body: dict[str, Any]):
    """Create an API token; the answer holds the token, shown once

    The name and lifetime are checked by ``accounts.create_token`` (its messages name the limits).
    """
    with services().db.session() as session:
        user = session.get(User, g.user.id)
        try:
            token, raw = create_token(session, user, body.get("name"), body.get("expires_in_days", TOKEN_DAYS))
        except AccountError as exc:
            raise ApiError(exc.status, "invalid_field", str(exc), field=exc.field) from None
        add_audit(session, audit_row("create", object_type="api_token", object_id=token.id, status=201))
        out = {**token_json(token), "token": raw}
    response = jsonify(out)
    response.status_code = 201
    return response


@bp.delete("/tokens/<id:token_id>")
@access("user")
@bp.doc(operation_id="revokeToken", responses={204: "Revoked"})
def revoke_token(token_id: int):
    """Revoke one of your API tokens"""
    with services().db.session() as session:
        token = session.get(ApiToken, token_id)
        if token is None or token.user_id != g.user.id:
            write_audit(audit_row("revoke", object_type="api_token", object_id=token_id, outcome="failure",
                                  status=404))
            raise ApiError(404, "not_found", f"You have no API token {token_id}. List yours at /api/auth/tokens.")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        add_audit(session, audit_row("revoke", object_type="api_token", object_id=token.id, status=204))
    log.info("API token id=%s revoked", token_id)
    return "", 204

