"""a bulletin's preheader: the preview text inboxes show after the subject

Revision ID: 0002_editor
Revises: 0002_content
Create Date: 2026-12-01 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_editor"
down_revision: str | None = "0002_content"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "preheader",
                sa.Text(),
                nullable=False,
                server_default="",
                comment="The preview text inboxes show after the subject (empty: the default).",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.drop_column("preheader")
