"""telegram chat id bigint

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 05:51:20.307625
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_links", schema=None) as batch_op:
        batch_op.alter_column(
            "chat_id", existing_type=sa.INTEGER(), type_=sa.BigInteger(), existing_nullable=True
        )
        batch_op.create_index(batch_op.f("ix_telegram_links_chat_id"), ["chat_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("telegram_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_links_chat_id"))
        batch_op.alter_column(
            "chat_id", existing_type=sa.BigInteger(), type_=sa.INTEGER(), existing_nullable=True
        )
