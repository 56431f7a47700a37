"""The one owner of the `service_state` table: facts the service keeps about itself (the
scheduler's heartbeat, the last poll, the last housekeeping). Kept in the database, so the web
process, `actwatch status` and a standby instance all read the same truth as the scheduler that
wrote it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from actwatch.core.clock import utc
from actwatch.db.schema import service_state

HEARTBEAT = "scheduler"
LAST_POLL = "last_poll"
HOUSEKEEPING = "housekeeping"


@dataclass(frozen=True)
class StateEntry:
    value: dict[str, Any]
    updated_at: datetime


def write_state(
    engine: Engine, key: str, value: dict[str, Any], now: datetime | None = None
) -> None:
    with engine.begin() as connection:
        _upsert(connection, key, value, utc(now))


def _upsert(connection: Connection, key: str, value: dict[str, Any], moment: datetime) -> None:
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(service_state).values(key=key, value=value, updated_at=moment)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[service_state.c.key],
            set_={"value": statement.excluded.value, "updated_at": statement.excluded.updated_at},
        )
    )


def read_state(engine: Engine, key: str) -> StateEntry | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(service_state.c.value, service_state.c.updated_at).where(
                service_state.c.key == key
            )
        ).first()
    if row is None:
        return None
    return StateEntry(dict(row.value or {}), row.updated_at)


def read_all(engine: Engine) -> dict[str, StateEntry]:
    with engine.connect() as connection:
        return {
            row.key: StateEntry(dict(row.value or {}), row.updated_at)
            for row in connection.execute(select(service_state))
        }
