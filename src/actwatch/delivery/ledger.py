"""The deliveries table: one row per bulletin and subscriber, and every state it moves through.

    pending --claim (a lease: claimed_by/claimed_at)--> sending --250--> sent
                                                          |--4xx at RCPT/DATA--> retry (back-off)
                                                          |--5xx at RCPT--> bounced
                                                          |--tries used up, or a bad row--> failed
                                                          '--server down, message refused,
                                                             outcome unknown--> pending again
    pending/retry --subscriber left before their turn--> suppressed

A claim is only a lease on work: the step that counts is pending -> sending, a conditional update
made (and committed) just before the message goes to the server. A row in `sending` whose sender
is gone was in flight when that sender died: the server may or may not have it. By default such
rows are sent again (at least once: at most one duplicate per connection); a sender that prefers
at most once leaves them, reported as "possibly sent".

A bounce suppresses the address (`suppress_bounced`) only once a bulletin's first recipients
have shown the relay is sane: until then a bounce is kept on the row alone, so a misconfigured
relay that refuses everyone bounces nobody for good (`unbounce` puts them back in the queue).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Update

from actwatch.core.states import DeliveryState
from actwatch.db.schema import deliveries, subscriber_strands, subscribers
from actwatch.subscribers.store import CONFIRMED, mark_bounced

PENDING = DeliveryState.PENDING
SENDING = DeliveryState.SENDING
SENT = DeliveryState.SENT
RETRY = DeliveryState.RETRY
FAILED = DeliveryState.FAILED
BOUNCE = DeliveryState.BOUNCED
SUPPRESSED = DeliveryState.SUPPRESSED
CLAIMABLE = (PENDING, RETRY)
FINAL = (SENT, FAILED, BOUNCE, SUPPRESSED)
# A lease older than this is free for another sender; a `sending` row older than this can only
# belong to a sender that died (an SMTP transaction never takes that long).
LEASE = timedelta(minutes=5)
STALE_SENDING = timedelta(minutes=10)
POSSIBLY_SENT_NOTE = "in flight when its sender stopped: possibly sent"


def sender_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


def holder_alive(claimed_by: str | None, claimed_at: datetime | None, now: datetime) -> bool:
    """Is the sender that holds a row still running? Exact on this host, by age elsewhere."""
    if not claimed_by:
        return False
    host, _, rest = claimed_by.partition(":")
    pid_text = rest.partition(":")[0]
    if host == socket.gethostname() and pid_text.isdigit():
        return _pid_running(int(pid_text))
    return claimed_at is not None and now - claimed_at < STALE_SENDING


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child nobody has reaped yet is a zombie: not running
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def utc(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def prepare(engine: Engine, bulletin_id: int) -> int:
    """A pending row for every confirmed subscriber without one (idempotent); how many added."""
    source = select(literal(bulletin_id), subscribers.c.id, literal(PENDING), literal(0)).where(
        subscribers.c.status == CONFIRMED
    )
    columns = ["bulletin_id", "subscriber_id", "state", "attempts"]
    with engine.begin() as connection:
        dialect = connection.dialect.name
        statement: Any
        if dialect == "postgresql":
            statement = pg_insert(deliveries).from_select(columns, source).on_conflict_do_nothing()
        elif dialect == "sqlite":
            statement = (
                sqlite_insert(deliveries).from_select(columns, source).on_conflict_do_nothing()
            )
        else:  # pragma: no cover - only the two supported backends
            statement = insert(deliveries).from_select(columns, source)
        return int(connection.execute(statement).rowcount or 0)


@dataclass(frozen=True)
class Job:
    delivery_id: int
    subscriber_id: int
    email: str
    name: str | None
    nonce: str
    choice: frozenset[str] | None
    attempts: int


def claim(
    engine: Engine,
    bulletin_id: int,
    worker: str,
    *,
    limit: int,
    now: datetime | None = None,
    write_lock: AbstractContextManager[object] | None = None,
) -> list[Job]:
    """Lease up to `limit` due rows for `worker` (FOR UPDATE SKIP LOCKED on PostgreSQL, so
    several workers share the work). Rows of subscribers who left meanwhile become suppressed.

    `write_lock` (the sending workers' lock on SQLite) is held only while the leases are
    written: reading the leased rows' readers needs no lock, and every worker waits while it
    is held."""
    moment = utc(now)
    lock = write_lock if write_lock is not None else nullcontext()
    # One connection for the whole claim: with SQLite's NullPool each new one was opened (with
    # its pragmas) and closed again, a good part of a claim's time.
    with engine.connect() as connection:
        with lock, connection.begin():
            ids = _due_ids(connection, bulletin_id, worker, moment, limit)
            if not ids:
                return []
            connection.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids), _due(bulletin_id, worker, moment))
                .values(claimed_by=worker, claimed_at=moment)
            )
        with connection.begin():
            rows = connection.execute(
                select(
                    deliveries.c.id,
                    deliveries.c.subscriber_id,
                    deliveries.c.attempts,
                    subscribers.c.email,
                    subscribers.c.name,
                    subscribers.c.status,
                    subscribers.c.token_nonce,
                    subscribers.c.all_strands,
                )
                .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
                .where(
                    deliveries.c.id.in_(ids),
                    deliveries.c.claimed_by == worker,
                    deliveries.c.state.in_(CLAIMABLE),
                )
                .order_by(deliveries.c.id)
            ).all()
            chosen: dict[int, set[str]] = {}
            limited = [row.subscriber_id for row in rows if not row.all_strands]
            if limited:
                for subscriber_id, strand in connection.execute(
                    select(subscriber_strands.c.subscriber_id, subscriber_strands.c.strand).where(
                        subscriber_strands.c.subscriber_id.in_(limited)
                    )
                ):
                    chosen.setdefault(subscriber_id, set()).add(strand)
        gone = [row.id for row in rows if row.status != CONFIRMED]
        if gone:
            with lock, connection.begin():
                connection.execute(
                    update(deliveries)
                    .where(
                        deliveries.c.id.in_(gone),
                        deliveries.c.claimed_by == worker,
                        deliveries.c.state.in_(CLAIMABLE),
                    )
                    .values(state=SUPPRESSED, claimed_by=None, last_error="no longer subscribed")
                )
    return [
        Job(
            delivery_id=row.id,
            subscriber_id=row.subscriber_id,
            email=row.email,
            name=row.name,
            nonce=row.token_nonce,
            choice=None if row.all_strands else frozenset(chosen.get(row.subscriber_id, ())),
            attempts=row.attempts,
        )
        for row in rows
        if row.status == CONFIRMED
    ]


def _due(bulletin_id: int, worker: str, moment: datetime, *states: str) -> Any:
    return and_(
        deliveries.c.bulletin_id == bulletin_id,
        deliveries.c.state.in_(states or CLAIMABLE),
        or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= moment),
        # Never the rows this sender already holds: they are queued, and handing them out
        # again made workers wait for the rate limit on messages another had in hand.
        or_(
            deliveries.c.claimed_by.is_(None),
            and_(deliveries.c.claimed_by != worker, deliveries.c.claimed_at < moment - LEASE),
        ),
    )


def _due_ids(
    connection: Connection, bulletin_id: int, worker: str, moment: datetime, limit: int
) -> list[int]:
    """The first `limit` due rows by id: one query per claimable state, each read in the order
    of the (bulletin, state) index and merged here. One query for both states sorted every
    waiting row of the bulletin for each claim (all 100,000 of them at the start of a big send)."""
    found: list[int] = []
    for state in CLAIMABLE:
        query = (
            select(deliveries.c.id)
            .where(_due(bulletin_id, worker, moment, state))
            .order_by(deliveries.c.id)
            .limit(limit)
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found.extend(connection.execute(query).scalars())
    return sorted(found)[:limit]


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    subscriber_id: int
    state: str  # sent, retry, failed, bounced, pending (again), or sending (it may have it)
    message_id: str | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    tried: bool = True  # False: the server never looked at the message (no attempt used)


class Prepared:
    """A statement run for every message, compiled once per dialect and handed straight to the
    driver's cursor, inside the caller's transaction.

    Profiled, SQLAlchemy's per-execution work (an execution context, result set-up, parameter
    processing) cost several times what the database spends on these one-row updates, and
    they are the send's only per-message statements. The statement is still built with
    SQLAlchemy and its column types still convert the values (their bind processors)."""

    def __init__(self, statement: Update) -> None:
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any], Any]] = {}

    def _for(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any], Any]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            processors: dict[str, Any] = {}
            fixed: dict[str, Any] = {}
            for name, bind in compiled.binds.items():
                processor = bind.type.bind_processor(dialect)
                if bind.required:
                    if processor is not None:
                        processors[name] = processor
                else:  # a literal of the statement: a state, given to the driver as plain text
                    value = str(bind.value) if isinstance(bind.value, str) else bind.value
                    fixed[name] = processor(value) if processor else value
            order = tuple(compiled.positiontup or ()) if compiled.positional else None
            found = (compiled.string, order, fixed, processors)
            self._compiled[dialect.name] = found
        return found

    def _values(
        self, fixed: dict[str, Any], processors: dict[str, Any], params: dict[str, Any]
    ) -> dict[str, Any]:
        values = dict(fixed)
        for name, value in params.items():
            processor = processors.get(name)
            values[name] = processor(value) if processor is not None else value
        return values

    def run(self, connection: Connection, rows: Sequence[dict[str, Any]]) -> int:
        """Execute once per row of parameters; how many rows changed in all."""
        sql, order, fixed, processors = self._for(connection.dialect)
        batch: list[Any] = []
        for params in rows:
            values = self._values(fixed, processors, params)
            batch.append(tuple(values[name] for name in order) if order is not None else values)
        cursor = connection.connection.cursor()
        try:
            if len(batch) == 1:
                cursor.execute(sql, batch[0])
            else:
                cursor.executemany(sql, batch)
            return int(cursor.rowcount)
        finally:
            cursor.close()


_MARK_DONE = Prepared(
    update(deliveries)
    .where(deliveries.c.id == bindparam("did"), deliveries.c.state == SENDING)
    .values(
        state=bindparam("new_state"),
        sent_at=bindparam("when"),
        message_id=bindparam("mid"),
        last_error=bindparam("error"),
        next_attempt_at=bindparam("retry_at"),
        attempts=deliveries.c.attempts + bindparam("tried"),
        claimed_by=None,
    )
)


def record(connection: Connection, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Write outcomes (a bounce suppresses the address later: see `suppress_bounced`).

    An uncertain outcome kept as such (at most once: the connection broke during DATA) leaves
    the row in `sending` with its holder, so it reads as in flight now and as possibly sent
    once this sender is gone."""
    done = [
        {
            "did": o.delivery_id,
            "new_state": str(o.state),
            "when": now if o.state == SENT else None,
            "mid": o.message_id,
            "error": o.error,
            "retry_at": o.next_attempt_at,
            "tried": 1 if o.tried else 0,
        }
        for o in outcomes
        if o.state != SENDING
    ]
    if done:
        _MARK_DONE.run(connection, done)
    for o in outcomes:
        if o.state == SENDING:
            connection.execute(
                update(deliveries)
                .where(deliveries.c.id == o.delivery_id)
                .values(message_id=o.message_id, last_error=o.error)
            )


def put_back(connection: Connection, delivery_id: int, error: str) -> None:
    """sending -> pending, no attempt used: the server never took the message (it was down, or
    refused the message itself). The lease stays with its sender, who tries it again."""
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.state == SENDING)
        .values(state=PENDING, last_error=error[:1000])
    )


def fail_unstarted(connection: Connection, delivery_id: int, worker: str, error: str) -> None:
    """A leased row whose message could not even be built: failed, with why, so it never
    blocks the queue (`actwatch deliveries retry --failed` tries it again)."""
    connection.execute(
        update(deliveries)
        .where(
            deliveries.c.id == delivery_id,
            deliveries.c.claimed_by == worker,
            deliveries.c.state.in_(CLAIMABLE),
        )
        .values(
            state=FAILED,
            attempts=deliveries.c.attempts + 1,
            last_error=error[:1000],
            claimed_by=None,
        )
    )


def fail_in_flight(connection: Connection, delivery_id: int, error: str) -> None:
    """A row in `sending` whose send raised something no mail fault explains (a bug)."""
    connection.execute(
        update(deliveries)
        .where(deliveries.c.id == delivery_id, deliveries.c.state == SENDING)
        .values(
            state=FAILED,
            attempts=deliveries.c.attempts + 1,
            last_error=error[:1000],
            claimed_by=None,
        )
    )


def suppress_bounced(engine: Engine, bulletin_id: int, now: datetime | None = None) -> None:
    """Every address that bounced (5xx at RCPT) on this bulletin is never mailed again."""
    with engine.begin() as connection:
        ids = list(
            connection.execute(
                select(deliveries.c.subscriber_id).where(
                    deliveries.c.bulletin_id == bulletin_id, deliveries.c.state == BOUNCE
                )
            ).scalars()
        )
        for start in range(0, len(ids), 500):
            mark_bounced(connection, ids[start : start + 500], now=utc(now))


def unbounce(engine: Engine, bulletin_id: int) -> int:
    """Bounces not yet applied to their addresses go back to the queue (the relay refused
    everyone, so they said nothing about the readers)."""
    confirmed = select(subscribers.c.id).where(subscribers.c.status == CONFIRMED)
    with engine.begin() as connection:
        return int(
            connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.bulletin_id == bulletin_id,
                    deliveries.c.state == BOUNCE,
                    deliveries.c.subscriber_id.in_(confirmed.scalar_subquery()),
                )
                .values(state=PENDING, claimed_by=None, claimed_at=None, next_attempt_at=None)
            ).rowcount
        )


def requeue(engine: Engine, bulletin_id: int, states: Sequence[str]) -> int:
    """Rows in `states` (failed, retry) back to the queue, due now, with their tries reset."""
    if not states:
        return 0
    with engine.begin() as connection:
        return int(
            connection.execute(
                update(deliveries)
                .where(deliveries.c.bulletin_id == bulletin_id, deliveries.c.state.in_(states))
                .values(
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=None,
                    claimed_by=None,
                    claimed_at=None,
                )
            ).rowcount
        )


def top_errors(engine: Engine, bulletin_id: int, limit: int = 5) -> list[tuple[str, str, int]]:
    """The commonest error replies of a bulletin's rows: (state, reply, rows), most first."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(deliveries.c.state, deliveries.c.last_error, func.count().label("n"))
            .where(
                deliveries.c.bulletin_id == bulletin_id,
                deliveries.c.last_error.is_not(None),
                deliveries.c.state != SENT,
            )
            .group_by(deliveries.c.state, deliveries.c.last_error)
            .order_by(func.count().desc(), deliveries.c.state)
            .limit(limit)
        ).all()
    return [(row.state, row.last_error, int(row.n)) for row in rows]


def last_activity(engine: Engine, bulletin_id: int) -> datetime | None:
    """When a message of this bulletin last went out (or was last taken in hand)."""
    with engine.connect() as connection:
        sent, claimed = connection.execute(
            select(func.max(deliveries.c.sent_at), func.max(deliveries.c.claimed_at)).where(
                deliveries.c.bulletin_id == bulletin_id
            )
        ).one()
    found = [moment for moment in (sent, claimed) if moment is not None]
    return max(found) if found else None


# Built once: a statement made per message cost more than the rest of the message's bookkeeping.
_BEGIN = Prepared(
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("did"),
        deliveries.c.claimed_by == bindparam("worker"),
        # Not IN (...): an expanding IN is rebuilt for every execution.
        or_(deliveries.c.state == PENDING, deliveries.c.state == RETRY),
    )
    .values(state=SENDING, claimed_at=bindparam("now"))
)


def begin(connection: Connection, delivery_id: int, worker: str, now: datetime) -> bool:
    """pending/retry -> sending for this worker's lease; False when someone else has it."""
    return _BEGIN.run(connection, [{"did": delivery_id, "worker": worker, "now": now}]) == 1


def release(engine: Engine, worker: str, ids: Iterable[int] | None = None) -> None:
    """Give back leases not yet started (after SIGTERM, or at the end of a run)."""
    with engine.begin() as connection:
        query = update(deliveries).where(
            deliveries.c.claimed_by == worker, deliveries.c.state.in_(CLAIMABLE)
        )
        if ids is not None:
            query = query.where(deliveries.c.id.in_(list(ids)))
        connection.execute(query.values(claimed_by=None, claimed_at=None))


def abandon(engine: Engine, worker: str) -> int:
    """This sender has stopped: rows it left in `sending` (outcome unknown, kept so by at most
    once) are now plainly possibly sent, whatever process asks next."""
    with engine.begin() as connection:
        return int(
            connection.execute(
                update(deliveries)
                .where(deliveries.c.claimed_by == worker, deliveries.c.state == SENDING)
                .values(claimed_by=None)
            ).rowcount
        )


@dataclass(frozen=True)
class Stale:
    delivery_id: int
    email: str
    claimed_by: str | None
    claimed_at: datetime | None


def stale_sending(engine: Engine, bulletin_id: int, now: datetime | None = None) -> list[Stale]:
    """Rows left in `sending` by senders that are gone: possibly sent."""
    moment = utc(now)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                deliveries.c.id,
                subscribers.c.email,
                deliveries.c.claimed_by,
                deliveries.c.claimed_at,
            )
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(deliveries.c.bulletin_id == bulletin_id, deliveries.c.state == SENDING)
            .order_by(deliveries.c.id)
        ).all()
    return [
        Stale(row.id, row.email, row.claimed_by, row.claimed_at)
        for row in rows
        if not holder_alive(row.claimed_by, row.claimed_at, moment)
    ]


def note_possibly_sent(engine: Engine, stale: Sequence[Stale]) -> None:
    if not stale:
        return
    with engine.begin() as connection:
        connection.execute(
            update(deliveries)
            .where(deliveries.c.id.in_([s.delivery_id for s in stale]))
            .where(deliveries.c.state == SENDING)
            .values(last_error=POSSIBLY_SENT_NOTE)
        )


def resend(engine: Engine, stale: Sequence[Stale]) -> int:
    """Put possibly-sent rows back in the queue (their readers may get a second copy)."""
    if not stale:
        return 0
    with engine.begin() as connection:
        return int(
            connection.execute(
                update(deliveries)
                .where(deliveries.c.id.in_([s.delivery_id for s in stale]))
                .where(deliveries.c.state == SENDING)
                .values(state=PENDING, claimed_by=None, claimed_at=None, last_error=None)
            ).rowcount
        )


def free_dead_leases(engine: Engine, bulletin_id: int, now: datetime | None = None) -> int:
    """Leases (not yet started) held by senders that are gone go back to the queue at once."""
    moment = utc(now)
    with engine.begin() as connection:
        holders = connection.execute(
            select(deliveries.c.claimed_by, func.max(deliveries.c.claimed_at))
            .where(
                deliveries.c.bulletin_id == bulletin_id,
                deliveries.c.state.in_(CLAIMABLE),
                deliveries.c.claimed_by.is_not(None),
            )
            .group_by(deliveries.c.claimed_by)
        ).all()
        dead = [h for h, at in holders if not holder_alive(h, at, moment)]
        if not dead:
            return 0
        return int(
            connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.bulletin_id == bulletin_id,
                    deliveries.c.state.in_(CLAIMABLE),
                    deliveries.c.claimed_by.in_(dead),
                )
                .values(claimed_by=None, claimed_at=None)
            ).rowcount
        )


def due_unclaimed(engine: Engine, bulletin_id: int, now: datetime | None = None) -> bool:
    """Are there due rows nobody holds (another sender's lease ran out meanwhile, or a
    message went back to the queue)?"""
    moment = utc(now)
    with engine.connect() as connection:
        found = connection.execute(
            select(deliveries.c.id)
            .where(
                deliveries.c.bulletin_id == bulletin_id,
                deliveries.c.state.in_(CLAIMABLE),
                deliveries.c.claimed_by.is_(None),
                or_(deliveries.c.next_attempt_at.is_(None), deliveries.c.next_attempt_at <= moment),
            )
            .limit(1)
        ).first()
    return found is not None


def counts(engine: Engine, bulletin_id: int) -> dict[str, int]:
    with engine.connect() as connection:
        found: dict[str, int] = dict(
            connection.execute(
                select(deliveries.c.state, func.count())
                .where(deliveries.c.bulletin_id == bulletin_id)
                .group_by(deliveries.c.state)
            ).all()
        )
    return {state: int(found.get(state, 0)) for state in (*CLAIMABLE, SENDING, *FINAL)}


def next_retry(engine: Engine, bulletin_id: int) -> datetime | None:
    with engine.connect() as connection:
        found: datetime | None = connection.execute(
            select(func.min(deliveries.c.next_attempt_at)).where(
                deliveries.c.bulletin_id == bulletin_id, deliveries.c.state == RETRY
            )
        ).scalar()
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found


def retry_delay(attempts: int, first: timedelta) -> timedelta:
    """Back-off: first, then doubled after each further try, at most a day."""
    delay: timedelta = first * (2 ** max(attempts - 1, 0))
    return min(delay, timedelta(days=1))


# Questions the service, `actwatch status` and housekeeping ask about the deliveries table.


def needs_sender(engine: Engine, bulletin_id: int, now: datetime | None = None) -> bool:
    """Is there work on this `sending` bulletin that no live sender is doing?

    Yes when it has no delivery rows yet (its sender died before preparing them), when rows are
    due and unclaimed (or held by a sender that is gone), or when no row is left to send and
    nobody is in the middle of one (the bulletin only waits to be marked sent)."""
    moment = utc(now)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                deliveries.c.state,
                deliveries.c.claimed_by,
                func.max(deliveries.c.claimed_at).label("claimed_at"),
                func.count().label("rows"),
                func.min(deliveries.c.next_attempt_at).label("next_attempt_at"),
            )
            .where(
                deliveries.c.bulletin_id == bulletin_id,
                or_(deliveries.c.state.in_(CLAIMABLE), deliveries.c.state == SENDING),
            )
            .group_by(deliveries.c.state, deliveries.c.claimed_by)
        ).all()
        total = connection.execute(
            select(func.count()).where(deliveries.c.bulletin_id == bulletin_id)
        ).scalar_one()
    if not total:
        return True
    live_in_flight = False
    for row in rows:
        alive = holder_alive(row.claimed_by, row.claimed_at, moment)
        if row.state == SENDING:
            live_in_flight = live_in_flight or alive
            continue
        leased = alive and row.claimed_at is not None and moment - row.claimed_at < LEASE
        due = row.next_attempt_at is None or row.next_attempt_at <= moment
        if due and not leased:
            return True
    waiting = any(row.state in CLAIMABLE for row in rows)
    return not waiting and not live_in_flight


def counts_by_state(engine: Engine) -> dict[str, int]:
    """Delivery rows of every bulletin, by state (every state present, zero or not)."""
    with engine.connect() as connection:
        found: dict[str, int] = dict(
            connection.execute(
                select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
            ).all()
        )
    return {state.value: int(found.get(state, 0)) for state in DeliveryState}


def counts_per_bulletin(engine: Engine, bulletin_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per bulletin, its delivery rows by state (only the states it has rows in)."""
    per_bulletin: dict[int, dict[str, int]] = {}
    if not bulletin_ids:
        return per_bulletin
    with engine.connect() as connection:
        for bulletin_id, state, count in connection.execute(
            select(deliveries.c.bulletin_id, deliveries.c.state, func.count())
            .where(deliveries.c.bulletin_id.in_(list(bulletin_ids)))
            .group_by(deliveries.c.bulletin_id, deliveries.c.state)
        ):
            per_bulletin.setdefault(bulletin_id, {})[state] = int(count)
    return per_bulletin


def sent_since(engine: Engine, moment: datetime) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).where(
                    deliveries.c.state == SENT, deliveries.c.sent_at > moment
                )
            ).scalar_one()
        )


def delete_for_bulletin(engine: Engine, bulletin_id: int, *, batch: int = 500) -> int:
    """Delete up to `batch` of a bulletin's delivery rows; how many went (0: none left).

    In batches: one long delete would hold SQLite's write lock against the web editor."""
    with engine.begin() as connection:
        ids = list(
            connection.execute(
                select(deliveries.c.id).where(deliveries.c.bulletin_id == bulletin_id).limit(batch)
            ).scalars()
        )
        if ids:
            connection.execute(deliveries.delete().where(deliveries.c.id.in_(ids)))
    return len(ids)
