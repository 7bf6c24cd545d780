"""Access control: who may call which endpoint, sign-in sessions, API tokens, CSRF and the audit trail.

Every request passes ``_authenticate`` (a ``before_request`` hook) which looks the endpoint's level up
in the table the app builds from the views' ``@access(...)`` declarations (``pneumoscan.api.declare``):
``"public"``, ``"user"`` (any signed-in account), ``"clinician"`` or ``"admin"`` (roles are ranked: an
admin may do what a clinician may). An endpoint that declares none is refused (403
``no_access_rule``), and ``tests/api/test_auth_rules.py`` walks the app's url_map so that a new
endpoint without a declaration fails the test suite.

Credentials: the web app's session cookie (server-side session, id stored hashed; idle and absolute
expiry; state-changing requests must echo the session's CSRF token in ``X-CSRF-Token``) or a personal
API token in ``Authorization: Bearer psk_...`` (no CSRF: a browser never sends it by itself).

Audit: each view declares the action it performs on patient data (and on uploads to the open
``/api/predict`` and ``/api/inspect``: who or which source, and what was returned; never the image)
with ``@audited(...)`` and records it with ``record(session, ...)`` in the action's own database
transaction, so the action and its row commit or roll back together. An action that fails (or is
refused) gets its row afterwards, with the real status, and a row that the database cannot take at
that moment is spooled to disk (``pneumoscan.api.audit``). Refusals of callers without credentials
are counted per source and minute instead of a row each.

Bookkeeping writes (a token's ``last_used_at``, a session's ``last_seen_at``) are best-effort, in
their own short transaction: a busy database delays or fails them, never the request.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import logging
from functools import lru_cache
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from pneumoscan.api.accounts import ROLES, digest
from pneumoscan.api.audit import SPOOL_NAME, drain_spool, install_rollups, spool
from pneumoscan.api.declare import Audited, audit_of, rules
from pneumoscan.api.errors import ApiError
from pneumoscan.api.orm import ApiToken, AuditEntry, AuthSession, User, as_utc, utcnow
from pneumoscan.api.throttle import DEFAULTS as THROTTLE_DEFAULTS

log = logging.getLogger(__name__)

SESSION_COOKIE = "pneumoscan_session"
CSRF_COOKIE = "pneumoscan_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_SUCCESS_STATUS = {"create": 201, "delete": 204}
"""What a successful action answers (every other one answers 200); the audit row records it."""
_OPEN_AUDITED = frozenset({"image"})
"""Object types audited for callers without credentials too (the open image endpoints)."""
_RANK = {role: i + 1 for i, role in enumerate(ROLES)}

DEFAULTS: dict[str, Any] = {
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_MAX_HOURS": 12,
    "AUTH_COOKIE_SECURE": None,  # None: Secure when the request came over HTTPS
    "PREDICT_REQUIRES_LOGIN": False,
    "TRUSTED_PROXIES": (),  # networks whose X-Forwarded-For is believed (PNEUMOSCAN_TRUSTED_PROXIES)
    **THROTTLE_DEFAULTS,
}


def init_auth(app: Flask) -> None:
    """Install the access rules, the CSRF check and the audit hooks on ``app``."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    app.before_request(_authenticate)
    app.after_request(_audit_afterwards)
    svc = app.extensions["pneumoscan"]
    db = svc.db
    install_rollups(db._sessions, db._quick_sessions)  # noqa: SLF001
    try:
        drain_spool(db, svc.store.root)
    except SQLAlchemyError:
        log.exception("spooled audit rows could not be written yet; they stay in the spool")


# --- who is calling ------------------------------------------------------------------------------


def client_address() -> str | None:
    """The caller's address: the TCP peer, unless the peer is a trusted proxy (``TRUSTED_PROXIES``).

    Then ``X-Forwarded-For`` is read from the right (the entry the proxy itself appended) leftwards,
    skipping further trusted proxies: the first address that is not one is the client. Anything a client
    wrote further left is never believed, and a client that talks to the server directly cannot pose
    as another address.
    """
    peer = request.remote_addr or ""
    trusted = _networks(tuple(current_app.config.get("TRUSTED_PROXIES") or ()))
    if trusted and _is_in(peer, trusted):
        hops = ",".join(request.headers.getlist("X-Forwarded-For")).split(",")
        for hop in reversed([h.strip() for h in hops if h.strip()]):
            if _parse_ip(hop) is None:
                break  # garbage: believe nothing further left
            peer = hop
            if not _is_in(hop, trusted):
                break
    return peer[:64] or None


@lru_cache(maxsize=16)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(e, strict=False) for e in entries)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _is_in(address: str, networks: tuple) -> bool:
    ip = _parse_ip(address)
    return ip is not None and any(ip.version == n.version and ip in n for n in networks)


def current_user() -> User | None:
    return g.get("user")


def _unauthorized(message: str = "Sign in first (POST /api/auth/login), or send an API token in "
                  "'Authorization: Bearer ...'.") -> ApiError:
    return ApiError(401, "unauthorized", message)


def _authenticate() -> None:
    g.user = None
    g.auth_session = None
    g.via = None
    g.actor = None  # (id, username): what audit rows record, readable even after a failed transaction
    if request.url_rule is None:  # 404 / 405: let the router's own error answer
        return
    endpoint = request.endpoint or ""
    rule = rules(current_app).get(endpoint)
    if rule is None:
        log.error("endpoint %s has no access rule; refusing", endpoint)
        raise ApiError(403, "no_access_rule", "This endpoint has no access rule yet, so it is closed.")
    if rule == "predict":
        rule = "user" if current_app.config["PREDICT_REQUIRES_LOGIN"] else "public"
    svc = current_app.extensions["pneumoscan"]
    bearer = _bearer_token()
    cookie = request.cookies.get(SESSION_COOKIE)
    if rule == "public" and not bearer and not cookie:
        return
    with svc.db.session() as session:
        if bearer is not None:
            _from_token(session, bearer)
        elif cookie:
            _from_cookie(session, cookie)
        user = g.user
        if user is not None:
            g.actor = (user.id, user.username)
    _touch(g.pop("touch", None))
    if rule == "public":
        return
    if user is None:
        _denied(401, "unauthorized")
        raise _unauthorized(g.get("auth_problem") or _unauthorized().message)
    if rule in _RANK and _RANK.get(user.role, 0) < _RANK[rule]:
        _denied(403, "forbidden")
        raise ApiError(403, "forbidden", f"Your role ({user.role}) may not do this; it needs the {rule} role.")
    if g.via == "session" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, g.auth_session.csrf_token):
            _denied(403, "csrf_failed")
            raise ApiError(
                403, "csrf_failed",
                f"The {CSRF_HEADER} header is missing or wrong. Reload the page; scripts should use an API token.",
            )


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return ""
    return value.strip()


def _from_token(session: Session, raw: str) -> None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(raw))) if raw else None
    if token is None or token.revoked_at is not None:
        g.auth_problem = "The API token is unknown or was revoked; create a new one (POST /api/auth/tokens)."
        return
    if token.expires_at is not None and as_utc(token.expires_at) <= utcnow():
        g.auth_problem = "The API token has expired; create a new one (POST /api/auth/tokens)."
        return
    user = session.get(User, token.user_id)
    if user is None or user.disabled:
        g.auth_problem = "The account this API token belongs to is disabled."
        return
    g.touch = (ApiToken, ApiToken.last_used_at, token.id, 60)
    g.user, g.via, g.token_id = user, "token", token.id


def _from_cookie(session: Session, raw: str) -> None:
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == digest(raw)))
    now = utcnow()
    cfg = current_app.config
    if row is None or row.ended_at is not None:
        g.auth_problem = "Your session has ended; sign in again."
        return
    idle = dt.timedelta(minutes=float(cfg["SESSION_IDLE_MINUTES"]))
    if as_utc(row.expires_at) <= now or as_utc(row.last_seen_at) + idle <= now:
        row.ended_at = now
        g.auth_problem = "Your session has expired; sign in again."
        return
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        row.ended_at = now
        g.auth_problem = "Your account is disabled; ask an administrator."
        return
    g.touch = (AuthSession, AuthSession.last_seen_at, row.id, 30)
    g.user, g.via, g.auth_session = user, "session", row


def _touch(spec: tuple | None) -> None:
    """Record when a token or session was last used: best-effort, in its own short transaction."""
    if spec is None:
        return
    model, column, row_id, every_s = spec
    now = utcnow()
    try:
        with current_app.extensions["pneumoscan"].db.quick_session() as session:
            session.execute(update(model).where(model.id == row_id, or_(
                column.is_(None), column < now - dt.timedelta(seconds=every_s))).values({column.key: now}))
    except SQLAlchemyError as exc:
        log.warning("could not record %s.%s of id %s (%s); the request goes on", model.__tablename__,
                    column.key, row_id, type(exc).__name__)


def new_session(session: Session, user: User) -> tuple[AuthSession, str]:
    """Start a sign-in session for ``user``; returns the row and the cookie value."""
    import secrets

    raw = secrets.token_urlsafe(32)
    hours = float(current_app.config["SESSION_MAX_HOURS"])
    row = AuthSession(token_hash=digest(raw), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                      client_address=client_address(), expires_at=utcnow() + dt.timedelta(hours=hours))
    session.add(row)
    session.flush()
    return row, raw


def set_session_cookies(response, raw: str, csrf: str) -> None:
    secure = current_app.config["AUTH_COOKIE_SECURE"]
    secure = request.is_secure if secure is None else bool(secure)
    max_age = int(float(current_app.config["SESSION_MAX_HOURS"]) * 3600)
    response.set_cookie(SESSION_COOKIE, raw, max_age=max_age, httponly=True, samesite="Lax", secure=secure,
                        path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="Lax", secure=secure,
                        path="/")


def clear_session_cookies(response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


# --- audit ---------------------------------------------------------------------------------------


def audit_row(action: str, *, object_type: str | None = None, object_id: int | None = None,
              patient_id: int | None = None, outcome: str = "success", status: int | None = None,
              detail: str | None = None, user: User | None = None, username: str | None = None) -> AuditEntry:
    """An audit row for the current request (add it to the session that does the action)."""
    if user is not None:
        actor = (user.id, user.username)
    else:
        actor = g.get("actor") if has_request_context() else None
    return AuditEntry(
        at=utcnow(), user_id=actor[0] if actor else None,
        username=actor[1] if actor else username,
        action=action, object_type=object_type, object_id=object_id, patient_id=patient_id,
        outcome=outcome, status=status, detail=(detail or None) and detail[:255],
        client_address=client_address() if has_request_context() else None,
        request_id=g.get("request_id") if has_request_context() else None,
    )


def write_audit(row: AuditEntry) -> None:
    """Write one audit row in its own short transaction (for actions that failed or were refused);
    when the database cannot take it now, it is spooled to disk and written at the next chance."""
    svc = current_app.extensions["pneumoscan"]
    if has_request_context():
        g.audit_written = True  # written now, or spooled and written at the next chance
    try:
        with svc.db.quick_session() as session:
            session.add(row)
    except Exception as exc:  # noqa: BLE001 - the answer must still go out
        log.warning("audit row for %s not written now (%s); spooling it", row.action, type(exc).__name__)
        try:
            spool(svc.store.root, row)
        except OSError:
            log.exception("could not spool the audit row for %s", row.action)
        return
    _drain_if_spooled()


def record(session: Session | None, **kwargs: Any) -> None:
    """Record the view's declared audit action (``@audited``) for the current request.

    With ``session`` (the action's own transaction) the row commits or rolls back with the action; an
    action rolled back gets its row afterwards, with the status it answered. Without one (the image
    endpoints, which store nothing) the row is written at once. ``kwargs``: see ``audit_entry``.
    """
    declared = audit_of(current_app, request.endpoint)
    if declared is not None and g.get("actor") is None and declared.object_type not in _OPEN_AUDITED:
        return
    row = audit_entry(**kwargs)
    if session is None:
        write_audit(row)
    else:
        session.add(row)


def audit_entry(*, object_id: int | None = None, patient_id: int | None = None, detail: str | None = None,
                failure: ApiError | None = None, status: int | None = None, user: User | None = None) -> AuditEntry:
    """The row of the view's declared action, counted as this request's row once its transaction commits.

    The object id defaults to the declared URL argument, the detail to the declared one, the status to
    the action's success status. ``failure``: the error the view is about to raise (its status and code
    go in the row).
    """
    declared = audit_of(current_app, request.endpoint)
    if declared is None:
        raise RuntimeError(f"{request.endpoint} records an audit row but declares no @audited action")
    if object_id is None and declared.id_arg:
        object_id = (request.view_args or {}).get(declared.id_arg)
    if patient_id is None and declared.object_type == "patient":
        patient_id = object_id
    detail = detail if detail is not None else _declared_detail(declared)
    if failure is not None:
        status, detail = failure.status, f"{failure.code}: {detail}" if detail else failure.code
    row = audit_row(declared.action, object_type=declared.object_type, object_id=object_id, patient_id=patient_id,
                    outcome="failure" if failure else "success",
                    status=status or _SUCCESS_STATUS.get(declared.action, 200), detail=detail, user=user)
    g.setdefault("audit_rows", []).append(row)
    return row


def add_audit(session: Session, row: AuditEntry) -> None:
    """Add an explicit audit row (sign-in, administration) to the action's own transaction."""
    session.add(row)
    g.setdefault("audit_rows", []).append(row)


def _declared_detail(declared: Audited) -> str | None:
    return declared.detail.format(**(request.view_args or {})) if declared.detail else None


def _audited() -> bool:
    """Whether the request's audit row is in: written on its own, or committed with the action."""
    return bool(g.get("audit_written")) or any(sa_inspect(row).has_identity for row in g.get("audit_rows", ()))


def _denied(status: int, code: str) -> None:
    """Record a refused request on patient data or administration (never a public endpoint)."""
    declared = audit_of(current_app, request.endpoint)
    if declared is None and not (request.endpoint or "").startswith("admin."):
        return  # a signed-out browser asking who it is: nothing to record
    object_type = declared.object_type if declared else (request.endpoint or "").split(".")[0]
    object_id = (request.view_args or {}).get(declared.id_arg) if declared and declared.id_arg else None
    write_audit(audit_row("denied", object_type=object_type, object_id=object_id, outcome="denied", status=status,
                          detail=f"{code}: {request.method} {request.endpoint}"))


def _audit_afterwards(response):
    """The audit row of an action whose transaction did not carry one (failed, or recorded nothing), and
    of any signed-in request that failed with a server error."""
    _drain_if_spooled()
    if _audited():
        return response
    declared = audit_of(current_app, request.endpoint)
    if declared is None:
        if response.status_code >= 500 and g.get("actor") is not None:
            write_audit(audit_row("error", object_type=(request.endpoint or "unknown")[:32], outcome="failure",
                                  status=response.status_code, detail=_error_code(response)))
        return response
    if g.get("actor") is None and declared.object_type not in _OPEN_AUDITED:
        return response
    failed = response.status_code >= 400
    object_id = (request.view_args or {}).get(declared.id_arg) if declared.id_arg else None
    patient_id = object_id if declared.object_type == "patient" else None
    code = _error_code(response) if failed else None
    detail = ": ".join(part for part in (code, _declared_detail(declared)) if part) or None
    write_audit(audit_row(declared.action, object_type=declared.object_type, object_id=object_id,
                          patient_id=patient_id, outcome="failure" if failed else "success",
                          status=response.status_code, detail=detail))
    return response


def _drain_if_spooled() -> None:
    """Write rows spooled while the database was busy (one ``stat`` when there are none)."""
    svc = current_app.extensions["pneumoscan"]
    spooled = svc.store.root / SPOOL_NAME
    if spooled.is_file() and spooled.stat().st_size:
        try:
            drain_spool(svc.db, svc.store.root)
        except (SQLAlchemyError, OSError) as exc:  # stays spooled; tried again on the next request
            log.warning("spooled audit rows not written yet (%s)", type(exc).__name__)


def _error_code(response) -> str | None:
    if not response.is_json:
        return None
    return ((response.get_json(silent=True) or {}).get("error") or {}).get("code")
