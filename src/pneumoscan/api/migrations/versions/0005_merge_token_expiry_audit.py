"""merge: 0003 (API token expiry) and 0004 (audit roll-ups, one report per prediction) both follow 0002

They were written in parallel. A database at either one (or at 0002) upgrades through the other
and then to this revision; nothing to change here.

Revision ID: 0005
Revises: 0003, 0004
Create Date: 2026-11-29

"""

from collections.abc import Sequence

revision: str = "0005"
down_revision: str | Sequence[str] | None = ("0003", "0004")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
