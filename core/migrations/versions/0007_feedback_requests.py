"""feedback requests: where the citizen was asked «Проблема решена?» (VK comment, e-mail)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 08:13:38.234896
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import core.models.base

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feedback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("thread", sa.String(length=200), nullable=True),
        sa.Column("author_id", sa.String(length=80), nullable=True),
        sa.Column("contact", sa.String(length=300), nullable=True),
        sa.Column("asked_at", core.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=True),
        sa.Column("answered_at", core.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_feedback_requests_answer_id_answers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_feedback_requests_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_feedback_requests_message_id_messages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_requests")),
        sa.UniqueConstraint("channel", "ref", name=op.f("uq_feedback_requests_channel_ref")),
    )
    with op.batch_alter_table("feedback_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_requests_incident_id"), ["incident_id"], unique=False
        )
        batch_op.create_index("ix_feedback_requests_thread", ["thread"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feedback_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_requests_thread")
        batch_op.drop_index(batch_op.f("ix_feedback_requests_incident_id"))

    op.drop_table("feedback_requests")
