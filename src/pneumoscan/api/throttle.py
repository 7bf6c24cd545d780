"""The sign-in throttle: slows guessing down without letting anyone lock a real user out.

Every attempt is a ``LoginAttempt`` row (username as typed, client address, success). Three rules, each
keyed on the *username string* and never on whether the account exists, so the answers for a known and
an unknown username are the same:

1. **Per address**: ``LOGIN_ADDRESS_LIMIT`` failures from one address (any usernames) within
   ``LOGIN_WINDOW_MINUTES`` refuse that address for the window. The address is the real client's when
   the request came through a proxy listed in ``PNEUMOSCAN_TRUSTED_PROXIES`` (see
   ``pneumoscan.api.access.client_address``), so users behind a proxy are not one address.
2. **Per account and address**: after ``LOGIN_SLOWDOWN_AFTER`` failures in a row for one username from
   one address, each next try from that address must wait 1 s, 2 s, 4 s, ... (at most
   ``LOGIN_SLOWDOWN_MAX_SECONDS``). A success from that address clears it.
3. **Per account, all addresses**: after ``LOGIN_ACCOUNT_SLOWDOWN_AFTER`` failures for one username
   (from anywhere) since its last success, every address must leave a growing interval (at most
   ``LOGIN_ACCOUNT_MAX_SECONDS``) between *its own* tries. An address that has not tried yet is not
   held back: the real user signing in from their own computer gets in at once, whatever an attacker
   elsewhere does. There is no account lock.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pneumoscan.api.orm import LoginAttempt, as_utc

DEFAULTS: dict[str, Any] = {
    "LOGIN_WINDOW_MINUTES": 15,  # failures older than this are forgotten
    "LOGIN_ADDRESS_LIMIT": 20,  # rule 1: failures from one address within the window
    "LOGIN_SLOWDOWN_AFTER": 3,  # rule 2: failures in a row (one username, one address) before waits begin
    "LOGIN_SLOWDOWN_SECONDS": 1.0,  # first wait; doubles with each further failure
    "LOGIN_SLOWDOWN_MAX_SECONDS": 60.0,
    "LOGIN_ACCOUNT_SLOWDOWN_AFTER": 10,  # rule 3: failures for one username from anywhere
    "LOGIN_ACCOUNT_MAX_SECONDS": 60.0,
}

SLOWED = "Several failed sign-ins; wait {seconds} s before trying again."


@dataclass(frozen=True)
class Refusal:
    """A throttled attempt: answer 429 with ``Retry-After: seconds``."""

    message: str
    seconds: float
    rule: str  # "address", "account+address" or "account" (for the audit row and logs only)

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.seconds))


def check(session: Session, username: str, address: str | None, now: dt.datetime,
          cfg: Mapping[str, Any]) -> Refusal | None:
    """The refusal for a sign-in attempt by ``username`` from ``address`` now, or None to let it through."""
    window = dt.timedelta(minutes=float(cfg["LOGIN_WINDOW_MINUTES"]))
    since = now - window
    failed = LoginAttempt.success.is_(False)

    from_address = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.client_address == address, failed, LoginAttempt.at > since)) or 0
    if from_address >= int(cfg["LOGIN_ADDRESS_LIMIT"]):
        return Refusal("Too many failed sign-ins from this computer; wait a while and try again.",
                       window.total_seconds(), "address")

    same = (LoginAttempt.username == username, LoginAttempt.client_address == address)
    last_ok_here = as_utc(session.scalar(select(func.max(LoginAttempt.at)).where(*same, LoginAttempt.success)))
    start = max(since, last_ok_here) if last_ok_here else since
    here = session.execute(select(func.count(), func.max(LoginAttempt.at)).where(
        *same, failed, LoginAttempt.at > start)).one()
    wait = _wait(here[0], int(cfg["LOGIN_SLOWDOWN_AFTER"]), float(cfg["LOGIN_SLOWDOWN_SECONDS"]),
                 float(cfg["LOGIN_SLOWDOWN_MAX_SECONDS"]))
    if wait and (remaining := (as_utc(here[1]) + dt.timedelta(seconds=wait) - now).total_seconds()) > 0:
        return Refusal(SLOWED.format(seconds=math.ceil(remaining)), remaining, "account+address")

    last_ok = as_utc(session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.success)))
    start = max(since, last_ok) if last_ok else since
    everywhere = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, failed, LoginAttempt.at > start)) or 0
    wait = _wait(everywhere, int(cfg["LOGIN_ACCOUNT_SLOWDOWN_AFTER"]), float(cfg["LOGIN_SLOWDOWN_SECONDS"]),
                 float(cfg["LOGIN_ACCOUNT_MAX_SECONDS"]))
    if wait:
        last_here = as_utc(session.scalar(select(func.max(LoginAttempt.at)).where(*same)))
        if last_here is not None and (remaining := (last_here + dt.timedelta(seconds=wait) - now).total_seconds()) > 0:
            return Refusal(SLOWED.format(seconds=math.ceil(remaining)), remaining, "account")
    return None


def _wait(failures: int, after: int, first: float, most: float) -> float:
    """Seconds to wait after ``failures`` in a row: 0 below ``after``, then first, 2x first, ... capped."""
    if failures < after:
        return 0.0
    return min(first * 2 ** min(failures - after, 30), most)
