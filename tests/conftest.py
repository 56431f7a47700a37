"""Fixtures shared by every stage's tests: configs in a temporary folder and real databases.

Storage tests run on SQLite and on PostgreSQL (like APScheduler's suite runs over its stores).
The PostgreSQL server is not optional: when it is unreachable those tests fail, never skip.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from sqlalchemy import CursorResult, Engine, create_engine, text

from actwatch.config import Config, parse_config
from actwatch.db import make_engine, upgrade

if TYPE_CHECKING:
    from tests.delivery.smtp import Sink

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
# Debian's Chromium, driven by Playwright (which cannot download browsers here); without the
# background-networking flags it keeps trying to reach Google's hosts on a closed network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POSTGRES_URL = os.environ.get(
    "ACTWATCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT made."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now, for a test server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def repo_config_data() -> dict[str, Any]:
    """The real config.yaml as plain data, for tests to copy and vary."""
    data: dict[str, Any] = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    return data


@pytest.fixture
def write_config(tmp_path: Path, repo_config_data: dict[str, Any]) -> Callable[..., Path]:
    """Write a copy of the real config into tmp_path, with top-level sections replaced."""

    def write(name: str = "config.yaml", **sections: Any) -> Path:
        data = {**repo_config_data, "database": {"url": "sqlite:///actwatch.db"}}
        data.update(sections)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def config(tmp_path: Path, repo_config_data: dict[str, Any]) -> Config:
    """The real rules with state (database, maildir, archive) inside tmp_path."""
    data = {**repo_config_data, "database": {"url": "sqlite:///actwatch.db"}}
    return parse_config(data, tmp_path / "config.yaml")


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is required at {POSTGRES_URL} (set ACTWATCH_TEST_POSTGRES): {exc}",
            pytrace=False,
        )
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    """A URL whose connections see only a fresh schema of their own, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'actwatch.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database on each backend."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(config: Config) -> Iterator[Engine]:
    """A migrated SQLite database for tests that are not about storage."""
    engine = make_engine(config.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A real SMTP server on 127.0.0.1 that accepts every message (tests/delivery/smtp.py)."""
    # Imported here: the sink's module takes free_port from this one.
    from tests.delivery.smtp import Sink, running

    with running(Sink()) as server:
        yield server
