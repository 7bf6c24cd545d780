"""Accounts: users, server-side sign-in sessions, API tokens and the first admin (the rows are in ``orm``).

Passwords are hashed with scrypt (memory-hard; Python's ``hashlib.scrypt`` over OpenSSL), each with
its own random salt; they are never stored, logged or returned. Session ids and API tokens are
random 256-bit strings that the server only keeps as SHA-256 digests, so a copy of the database
does not let anyone sign in.

Used by the API (``pneumoscan.api.access``), ``pneumoscan serve`` and ``pneumoscan users ...`` alike.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from typing import ClassVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pneumoscan.api.orm import ApiToken, AuditEntry, AuthSession, LoginAttempt, User, utcnow

log = logging.getLogger(__name__)

ROLES = ("clinician", "admin")
"""Roles, least to most rights: a clinician works with patients, studies and reports; an admin also
manages users and reads the audit log."""

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
TOKEN_PREFIX = "psk_"
TOKEN_DAYS = 90
"""Default lifetime of an API token."""
MAX_TOKEN_DAYS = 730

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline slow-hash scenario" (1e8 guesses)
_ZXCVBN_MAX = 72


class AccountError(ValueError):
    """A user-management request that cannot be done; the message says why and what to do.

    ``code`` names the rule that refused it (stable: callers branch on it, never on the message),
    ``status`` is the HTTP status the API answers with, and ``field`` the request field at fault.
    """

    STATUS: ClassVar[dict[str, int]] = {"invalid": 400, "username_taken": 409, "last_admin": 409}

    def __init__(self, message: str, code: str = "invalid", field: str | None = None):
        if code not in self.STATUS:
            raise ValueError(f"Unknown AccountError code {code!r}; use one of {', '.join(self.STATUS)}.")
        super().__init__(message)
        self.code = code
        self.field = field

    @property
    def status(self) -> int:
        return self.STATUS[self.code]


# --- secrets -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` for ``password`` (random 16-byte salt)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
                            maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


_DUMMY_HASH: str | None = None


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches ``stored``; with ``stored=None`` it spends the same time and fails
    (so that an unknown username cannot be told from a wrong password by timing)."""
    global _DUMMY_HASH  # noqa: PLW0603 - a cache of a constant, not state
    if stored is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_urlsafe(12))
        verify_password(password, _DUMMY_HASH)
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                                  maxmem=64 * 1024 * 1024, dklen=len(_unb64(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def generate_password() -> str:
    """A random 20-character password (120 bits) that the password rules accept."""
    while True:
        password = secrets.token_urlsafe(15)
        if password_problem(password) is None:
            return password


def new_secret(prefix: str = "") -> tuple[str, str]:
    """A random 256-bit secret and its SHA-256 hex digest (what the database keeps)."""
    raw = prefix + secrets.token_urlsafe(32)
    return raw, digest(raw)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- users ---------------------------------------------------------------------------------------


def check_username(username: object) -> str:
    if not isinstance(username, str) or not USERNAME.match(username.strip().lower()):
        raise AccountError(
            "A username is 2-64 characters: lower-case letters, digits, '.', '_' or '-', starting with a "
            "letter or digit.", field="username"
        )
    return username.strip().lower()


def check_role(role: object) -> str:
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}; use one of {', '.join(ROLES)}.", field="role")
    return str(role)


def password_problem(password: str, username: str | None = None) -> str | None:
    """What is wrong with ``password`` under NIST SP 800-63B (section 5.1.1.2), or None when it is fine.

    At least ``MIN_PASSWORD`` characters; not the username; and not common, breached or otherwise easy
    to guess: zxcvbn (Dropbox's estimator, with its lists of the most common and breached passwords,
    names, words and keyboard patterns) must estimate at least 10^8 guesses (score 3 of 4), with the
    username and the service name counted as known words. Its first ``_ZXCVBN_MAX`` characters are
    judged (zxcvbn's own limit; a longer password only gets harder).
    """
    if len(password) < MIN_PASSWORD or len(password) > MAX_PASSWORD:
        return f"A password must be between {MIN_PASSWORD} and {MAX_PASSWORD} characters long."
    if username and password.strip().lower() == username.strip().lower():
        return "A password must not be the username."
    from zxcvbn import zxcvbn

    context = ["pneumoscan", "pneumonia", "xray"] + ([username] if username else [])
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=context)
    if result["score"] < _MIN_SCORE:
        why = (result.get("feedback") or {}).get("warning") or "it is too easy to guess"
        return f"This password is too easy to guess ({why.rstrip('.')})."
    return None


def check_password(password: object, username: str | None = None) -> str:
    """``password`` when it passes ``password_problem``.

    Raises:
        AccountError: the problem, and how to choose a better one.
    """
    if not isinstance(password, str):
        raise AccountError("A password must be a string; leave it out to have one generated.", field="password")
    problem = password_problem(password, username)
    if problem is not None:
        raise AccountError(f"{problem} Choose a passphrase of several unrelated words (at least {MIN_PASSWORD} "
                           "characters), or leave it out to have one generated.", field="password")
    return password


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


def create_user(session: Session, username: str, role: str, password: str | None = None) -> tuple[User, str | None]:
    """Add a user; returns the user and the generated password (None when one was given).

    Raises:
        AccountError: bad username, role or password (``invalid``), or the username is taken
            (``username_taken``).
    """
    username, role = check_username(username), check_role(role)
    if find_user(session, username) is not None:
        raise AccountError(f"The username {username!r} is taken; choose another one.", "username_taken", "username")
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password(password, username)
    user = User(username=username, role=role, password_hash=hash_password(password), disabled=False,
                failed_logins=0)
    session.add(user)
    session.flush()
    log.info("created user id=%s role=%s", user.id, role)
    return user, generated


def set_password(session: Session, user: User, password: str | None = None) -> str | None:
    """Give ``user`` a new password (generated when None, and then returned); ends their sessions and
    revokes their API tokens (whoever knew the old password may have made one)."""
    generated = None
    if password is None:
        password = generated = generate_password()
    check_password(password, user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    end_sessions(session, user.id)
    revoked = revoke_tokens(session, user.id)
    log.info("password reset for user id=%s (%d API tokens revoked)", user.id, revoked)
    return generated


def end_sessions(session: Session, user_id: int) -> None:
    now = utcnow()
    for row in session.scalars(select(AuthSession).where(AuthSession.user_id == user_id,
                                                         AuthSession.ended_at.is_(None))):
        row.ended_at = now


def revoke_tokens(session: Session, user_id: int) -> int:
    """Revoke every API token of ``user_id`` not yet revoked; returns how many."""
    now = utcnow()
    tokens = session.scalars(select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))).all()
    for token in tokens:
        token.revoked_at = now
    return len(tokens)


def set_disabled(session: Session, user: User, disabled: bool) -> None:
    """Disable (ending every session and revoking every API token of the user) or re-enable an account.

    Re-enabling brings nothing back: the user signs in again and makes new tokens.

    Raises:
        AccountError: ``last_admin``: it would leave no enabled admin.
    """
    if disabled:
        keep_an_admin(session, user)
    user.disabled = disabled
    if disabled:
        end_sessions(session, user.id)
        revoke_tokens(session, user.id)
    log.info("user id=%s %s", user.id, "disabled" if disabled else "enabled")


def set_role(session: Session, user: User, role: object) -> str:
    """Give ``user`` the role ``role``; returns it.

    Raises:
        AccountError: an unknown role (``invalid``), or ``last_admin``: it would leave no enabled admin.
    """
    role = check_role(role)
    if role != user.role:
        keep_an_admin(session, user)
        user.role = role
        log.info("user id=%s is now %s", user.id, role)
    return role


def keep_an_admin(session: Session, user: User) -> None:
    """The last-admin rule: ``user`` may not be demoted or disabled while no other admin is enabled.

    Raises:
        AccountError: ``last_admin`` (the API answers 409).
    """
    if user.role == "admin" and not user.disabled and count_admins(session) <= 1:
        raise AccountError("This is the only enabled admin; create, enable or promote another admin first.",
                           "last_admin")


def unlock(session: Session, user: User) -> int:
    """Forget ``user``'s failed sign-ins, so that the sign-in throttle holds nothing against them from any
    address (and clear a lock left by an older version); returns how many failures were forgotten."""
    from sqlalchemy import delete

    user.locked_until = None
    user.failed_logins = 0
    user.last_failed_at = None
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.username == user.username,
                                                         LoginAttempt.success.is_(False)))
    log.info("user id=%s unlocked", user.id)
    return result.rowcount or 0


def count_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == "admin",
                                                                         User.disabled.is_(False))) or 0


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def create_token(session: Session, user: User, name: str,
                 expires_in_days: object = TOKEN_DAYS) -> tuple[ApiToken, str]:
    """A new API token for ``user``, valid ``expires_in_days`` (default ``TOKEN_DAYS``, at most
    ``MAX_TOKEN_DAYS``); returns the row and the token (the only time it is seen).

    Raises:
        AccountError: a bad name or lifetime (the message names the field).
    """
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 100:
        raise AccountError("A token needs a 'name' of 1-100 characters saying what uses it (e.g. 'nightly export').",
                           field="name")
    if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int) \
            or not 1 <= expires_in_days <= MAX_TOKEN_DAYS:
        raise AccountError(f"'expires_in_days' must be a whole number of days from 1 to {MAX_TOKEN_DAYS} "
                           f"(default {TOKEN_DAYS}).", field="expires_in_days")
    raw, hashed = new_secret(TOKEN_PREFIX)
    token = ApiToken(user_id=user.id, name=name.strip(), token_hash=hashed, prefix=raw[:10],
                     expires_at=utcnow() + dt.timedelta(days=expires_in_days))
    session.add(token)
    session.flush()
    log.info("created API token id=%s for user id=%s", token.id, user.id)
    return token, raw


def ensure_first_admin(db) -> str | None:
    """When the database has no user, create ``admin`` with a random password and return the password.

    ``pneumoscan serve`` calls it before the workers start (and prints the password once); the audit
    log records the creation as done by ``cli``.
    """
    with db.session() as session:
        if count_users(session):
            return None
        user, password = create_user(session, "admin", "admin")
        audit_cli(session, "create", user, "first admin, created at start-up")
    return password


def audit_cli(session: Session, action: str, user: User, detail: str | None = None) -> None:
    """Record an account change made from the shell (``pneumoscan serve`` or ``pneumoscan users``)."""
    session.add(AuditEntry(at=utcnow(), user_id=None, username="cli", action=action, object_type="user",
                           object_id=user.id, outcome="success", client_address="cli", detail=detail))
