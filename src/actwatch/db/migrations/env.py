"""Alembic environment: the engine comes from actwatch, never from an alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from actwatch.db.schema import metadata

engine: Engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
