"""feeds: links as published, honest dates, per-fetch warnings, learned identity

Revision ID: 0002_feeds
Revises: 0001
Create Date: 2026-11-24 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_feeds"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.alter_column(
            "warning",
            existing_type=sa.Text(),
            comment="Warnings of the latest fetch that parsed; null if none.",
            existing_comment="A bozo feed that still parsed: what feedparser complained of.",
            existing_nullable=True,
        )
        batch_op.add_column(
            sa.Column(
                "last_warning",
                sa.Text(),
                nullable=True,
                comment="The latest warning, kept when later fetches are clean.",
            )
        )
        batch_op.add_column(sa.Column("last_warning_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "last_error",
                sa.Text(),
                nullable=True,
                comment="The latest error, kept when later fetches succeed.",
            )
        )
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "identity",
                sa.JSON(),
                nullable=False,
                server_default="{}",
                comment="What polling learned about the feed's ids, and the entries it merged and why.",
            )
        )
    # Until now a feed's only error was its current one.
    op.execute(
        "UPDATE feeds SET last_error = error, last_error_at = last_fetched_at WHERE error IS NOT NULL"
    )
    op.execute(
        "UPDATE feeds SET last_warning = warning, last_warning_at = last_ok_at WHERE warning IS NOT NULL"
    )

    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "link",
                sa.Text(),
                nullable=True,
                comment="The link as published (tracking parameters removed): what readers get.",
            )
        )
        batch_op.add_column(
            sa.Column(
                "date_source",
                sa.String(length=20),
                nullable=False,
                server_default="published",
                comment="first_seen: the feed gave no usable date, so published_at is first_seen_at.",
            )
        )
        batch_op.alter_column(
            "canonical_link",
            existing_type=sa.Text(),
            comment="Identity: core.links.canonical_link, or a urn for an entry no link identifies.",
            existing_nullable=False,
        )
    # Items stored so far kept only the canonical form; the sources kept what the feed gave.
    op.execute(
        "UPDATE items SET link = COALESCE("
        "(SELECT item_sources.link FROM item_sources WHERE item_sources.item_id = items.id"
        " ORDER BY item_sources.id LIMIT 1), canonical_link)"
    )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.alter_column("link", existing_type=sa.Text(), nullable=False)
        batch_op.create_check_constraint(
            op.f("ck_items_date_source_allowed"),
            "date_source IN ('published', 'updated', 'first_seen')",
        )

    op.create_table(
        "feed_fetches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("new_items", sa.Integer(), nullable=False),
        sa.Column("updated_items", sa.Integer(), nullable=False),
        sa.Column("merged", sa.JSON(), nullable=False, comment="reason -> entries merged"),
        sa.Column("undated", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('ok', 'error')", name=op.f("ck_feed_fetches_outcome_allowed")
        ),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["feeds.id"],
            name=op.f("fk_feed_fetches_feed_id_feeds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_fetches")),
    )
    with op.batch_alter_table("feed_fetches", schema=None) as batch_op:
        batch_op.create_index("ix_feed_fetches_feed_id", ["feed_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feed_fetches", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_fetches_feed_id")
    op.drop_table("feed_fetches")
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_items_date_source_allowed"), type_="check")
        batch_op.drop_column("date_source")
        batch_op.drop_column("link")
        batch_op.alter_column(
            "canonical_link", existing_type=sa.Text(), comment=None, existing_nullable=False
        )
    with op.batch_alter_table("feeds", schema=None) as batch_op:
        batch_op.drop_column("identity")
        batch_op.drop_column("last_error_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("last_warning_at")
        batch_op.drop_column("last_warning")
        batch_op.alter_column(
            "warning",
            existing_type=sa.Text(),
            comment="A bozo feed that still parsed: what feedparser complained of.",
            existing_nullable=True,
        )
