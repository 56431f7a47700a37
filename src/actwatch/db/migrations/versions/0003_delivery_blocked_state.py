"""a bulletin can be blocked (the server rejected the message), and says why a send is held up

Revision ID: 0003_delivery
Revises: 0002_editor
Create Date: 2026-12-01 18:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_delivery"
down_revision: str | None = "0002_editor"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

STATES = ("draft", "in_review", "approved", "scheduled", "sending", "sent", "rejected", "withdrawn")


def _allowed(states: Sequence[str]) -> str:
    return "state IN ({})".format(", ".join(f"'{state}'" for state in states))


def upgrade() -> None:
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_bulletins_state_allowed"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_bulletins_state_allowed"),
            _allowed((*STATES[:5], "blocked", *STATES[5:])),
        )
        batch_op.add_column(
            sa.Column(
                "send_problem",
                sa.Text(),
                nullable=True,
                comment="Why the send is held up: the server's reply that blocked it, or the "
                "outage.",
            )
        )
        batch_op.add_column(sa.Column("send_problem_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # A blocked bulletin goes back to sending: the service resumes it.
    op.execute("UPDATE bulletins SET state = 'sending' WHERE state = 'blocked'")
    with op.batch_alter_table("bulletins", schema=None) as batch_op:
        batch_op.drop_column("send_problem_at")
        batch_op.drop_column("send_problem")
        batch_op.drop_constraint(op.f("ck_bulletins_state_allowed"), type_="check")
        batch_op.create_check_constraint(op.f("ck_bulletins_state_allowed"), _allowed(STATES))
