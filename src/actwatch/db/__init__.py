"""Storage: the schema, engines for SQLite and PostgreSQL, and migrations."""

from actwatch.db.engine import make_engine
from actwatch.db.migrate import current_revision, head_revision, upgrade
from actwatch.db.open import open_database
from actwatch.db.schema import metadata

__all__ = [
    "current_revision",
    "head_revision",
    "make_engine",
    "metadata",
    "open_database",
    "upgrade",
]
