"""The one way the rest of actwatch gets a database: an engine with the schema up to date."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from actwatch.config import Config
from actwatch.db.engine import make_engine
from actwatch.db.migrate import upgrade


def open_database(config: Config, *, migrate: bool = True) -> Engine:
    url = make_url(config.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # A fresh install names a file in a folder that may not exist yet (state/actwatch.db).
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(config.database_url)
    if migrate:
        upgrade(engine)
    return engine
