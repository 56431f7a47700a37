"""The one way the rest of actwatch gets a database: an engine with the schema up to date."""

from __future__ import annotations

from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.db.engine import make_engine
from actwatch.db.migrate import upgrade


def open_database(config: Config, *, migrate: bool = True) -> Engine:
    engine = make_engine(config.database_url)
    if migrate:
        upgrade(engine)
    return engine
