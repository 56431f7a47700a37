"""Alembic environment: the engine comes from actwatch, never from an alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from actwatch.db.schema import metadata

engine: Engine = context.config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations copy a table and drop the old one. With foreign keys on, dropping
        # `items` would cascade-delete every row that refers to it (sources, verdicts,
        # bulletin choices). SQLite ignores this pragma inside a transaction: set it first.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
