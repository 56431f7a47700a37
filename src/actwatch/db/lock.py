"""One scheduler per database: a lock held for the life of the process.

SQLite: an exclusive `flock` on `<database file>.lock`. PostgreSQL: a session advisory lock on a
connection of its own, kept open (the server drops the lock if the connection dies, so a crashed
scheduler never blocks its successor). Either way the operating system or the server releases the
lock when the process dies: there is no stale lock to clean up by hand.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import socket
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


class LockBusy(Exception):
    """Another scheduler holds the lock."""


class SchedulerLock(Protocol):
    description: str

    def acquire(self) -> bool:
        """Take the lock if it is free; False when another process has it."""

    def healthy(self) -> bool:
        """Is the lock still ours (a PostgreSQL connection can drop)?"""

    def release(self) -> None: ...


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"lock file {path}"
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # Who holds it, for the operator reading the file; the lock itself is the flock.
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def healthy(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class AdvisoryLock:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.description = "a PostgreSQL advisory lock"
        self._connection: Connection | None = None
        self._key: int | None = None
        self._guard = threading.Lock()

    def _lock_key(self, connection: Connection) -> int:
        # Stable for one database and schema, so installations sharing a server do not collide.
        database, schema = connection.execute(
            text("SELECT current_database(), current_schema()")
        ).one()
        digest = hashlib.sha256(f"actwatch scheduler:{database}:{schema}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def acquire(self) -> bool:
        with self._guard:
            if self._connection is not None:
                return True
            connection = self.engine.connect()
            try:
                # Autocommit: the lock belongs to the session, and no transaction stays open.
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                key = self._lock_key(connection)
                got = connection.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
                ).scalar_one()
            except BaseException:
                connection.close()
                raise
            if not got:
                connection.close()
                return False
            self._connection, self._key = connection, key
            self.description = f"PostgreSQL advisory lock {key}"
            return True

    def healthy(self) -> bool:
        with self._guard:
            if self._connection is None:
                return False
            try:
                assert self._key is not None
                # A bigint key shows in pg_locks as its high and low 32 bits.
                held = self._connection.execute(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND pid = pg_backend_pid() AND granted AND objsubid = 1 "
                        "AND classid::bigint = :high AND objid::bigint = :low"
                    ),
                    {"high": (self._key >> 32) & 0xFFFFFFFF, "low": self._key & 0xFFFFFFFF},
                ).scalar_one()
            except Exception:
                log.exception("the scheduler lock's database connection failed")
                self._drop()
                return False
            if not held:
                self._drop()
            return bool(held)

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.invalidate()
            with contextlib.suppress(Exception):
                self._connection.close()
        self._connection = None

    def release(self) -> None:
        with self._guard:
            if self._connection is None:
                return
            with contextlib.suppress(Exception):
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self._key}
                )
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None


def scheduler_lock(engine: Engine, database_url: str) -> SchedulerLock:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise ValueError(
                "the service needs a database file (database.url = sqlite:///PATH) "
                "or PostgreSQL: an in-memory database cannot be shared"
            )
        return FileLock(Path(database).with_name(Path(database).name + ".lock"))
    return AdvisoryLock(engine)
