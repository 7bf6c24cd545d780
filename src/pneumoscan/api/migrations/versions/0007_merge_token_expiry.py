"""merge: 0003 (API token expiry) follows 0002; 0004 (audit roll-ups, one report per prediction) and
0006 (DICOM inbound) follow 0002 on another line

They were written in parallel. A database on either line (or at 0002) upgrades through the other
and then to this revision; nothing to change here.

Revision ID: 0007
Revises: 0003, 0006
Create Date: 2026-11-29

"""

from collections.abc import Sequence

revision: str = "0007"
down_revision: str | Sequence[str] | None = ("0003", "0006")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
