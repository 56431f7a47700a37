"""an index on the editor's verdict, for the editor's pages at scale

Revision ID: 0003_perf
Revises: 0003_delivery
Create Date: 2026-12-01 18:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003_perf"
down_revision: str | None = "0003_delivery"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_item_matches_editor_state", "item_matches", ["editor_state"])


def downgrade() -> None:
    op.drop_index("ix_item_matches_editor_state", table_name="item_matches")
