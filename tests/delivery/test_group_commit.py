"""Group commit keeps the duplicate bound: a worker's step (its last outcome, its next start)
is committed before the step returns, in one transaction, so no connection ever has more
than one row in `sending`; a transaction that fails writes nothing, and every worker whose step
was in it is told."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select

from actwatch.config import Config
from actwatch.db.schema import deliveries
from actwatch.delivery.ledger import PENDING, SENDING, SENT, Job, Outcome, claim, prepare
from actwatch.delivery.pool import GroupCommit
from actwatch.review import open_for_sending
from tests.delivery.conftest import Approved, make_approved

WORKER = "test-host:1:group"
CONNECTIONS = 4


def leased_jobs(
    engine: Engine, config: Config, add_readers: Callable[[Approved, str], None], readers: int
) -> list[Job]:
    approved = make_approved(engine, config)
    add_readers(
        approved,
        "email,name,strands\n" + "".join(f"r{i}@example.org,R {i},\n" for i in range(readers)),
    )
    open_for_sending(engine, approved.bulletin_id, actor="test")
    prepare(engine, approved.bulletin_id)
    return claim(engine, approved.bulletin_id, WORKER, limit=readers)


def states(engine: Engine, ids: list[int]) -> dict[int, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(deliveries.c.id, deliveries.c.state).where(deliveries.c.id.in_(ids))
        )
        return {row.id: row.state for row in rows}


def in_sending(engine: Engine) -> int:
    with engine.connect() as connection:
        return len(
            connection.execute(select(deliveries.c.id).where(deliveries.c.state == SENDING)).all()
        )


def test_each_connection_has_at_most_one_row_in_sending_and_its_last_outcome_written(
    engine: Engine, config: Config, add_readers: Callable[[Approved, str], None]
) -> None:
    jobs = leased_jobs(engine, config, add_readers, 48)
    sqlite = engine.dialect.name == "sqlite"
    group = GroupCommit(WORKER, threading.Lock() if sqlite else contextlib.nullcontext())
    problems: list[str] = []
    most_in_flight = 0
    done = threading.Event()

    def worker(mine: list[Job]) -> None:
        with engine.connect() as connection:
            last: Outcome | None = None
            for job in mine:
                assert group.step(connection, last, job.delivery_id)
                seen = states(engine, [job.delivery_id] + ([last.delivery_id] if last else []))
                if seen[job.delivery_id] != SENDING:
                    problems.append(f"{job.delivery_id} not in sending once started")
                if last is not None and seen[last.delivery_id] != SENT:
                    problems.append(f"{last.delivery_id} not recorded with the next start")
                last = Outcome(job.delivery_id, job.subscriber_id, SENT, message_id="<m>")
            assert group.step(connection, last, jobs[0].delivery_id) is False  # taken already

    def watch() -> None:
        nonlocal most_in_flight
        while not done.is_set():
            most_in_flight = max(most_in_flight, in_sending(engine))
            time.sleep(0.001)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [
        threading.Thread(target=worker, args=(jobs[index::CONNECTIONS],))
        for index in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    assert not problems
    assert most_in_flight <= CONNECTIONS
    assert set(states(engine, [job.delivery_id for job in jobs]).values()) == {SENT}
    assert group.steps == len(jobs) + CONNECTIONS
    assert group.transactions <= group.steps


def test_a_failed_transaction_writes_nothing_and_every_step_in_it_raises(
    sqlite_engine: Engine, config: Config, add_readers: Callable[[Approved, str], None]
) -> None:
    engine = sqlite_engine
    first, second, third = leased_jobs(engine, config, add_readers, 3)
    group = GroupCommit(WORKER, threading.Lock())
    with engine.connect() as connection:
        assert group.step(connection, None, first.delivery_id)
    errors: dict[str, BaseException] = {}

    def step(name: str, outcome: Outcome | None, delivery_id: int) -> None:
        with engine.connect() as connection:
            try:
                group.step(connection, outcome, delivery_id)
            except Exception as exc:
                errors[name] = exc

    # Not a delivery state: the database refuses the row, and with it the whole transaction.
    bad = Outcome(first.delivery_id, first.subscriber_id, "lost-in-the-post")
    with group._commit_lock:  # both steps wait for the same transaction
        threads = [
            threading.Thread(target=step, args=("bad", bad, second.delivery_id)),
            threading.Thread(target=step, args=("good", None, third.delivery_id)),
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        while len(group._handed_in) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.001)
    for thread in threads:
        thread.join()
    assert set(errors) == {"bad", "good"}
    leader, follower = sorted(errors.values(), key=lambda e: isinstance(e, RuntimeError))
    assert isinstance(leader, sqlite3.IntegrityError)  # the driver's own, from its cursor
    assert isinstance(follower, RuntimeError) and follower.__cause__ is leader
    assert states(engine, [first.delivery_id, second.delivery_id, third.delivery_id]) == {
        first.delivery_id: SENDING,
        second.delivery_id: PENDING,
        third.delivery_id: PENDING,
    }
    with pytest.raises(sqlite3.IntegrityError), engine.connect() as connection:
        group.step(connection, bad, second.delivery_id)  # alone, it raises what the database did
