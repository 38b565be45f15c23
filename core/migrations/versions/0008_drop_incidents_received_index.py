"""drop ix_incidents_received: ix_incidents_received_id (received_at, id) serves its queries

Every insert of an incident maintained both indexes; the one on (received_at, id), added
by 0006 for newest-first pages, serves every lookup and order by received_at alone too.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 11:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_incidents_received", table_name="incidents")


def downgrade() -> None:
    op.create_index("ix_incidents_received", "incidents", ["received_at"])
