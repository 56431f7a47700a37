"""editor verdicts kept through reclassify; learned examples and cached scorers

Revision ID: 0002_match
Revises: 0002_feeds
Create Date: 2026-12-01 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_match"
down_revision: str | None = "0002_feeds"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item_matches", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "editor_event_type",
                sa.String(length=30),
                nullable=True,
                comment="The editor's type: kept through reclassify.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "editor_strands",
                sa.JSON(),
                nullable=True,
                comment="The editor's strands (a list): kept through reclassify.",
            )
        )
    op.create_table(
        "learned_examples",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("type_hint", sa.Text(), nullable=True),
        sa.Column("published_on", sa.Date(), nullable=True),
        sa.Column("relevant", sa.Boolean(), nullable=False),
        sa.Column("event_type", sa.String(length=30), nullable=True),
        sa.Column("strands", sa.JSON(), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_learned_examples_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_learned_examples")),
    )
    op.create_table(
        "matcher_models",
        sa.Column("data_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trained_on", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False, comment="Vocabulary, weights and outputs."),
        sa.PrimaryKeyConstraint("data_key", name=op.f("pk_matcher_models")),
    )


def downgrade() -> None:
    op.drop_table("matcher_models")
    op.drop_table("learned_examples")
    with op.batch_alter_table("item_matches", schema=None) as batch_op:
        batch_op.drop_column("editor_strands")
        batch_op.drop_column("editor_event_type")
