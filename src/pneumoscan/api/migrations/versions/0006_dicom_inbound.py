"""dicom inbound: studies may arrive over DICOM (source, SOPInstanceUID), be stored as refusals, be
marked as read; dicom_sends queues the results sent back to the PACS

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=16), nullable=False, server_default="upload"))
        batch_op.add_column(sa.Column("sop_instance_uid", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("refusal_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("refusal_message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("read_at", _TS, nullable=True))
        batch_op.add_column(sa.Column("read_by", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_studies_sop_instance_uid", ["sop_instance_uid"], unique=True)

    op.create_table(
        "dicom_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("destination", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=255), nullable=True),
        sa.Column("next_attempt_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=True),
        sa.Column("sop_instance_uid", sa.String(length=64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dicom_sends", schema=None) as batch_op:
        batch_op.create_index("ix_dicom_sends_study_id", ["study_id"], unique=False)
        batch_op.create_index("ix_dicom_sends_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("dicom_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_dicom_sends_status")
        batch_op.drop_index("ix_dicom_sends_study_id")
    op.drop_table("dicom_sends")
    with op.batch_alter_table("studies", schema=None) as batch_op:
        batch_op.drop_index("ix_studies_sop_instance_uid")
        for column in ("read_by", "read_at", "refusal_message", "refusal_reason", "sop_instance_uid", "source"):
            batch_op.drop_column(column)
