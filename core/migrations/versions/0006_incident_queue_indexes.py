"""incident queue, open and newest-first indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A migration is frozen: the predicate of core.models.incidents.QUEUE_PREDICATE as of 0006.
OPEN_PREDICATE = "status IN ('new', 'assigned', 'in_progress', 'answered', 'paused', 'reopened')"
QUEUE_PREDICATE = (
    "status IN ('new', 'reopened') OR (needs_review IS true AND status IN "
    "('new', 'assigned', 'in_progress', 'answered', 'paused', 'reopened'))"
)


def upgrade() -> None:
    op.create_index("ix_incidents_received_id", "incidents", ["received_at", "id"])
    op.create_index(
        "ix_incidents_open_received",
        "incidents",
        ["received_at"],
        postgresql_include=["block_code", "status", "due_at", "settlement"],
        postgresql_where=sa.text(OPEN_PREDICATE),
        sqlite_where=sa.text(OPEN_PREDICATE),
    )
    op.create_index(
        "ix_incidents_queue",
        "incidents",
        [sa.text("urgent DESC"), "due_at", sa.text("id DESC")],
        postgresql_where=sa.text(QUEUE_PREDICATE),
        sqlite_where=sa.text(QUEUE_PREDICATE),
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_queue", table_name="incidents")
    op.drop_index("ix_incidents_open_received", table_name="incidents")
    op.drop_index("ix_incidents_received_id", table_name="incidents")
