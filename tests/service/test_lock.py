"""One scheduler per database: the lock a second instance cannot take, released by death."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from actwatch.db import make_engine
from actwatch.db.lock import AdvisoryLock, FileLock, scheduler_lock


def test_file_lock_is_exclusive_and_names_its_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'actwatch.db'}"
    first = scheduler_lock(make_engine(url), url)
    second = scheduler_lock(make_engine(url), url)
    assert isinstance(first, FileLock)
    assert first.path == tmp_path / "actwatch.db.lock"
    assert first.acquire()
    assert first.acquire()  # taking it again in the same process is harmless
    assert not second.acquire()
    assert isinstance(second, FileLock)
    holder = second.holder()
    assert holder is not None and holder.split()[1].isdigit()
    first.release()
    assert second.acquire()
    assert second.healthy()
    second.release()
    assert not second.healthy()


def test_memory_databases_cannot_be_shared() -> None:
    with pytest.raises(ValueError, match="needs a database file"):
        scheduler_lock(make_engine("sqlite://"), "sqlite://")


@pytest.mark.postgres
def test_advisory_lock_on_postgresql(postgres_url: str) -> None:
    first_engine, second_engine = make_engine(postgres_url), make_engine(postgres_url)
    try:
        first = scheduler_lock(first_engine, postgres_url)
        second = scheduler_lock(second_engine, postgres_url)
        assert isinstance(first, AdvisoryLock) and isinstance(second, AdvisoryLock)
        assert first.acquire()
        assert first.healthy()
        assert not second.acquire()
        first.release()
        assert second.acquire()
        # The server ends the lock's session (a restart, a network cut): the lock is known lost
        # and free for another scheduler.
        held_by = second._connection
        assert held_by is not None
        pid = held_by.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with first_engine.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            connection.commit()
        assert not second.healthy()
        assert first.acquire()
        assert first.healthy()
        first.release()
    finally:
        first_engine.dispose()
        second_engine.dispose()


@pytest.mark.postgres
def test_advisory_locks_of_two_schemas_do_not_collide(postgres_admin: object) -> None:
    # Two installations on one server (each in its own schema) each get a scheduler.
    import uuid

    from sqlalchemy import Engine

    from tests.conftest import POSTGRES_URL

    assert isinstance(postgres_admin, Engine)
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    engines = []
    try:
        with postgres_admin.connect() as connection:
            for schema in schemas:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        urls = [f"{POSTGRES_URL}?options=-csearch_path%3D{schema}" for schema in schemas]
        engines = [make_engine(url) for url in urls]
        locks = [scheduler_lock(engine, url) for engine, url in zip(engines, urls, strict=True)]
        assert all(lock.acquire() for lock in locks)
        for lock in locks:
            lock.release()
    finally:
        for engine in engines:
            engine.dispose()
        with postgres_admin.connect() as connection:
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
