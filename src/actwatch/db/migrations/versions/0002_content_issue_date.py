"""a bulletin's issue date, when it is set ahead of approval

Revision ID: 0002_content
Revises: 0002_websec
Create Date: 2026-12-01 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_content"
down_revision: str | None = "0002_websec"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "issue_date",
                sa.Date(),
                nullable=True,
                comment="The date the bulletin is issued on, when set ahead (else the approval day).",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.drop_column("issue_date")
