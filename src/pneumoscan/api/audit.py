"""The audit trail's guarantees beyond "one row per action" (``pneumoscan.api.access`` writes the rows).

- **Roll-ups.** A refused request from a caller without credentials (401, a throttled or locked
  sign-in, a failed upload to the open ``/api/predict``) is not one ``audit_log`` row each, which let
  anyone grow the log without limit: it is counted in ``audit_rollups``, one row per source, minute,
  action, status, object and reason (``AuditRollup``; see ``rolls_up``). This happens for every session of the app
  (a ``before_flush`` hook), whichever view added the row.
- **Nothing lost when the database is busy.** An audit row that cannot be written (a write lock
  held past the short wait) is appended to ``audit-spool.jsonl`` in the data folder and written at
  the next chance (the next audit write, or start-up).
- **Append-only in the database.** Triggers refuse UPDATE, DELETE and ``INSERT OR REPLACE`` on
  ``audit_log`` and anything but a rising count on ``audit_rollups`` (migration 0004); on
  PostgreSQL the app's role holds no more than SELECT and INSERT on them (``grant_app_role``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from pneumoscan.api.orm import AuditEntry, AuditRollup, utcnow
from pneumoscan.api.storage import Database

log = logging.getLogger(__name__)

SPOOL_NAME = "audit-spool.jsonl"
_FIELDS = ("at", "user_id", "username", "action", "object_type", "object_id", "patient_id", "outcome", "status",
           "client_address", "request_id", "detail")


_THROTTLED = frozenset({423, 429})


def rolls_up(row: AuditEntry) -> bool:
    """True for a refusal of a caller without credentials: a 401 (``denied``), a throttled or locked
    sign-in (423, 429), or a failed upload to the open image endpoints. A sign-in whose password was
    checked stays a row of its own (the sign-in throttle bounds those)."""
    if row.user_id is not None or row.outcome == "success":
        return False
    return row.status in _THROTTLED or row.action == "denied" or row.object_type == "image"


def _rollup_key(row: AuditEntry, minute: dt.datetime) -> str:
    parts = (minute.strftime("%Y-%m-%dT%H:%M"), row.client_address, row.action, row.status, row.object_type,
             row.object_id, row.detail)
    return "|".join("" if p is None else str(p) for p in parts)[:400]


def add_to_rollup(session: Session, row: AuditEntry) -> None:
    """Count ``row`` in its source-and-minute roll-up (insert, or add one), in ``session``'s transaction."""
    at = row.at or utcnow()
    minute = at.replace(second=0, microsecond=0)
    values = {"key": _rollup_key(row, minute), "minute": minute, "client_address": row.client_address,
              "action": row.action, "object_type": row.object_type, "object_id": row.object_id,
              "outcome": row.outcome, "status": row.status, "detail": row.detail, "count": 1, "first_at": at,
              "last_at": at, "last_request_id": row.request_id}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(AuditRollup).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"],
        set_={"count": AuditRollup.count + 1, "last_at": stmt.excluded.last_at,
              "last_request_id": stmt.excluded.last_request_id},
    )
    session.execute(stmt)


def _roll_up_before_flush(session: Session, _ctx, _instances) -> None:
    for obj in list(session.new):
        if isinstance(obj, AuditEntry) and rolls_up(obj):
            session.expunge(obj)
            add_to_rollup(session, obj)


def install_rollups(*factories: sessionmaker) -> None:
    """Make every session of ``factories`` count anonymous refusals instead of adding a row each."""
    for factory in factories:
        event.listen(factory, "before_flush", _roll_up_before_flush)


# --- the spool: audit rows that could not be written yet ------------------------------------------


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[Any]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _to_json(row: AuditEntry) -> str:
    out = {name: getattr(row, name) for name in _FIELDS}
    out["at"] = (row.at or utcnow()).isoformat()
    return json.dumps(out)


def _from_json(line: str) -> AuditEntry:
    data = json.loads(line)
    data["at"] = dt.datetime.fromisoformat(data["at"])
    return AuditEntry(**{k: data.get(k) for k in _FIELDS})


def spool(data_dir: Path, row: AuditEntry) -> None:
    """Append ``row`` to the spool (fsynced), to be written by the next ``drain_spool``."""
    path = data_dir / SPOOL_NAME
    with _locked(path) as handle:
        handle.write(_to_json(row) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    log.warning("audit row %s (request %s) kept in %s until the database can take it", row.action,
                row.request_id, path)


def drain_spool(db: Database, data_dir: Path) -> int:
    """Write the spooled rows in one transaction and empty the spool; returns how many were written.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database still cannot take them (the spool is kept).
    """
    path = data_dir / SPOOL_NAME
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with _locked(path) as handle:
        handle.seek(0)
        lines = [line for line in handle.read().splitlines() if line.strip()]
        if not lines:
            return 0
        rows = []
        for line in lines:
            try:
                rows.append(_from_json(line))
            except (ValueError, TypeError):
                log.error("unreadable line in %s skipped: %.200s", path, line)
        with db.quick_session() as session:
            session.add_all(rows)
        handle.seek(0)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
    log.info("wrote %d spooled audit row(s) from %s", len(rows), path)
    return len(rows)


# --- PostgreSQL: the app's role cannot undo the trail ---------------------------------------------

_APPEND_ONLY = {"audit_log": "SELECT, INSERT", "audit_rollups": "SELECT, INSERT, UPDATE"}


def grant_app_role(engine: Engine, role: str) -> None:
    """Give ``role`` (the role the app connects as) what the app needs and no more (PostgreSQL).

    Run it as the schema owner after each migration (``pneumoscan db grant ROLE``). The app role then
    owns nothing: it cannot drop or disable the append-only triggers, alter the tables, or truncate,
    update or delete audit rows (``audit_rollups``: UPDATE for the count, which the trigger guards).

    Raises:
        ValueError: not PostgreSQL, or ``role`` is not a plain identifier.
    """
    if engine.dialect.name != "postgresql":
        raise ValueError("Role grants are for PostgreSQL; SQLite has no roles (its triggers still hold).")
    if not role.replace("_", "").isalnum():
        raise ValueError(f"Role {role!r} must be a plain identifier (letters, digits, '_').")
    statements = [f"GRANT USAGE ON SCHEMA public TO {role}",
                  f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
                  f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
                  f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
                  f"REVOKE ALL ON alembic_version FROM {role}",
                  f"GRANT SELECT ON alembic_version TO {role}"]
    for table, rights in _APPEND_ONLY.items():
        statements += [f"REVOKE ALL ON {table} FROM {role}", f"GRANT {rights} ON {table} TO {role}"]
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    log.info("granted role %s the app's rights (audit tables append-only)", role)
