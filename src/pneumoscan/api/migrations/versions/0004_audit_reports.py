"""audit that holds and one report per prediction: audit_rollups, REPLACE/TRUNCATE blocked, unique reports

- ``audit_rollups``: refused or failed requests from callers without credentials, one row per source,
  minute, action, status and reason with a count (instead of one ``audit_log`` row each).
- ``audit_log``: on SQLite a BEFORE INSERT trigger refuses a row whose id exists (``INSERT OR REPLACE``
  and UPSERT rewrote rows despite the UPDATE/DELETE triggers); on PostgreSQL TRUNCATE is refused too.
- ``audit_rollups`` only ever grows: counts may rise, nothing else changes, nothing is deleted.
- ``reports``: duplicates left by concurrent first requests are removed (the oldest stays), then
  ``UNIQUE (study_id, prediction_id)``.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_ABORT = "SELECT RAISE(ABORT, '{} is append-only')"


def upgrade() -> None:
    op.create_table(
        "audit_rollups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("minute", _TS, nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=255), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", _TS, nullable=False),
        sa.Column("last_at", _TS, nullable=False),
        sa.Column("last_request_id", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_rollups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_rollups_key"), ["key"], unique=True)
        batch_op.create_index(batch_op.f("ix_audit_rollups_minute"), ["minute"], unique=False)

    op.execute(
        "DELETE FROM reports WHERE id NOT IN "
        "(SELECT min_id FROM (SELECT MIN(id) AS min_id FROM reports GROUP BY study_id, prediction_id) AS keep)"
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_reports_study_prediction", ["study_id", "prediction_id"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log "
            "WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id) "
            f"BEGIN {_ABORT.format('audit_log')}; END"
        )
        op.execute(
            "CREATE TRIGGER audit_rollups_no_replace BEFORE INSERT ON audit_rollups "
            "WHEN EXISTS (SELECT 1 FROM audit_rollups WHERE id = NEW.id) "
            f"BEGIN {_ABORT.format('audit_rollups')}; END"
        )
        op.execute(f"CREATE TRIGGER audit_rollups_no_delete BEFORE DELETE ON audit_rollups BEGIN "
                   f"{_ABORT.format('audit_rollups')}; END")
        op.execute(
            "CREATE TRIGGER audit_rollups_only_count BEFORE UPDATE ON audit_rollups "
            "WHEN NEW.id IS NOT OLD.id OR NEW.key IS NOT OLD.key OR NEW.minute IS NOT OLD.minute "
            "OR NEW.first_at IS NOT OLD.first_at OR NEW.count < OLD.count "
            f"BEGIN {_ABORT.format('audit_rollups')}; END"
        )
    elif dialect == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
        )
        op.execute(
            "CREATE FUNCTION audit_rollups_only_count() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.key = OLD.key AND NEW.minute = OLD.minute "
            "AND NEW.first_at = OLD.first_at AND NEW.count >= OLD.count THEN RETURN NEW; END IF; "
            "RAISE EXCEPTION 'audit_rollups is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_rollups_only_count BEFORE UPDATE OR DELETE ON audit_rollups "
            "FOR EACH ROW EXECUTE FUNCTION audit_rollups_only_count()"
        )
        op.execute(
            "CREATE TRIGGER audit_rollups_no_truncate BEFORE TRUNCATE ON audit_rollups "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_rollups_only_count()"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("audit_log_no_replace", "audit_rollups_no_replace", "audit_rollups_no_delete",
                     "audit_rollups_only_count"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_rollups_no_truncate ON audit_rollups")
        op.execute("DROP TRIGGER IF EXISTS audit_rollups_only_count ON audit_rollups")
        op.execute("DROP FUNCTION IF EXISTS audit_rollups_only_count()")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint("uq_reports_study_prediction", type_="unique")
    op.drop_table("audit_rollups")
