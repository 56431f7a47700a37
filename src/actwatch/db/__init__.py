"""Storage: the schema, engines for SQLite and PostgreSQL, migrations and the scheduler lock.

`Engine` and `OperationalError` are named here so that the faces (cli, web, service, demo) can
hold an engine and report an unreachable database without importing SQLAlchemy: they never run
a query themselves, each stage's storage module does.
"""

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from actwatch.db.engine import make_engine
from actwatch.db.migrate import current_revision, head_revision, upgrade
from actwatch.db.open import open_database
from actwatch.db.schema import metadata

__all__ = [
    "Engine",
    "OperationalError",
    "current_revision",
    "head_revision",
    "make_engine",
    "metadata",
    "open_database",
    "upgrade",
]
