"""editor sessions on the server; subscriber mail queued and sent after the response

Revision ID: 0002_websec
Revises: 0002_match
Create Date: 2026-12-01 15:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_websec"
down_revision: str | None = "0002_match"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "editor_sessions",
        sa.Column(
            "id",
            sa.String(length=64),
            nullable=False,
            comment="SHA-256 of the cookie's session secret.",
        ),
        sa.Column("editor_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["editor_id"],
            ["editors.id"],
            name=op.f("fk_editor_sessions_editor_id_editors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_sessions")),
    )
    with op.batch_alter_table("editor_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_editor_sessions_editor_id", ["editor_id"], unique=False)

    op.create_table(
        "subscriber_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('confirm', 'welcome', 'links', 'already')",
            name=op.f("ck_subscriber_mail_kind_allowed"),
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'sent', 'failed')",
            name=op.f("ck_subscriber_mail_state_allowed"),
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_mail_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber_mail")),
    )
    with op.batch_alter_table("subscriber_mail", schema=None) as batch_op:
        batch_op.create_index(
            "ix_subscriber_mail_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_subscriber_mail_subscriber_id_queued_at",
            ["subscriber_id", "queued_at"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriber_mail", schema=None) as batch_op:
        batch_op.drop_index("ix_subscriber_mail_subscriber_id_queued_at")
        batch_op.drop_index("ix_subscriber_mail_state_next_attempt_at")
    op.drop_table("subscriber_mail")
    with op.batch_alter_table("editor_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_editor_sessions_editor_id")
    op.drop_table("editor_sessions")
