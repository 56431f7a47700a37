"""The sending side: a pool of worker threads, each with one connection it keeps open.

Each worker takes a job, builds the reader's message, waits for the rate limit, moves the row to
`sending` (committed), hands the message to the server, and records the outcome in the same
transaction that starts its next message (or at once when it has nothing else to do). So at any
moment each connection has at most one row in `sending`: after a hard kill, at most one message
per connection is in doubt. Those transactions are grouped (`GroupCommit`): the workers that
are ready at the same moment share one commit, and each still waits for it before it sends.
With PIPELINING a worker also takes its next job while the current body goes out and writes
that job's envelope (MAIL, RCPT, DATA, no body) in the same write: the row stays pending until
its own transaction commits, and an envelope never followed by its body delivers nothing.

What a fault does (see `faults`): a server-level fault closes the `ServerGate` for every worker,
with back-off, and the message waits its turn again without using an attempt; the send carries
on by itself when the server answers, and gives up (every row still pending) after `max_wait`.
A message-level rejection or a tripped `Breaker` halts the send so the bulletin can be blocked.
Anything else that goes wrong with one reader's message fails that row alone.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, cast

from sqlalchemy import Connection, Engine

from actwatch.delivery.compose import Built, MessageFactory
from actwatch.delivery.faults import Fault, classify
from actwatch.delivery.ledger import (
    BOUNCE,
    FAILED,
    PENDING,
    RETRY,
    SENDING,
    SENT,
    Job,
    Outcome,
    begin,
    fail_in_flight,
    fail_unstarted,
    put_back,
    record,
    retry_delay,
    utc,
)
from actwatch.mail import MailError
from actwatch.subscribers.tokens import Tokens

log = logging.getLogger(__name__)
RESENT_NOTE = "the connection broke after the message was sent, before the server's reply"


class RawTransport(Protocol):
    """What a worker needs from a transport (SMTPTransport and MaildirTransport have it)."""

    def send_raw(
        self, sender: str, recipient: str, data: bytes, *, dot_stuffed: bool = False
    ) -> None: ...

    def close(self) -> None: ...


class Pipelining(RawTransport, Protocol):
    """A transport that can write the next message's envelope with this one's body
    (SMTPTransport, when the server offers PIPELINING)."""

    def send_raw(
        self,
        sender: str,
        recipient: str,
        data: bytes,
        *,
        dot_stuffed: bool = False,
        then: tuple[str, str] | None = None,
    ) -> None: ...

    def abandon(self) -> None: ...


# Write the next envelope ahead only when the rate limit lets the next message follow soon: an
# open transaction waits in DATA state on the server until its body comes.
AHEAD_LONGEST_WAIT = 1.0

Item = tuple[Job, MessageFactory | Exception]


class RateLimiter:
    """At most `per_second` messages a second across all workers (None: no limit).

    Slots are handed out at even intervals. A worker that comes late (a slow commit) may use
    the slots missed in the last `slack` seconds, so the send runs at its limit on average
    instead of losing every slot nobody was ready for; it never runs above it for longer."""

    def __init__(
        self,
        per_second: float | None,
        slack: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self.slack = max(slack, self.interval)
        self.clock = clock
        self._next = clock()
        self._lock = threading.Lock()

    def slot(self) -> float:
        """The moment the caller may send its next message (by `clock`)."""
        with self._lock:
            slot = max(self._next, self.clock() - self.slack)
            self._next = slot + self.interval
        return slot

    def wait(self, stop: threading.Event) -> bool:
        """False when told to stop while waiting."""
        if not self.interval:
            return not stop.is_set()
        delay = self.slot() - self.clock()
        return not stop.wait(delay) if delay > 0 else not stop.is_set()


@dataclass(frozen=True)
class Backoff:
    """Waits between tries of a server that is down: `first`, doubling, at most `longest`."""

    first: float = 1.0
    longest: float = 60.0

    def after(self, tries: int) -> float:
        return float(min(self.first * 2 ** max(tries - 1, 0), self.longest))


@dataclass(frozen=True)
class Halt:
    """Why a send stopped before the end: `kind` is outage, blocked, setup or bug."""

    kind: str
    reason: str


class ServerGate:
    """Open while the server answers. A server-level fault closes it for every worker: they
    wait out the back-off, then one of them probes; its success opens the gate for all, its
    failure doubles the wait. After `max_wait` seconds of outage the send gives up."""

    def __init__(
        self,
        backoff: Backoff,
        max_wait: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backoff = backoff
        self.max_wait = max_wait
        self.clock = clock
        self.down_since: float | None = None
        self.failures = 0
        self.last_error = ""
        self.gave_up = False
        self._reopen_at = 0.0
        self._prober: int | None = None
        self._cond = threading.Condition()

    def passage(self, stop: threading.Event) -> bool:
        """Wait until this worker may talk to the server; False when stopped or given up."""
        with self._cond:
            while True:
                if stop.is_set() or self.gave_up:
                    return False
                if self.down_since is None:
                    return True
                now = self.clock()
                if now - self.down_since >= self.max_wait:
                    self.gave_up = True
                    self._cond.notify_all()
                    return False
                if now >= self._reopen_at and self._prober is None:
                    self._prober = threading.get_ident()
                    return True
                pause = self._reopen_at - now if now < self._reopen_at else self.max_wait
                self._cond.wait(max(min(pause, 0.1, self.down_since + self.max_wait - now), 0.001))

    def up(self) -> None:
        if self.down_since is None:  # open already (every message says so): no lock needed
            return
        with self._cond:
            if self.down_since is not None:
                self.down_since = None
                self.failures = 0
                self._prober = None
                self._cond.notify_all()

    def down(self, error: str) -> None:
        with self._cond:
            now = self.clock()
            self.last_error = error
            if self.down_since is None:
                self.down_since = now
                self.failures = 1
            elif self._prober == threading.get_ident() or now >= self._reopen_at:
                self.failures += 1
            else:
                return  # another worker's connection failing in the same outage
            self._prober = None
            self._reopen_at = now + self.backoff.after(self.failures)
            self._cond.notify_all()

    def done_probing(self) -> None:
        """The prober had nothing to ask the server after all: let another one try."""
        if self._prober != threading.get_ident():  # only this thread makes itself the prober
            return
        with self._cond:
            if self._prober == threading.get_ident():
                self._prober = None
                self._cond.notify_all()

    @property
    def outage_seconds(self) -> float:
        return self.clock() - self.down_since if self.down_since is not None else 0.0


@dataclass
class Breaker:
    """Trips when an unusual share of a bulletin's first recipients bounce (a relay that
    refuses everyone), before those bounces mark anyone bounced for good.

    Watches the first `window` settled messages (sent or bounced, counting earlier runs):
    trips at `streak` bounces in a row, or once `sample` have settled when more than `share`
    of them bounced. Once the window is past it is `trusted`."""

    window: int = 300
    share: float = 0.05
    sample: int = 60
    streak: int = 10
    settled: int = 0
    bounced: int = 0
    in_a_row: int = 0
    tripped: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def trusted(self) -> bool:
        return self.settled >= self.window and self.tripped is None

    def add(self, bounced: bool) -> str | None:
        """Count one settled message; the reason when this trips the breaker."""
        with self.lock:
            if self.tripped is not None or self.settled >= self.window:
                self.settled += 1
                return None
            self.settled += 1
            self.bounced += bounced
            self.in_a_row = self.in_a_row + 1 if bounced else 0
            too_many = self.settled >= self.sample and self.bounced > self.share * self.settled
            if self.in_a_row >= self.streak or too_many:
                self.tripped = (
                    f"{self.bounced} of the first {self.settled} recipients bounced "
                    f"({self.bounced / self.settled:.0%}, more than "
                    f"{math.ceil(self.share * 100)}% is unusual): is the relay refusing us?"
                )
                return self.tripped
            return None


class _Step:
    """One worker's bookkeeping before its next message: the last outcome, the next start."""

    __slots__ = ("delivery_id", "done", "error", "outcome", "started")

    def __init__(self, outcome: Outcome | None, delivery_id: int) -> None:
        self.outcome = outcome
        self.delivery_id = delivery_id
        self.started = False
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """Group commit for the workers' per-message transactions.

    A worker hands in its step (record its last outcome, move its next row to `sending`) and
    waits. Whoever holds the commit lock writes every step handed in so far in one transaction
    on its own connection, commits, and wakes their owners; a step that came in meanwhile
    goes with the next transaction. A commit was most of a message's bookkeeping, and the
    workers often come at the same moment. The duplicate bound is unchanged: no worker sends
    before the transaction holding its start has committed, and that same transaction holds
    its previous outcome, so each connection still has at most one row in `sending`."""

    def __init__(self, worker_id: str, db_lock: AbstractContextManager[object]) -> None:
        self.worker_id = worker_id
        self.db_lock = db_lock
        self._commit_lock = threading.Lock()
        self._handed_in: list[_Step] = []
        self._handed_in_lock = threading.Lock()
        self.transactions = 0
        self.steps = 0

    def step(self, connection: Connection, outcome: Outcome | None, delivery_id: int) -> bool:
        """Record `outcome` and start `delivery_id`, committed; False when someone else has
        the row. Raises what the database raised when the transaction failed."""
        mine = _Step(outcome, delivery_id)
        with self._handed_in_lock:
            self._handed_in.append(mine)
        with self._commit_lock:
            if not mine.done:
                with self._handed_in_lock:
                    steps, self._handed_in = self._handed_in, []
                self._commit(connection, steps)
        if mine.error is not None:  # another worker's transaction, with this step in it, failed
            raise RuntimeError(f"recording the send failed: {mine.error!r}") from mine.error
        return mine.started

    def _commit(self, connection: Connection, steps: list[_Step]) -> None:
        moment = utc()
        try:
            with self.db_lock, connection.begin():
                outcomes = [step.outcome for step in steps if step.outcome is not None]
                if outcomes:
                    record(connection, outcomes, moment)
                for step in steps:
                    step.started = begin(connection, step.delivery_id, self.worker_id, moment)
        except BaseException as exc:  # nothing of it was written: every owner raises
            for step in steps:
                step.started = False
                step.error = exc
            raise
        finally:
            self.transactions += 1
            self.steps += len(steps)
            for step in steps:
                step.done = True


@dataclass
class Tally:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0
    uncertain: int = 0
    resent: int = 0  # outcome unknown, so queued to be sent again
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            if outcome.state == SENT:
                self.sent += 1
            elif outcome.state == RETRY:
                self.deferred += 1
            elif outcome.state == FAILED:
                self.failed += 1
            elif outcome.state == BOUNCE:
                self.bounced += 1
            elif outcome.state == SENDING:
                self.uncertain += 1
            elif outcome.state == PENDING:
                self.resent += 1
            if outcome.error and len(self.errors) < 20:
                self.errors.append(outcome.error)

    def note(self, error: str) -> None:
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(error)

    @property
    def handled(self) -> int:
        return self.sent + self.deferred + self.failed + self.bounced + self.uncertain


@dataclass
class Shared:
    """What the coordinator and the workers share."""

    engine: Engine
    worker_id: str
    envelope_from: str
    tokens: Tokens
    jobs: queue.Queue[Item | None]
    stop: threading.Event
    limiter: RateLimiter
    db_lock: AbstractContextManager[object]
    max_attempts: int
    first_retry: float  # seconds
    gate: ServerGate
    breaker: Breaker = field(default_factory=Breaker)
    at_most_once: bool = False
    tally: Tally = field(default_factory=Tally)
    halts: list[Halt] = field(default_factory=list)
    group: GroupCommit | None = None
    busy: int = 0
    busy_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.group is None:
            self.group = GroupCommit(self.worker_id, self.db_lock)

    def halt(self, kind: str, reason: str) -> None:
        with self.busy_lock:
            self.halts.append(Halt(kind, reason))
        self.stop.set()


def deferral(error: str, job: Job, shared: Shared, now: datetime) -> Outcome:
    """4xx for this reader: retried after a back-off, failed once the tries are used up."""
    attempts = job.attempts + 1
    if attempts >= shared.max_attempts:
        return Outcome(job.delivery_id, job.subscriber_id, FAILED, error=error)
    delay = retry_delay(attempts, timedelta(seconds=shared.first_retry))
    return Outcome(
        job.delivery_id, job.subscriber_id, RETRY, error=error, next_attempt_at=now + delay
    )


class Worker(threading.Thread):
    def __init__(
        self,
        shared: Shared,
        index: int,
        transport_factory: Callable[[], RawTransport],
        pool_size: int = 1,
    ) -> None:
        super().__init__(name=f"actwatch-send-{index}", daemon=True)
        self.shared = shared
        self.transport_factory = transport_factory
        self.transport: RawTransport | None = None
        self.unrecorded: Outcome | None = None
        self.ahead: Item | None = None  # the next job, its envelope maybe written already
        self.last = False  # the queue's end was taken as `ahead`
        self.pool_size = pool_size

    def run(self) -> None:
        shared = self.shared
        connection = shared.engine.connect()
        try:
            while not shared.stop.is_set():
                if self.ahead is not None:  # taken from the queue while the last body went out
                    item: Item | None = self.ahead
                    self.ahead = None
                elif self.last:
                    break
                else:
                    try:
                        item = shared.jobs.get(timeout=0.1)
                    except queue.Empty:
                        self._flush(connection)
                        continue
                if item is None:
                    shared.jobs.task_done()
                    break
                with shared.busy_lock:
                    shared.busy += 1
                try:
                    self._deliver(connection, *item)
                except Exception as exc:  # one reader's message never stops the others
                    log.exception("delivery %s failed", item[0].delivery_id)
                    self._fail(connection, item[0], f"internal error: {exc!r}")
                finally:
                    with shared.busy_lock:
                        shared.busy -= 1
                    shared.jobs.task_done()
        except Exception as exc:  # the database went away: stop, nothing is lost
            log.exception("delivery worker failed")
            shared.halt("bug", f"a sending worker failed: {exc!r}")
        finally:
            if self.ahead is not None:  # stopped: its lease is given back when the run ends
                self.ahead = None
                shared.jobs.task_done()
            try:
                self._flush(connection)
            except Exception:
                log.exception("could not record the last outcome")
            finally:
                connection.close()
                self._close_transport()

    def _pipelining(self) -> Pipelining | None:
        transport = self.transport
        return cast(Pipelining, transport) if hasattr(transport, "abandon") else None

    def _next_envelope(self) -> tuple[str, str] | None:
        """The envelope of this worker's next message, to be written with the current body;
        None when it has none at hand (the next job is taken from the queue now, so it is
        this worker's whichever way its current message ends)."""
        shared = self.shared
        if self.last or shared.stop.is_set() or self._pipelining() is None:
            return None
        if shared.limiter.interval * self.pool_size > AHEAD_LONGEST_WAIT:
            return None
        if self.ahead is None:
            try:
                item = shared.jobs.get_nowait()
            except queue.Empty:
                return None
            if item is None:  # the end: finish the current message, then stop
                shared.jobs.task_done()
                self.last = True
                return None
            self.ahead = item
        job, factory = self.ahead
        if isinstance(factory, Exception):
            return None
        return shared.envelope_from, job.email

    def _deliver(
        self, connection: Connection, job: Job, factory: MessageFactory | Exception
    ) -> None:
        shared = self.shared
        try:
            if isinstance(factory, Exception):  # the copy for this choice cannot be rendered
                raise factory
            token = shared.tokens.link_token(job.subscriber_id, job.nonce)
            built = factory.build(job.delivery_id, job.email, job.name, token, for_smtp=True)
        except Exception as exc:
            log.warning("delivery %s: cannot build the message: %r", job.delivery_id, exc)
            self._fail(connection, job, f"cannot build the message: {exc!r}")
            return
        while True:
            if not shared.gate.passage(shared.stop):
                if shared.gate.gave_up:
                    shared.halt(
                        "outage",
                        f"the mail server has not taken a message for "
                        f"{shared.gate.outage_seconds:.0f}s: {shared.gate.last_error}",
                    )
                return  # the lease is given back when the run ends
            try:
                if not self._send(connection, job, built):
                    return
            finally:
                shared.gate.done_probing()

    def _send(self, connection: Connection, job: Job, built: Built) -> bool:
        """One try; True when the same message should be tried again (the server was down)."""
        shared = self.shared
        if not shared.limiter.wait(shared.stop):
            return False
        assert shared.group is not None
        started = shared.group.step(connection, self.unrecorded, job.delivery_id)
        self.unrecorded = None
        if not started:
            with shared.tally.lock:
                shared.tally.skipped += 1
            return False
        try:
            if self.transport is None:
                self.transport = self.transport_factory()
            then = self._next_envelope()
            pipelining = self._pipelining()
            if then is not None and pipelining is not None:
                pipelining.send_raw(
                    shared.envelope_from,
                    job.email,
                    built.data,
                    dot_stuffed=built.stuffed,
                    then=then,
                )
            else:
                self.transport.send_raw(
                    shared.envelope_from, job.email, built.data, dot_stuffed=built.stuffed
                )
        except MailError as exc:
            return self._fault(connection, job, exc)
        except Exception as exc:
            # Not a mail fault: a bug, or a transport in a state nobody expected. Start afresh.
            log.exception("delivery %s: sending raised", job.delivery_id)
            self._close_transport()
            with shared.db_lock, connection.begin():
                fail_in_flight(connection, job.delivery_id, f"internal error: {exc!r}")
            shared.tally.add(Outcome(job.delivery_id, job.subscriber_id, FAILED, error=repr(exc)))
            return False
        shared.gate.up()
        self._settled(job, Outcome(job.delivery_id, job.subscriber_id, SENT, built.message_id))
        return False

    def _fault(self, connection: Connection, job: Job, exc: MailError) -> bool:
        shared = self.shared
        text = str(exc)[:1000]
        fault = classify(exc)
        if fault in (Fault.SERVER, Fault.SETUP, Fault.REJECTED):
            # The server never took this message: it waits its turn again, no attempt used.
            with shared.db_lock, connection.begin():
                if self.unrecorded is not None:
                    record(connection, [self.unrecorded], utc())
                    self.unrecorded = None
                put_back(connection, job.delivery_id, text)
            if fault == Fault.SERVER:
                shared.gate.down(text)
                return True
            shared.halt("setup" if fault == Fault.SETUP else "blocked", text)
            return False
        shared.gate.up()
        if fault == Fault.BOUNCE:
            self._settled(job, Outcome(job.delivery_id, job.subscriber_id, BOUNCE, error=text))
        elif fault == Fault.DEFERRED:
            self._settled(job, deferral(text, job, shared, utc()))
        elif shared.at_most_once:
            self._settled(job, Outcome(job.delivery_id, job.subscriber_id, SENDING, error=text))
        elif job.attempts + 1 >= shared.max_attempts:
            self._settled(job, Outcome(job.delivery_id, job.subscriber_id, FAILED, error=text))
        else:
            # At least once: the server may have it, or may not; it goes again (to a new
            # connection), so this broken connection causes at most one duplicate.
            note = f"{RESENT_NOTE}: sent again ({text})"
            self._settled(job, Outcome(job.delivery_id, job.subscriber_id, PENDING, error=note))
        return False

    def _settled(self, job: Job, outcome: Outcome) -> None:
        shared = self.shared
        self.unrecorded = outcome
        shared.tally.add(outcome)
        if outcome.state in (SENT, BOUNCE):
            tripped = shared.breaker.add(outcome.state == BOUNCE)
            if tripped:
                shared.halt("breaker", tripped)

    def _fail(self, connection: Connection, job: Job, error: str) -> None:
        shared = self.shared
        with shared.db_lock, connection.begin():
            if self.unrecorded is not None:
                record(connection, [self.unrecorded], utc())
                self.unrecorded = None
            fail_unstarted(connection, job.delivery_id, shared.worker_id, error)
            fail_in_flight(connection, job.delivery_id, error)
        shared.tally.add(Outcome(job.delivery_id, job.subscriber_id, FAILED, error=error))

    def _flush(self, connection: Connection) -> None:
        if self.unrecorded is not None:
            with self.shared.db_lock, connection.begin():
                record(connection, [self.unrecorded], utc())
            self.unrecorded = None

    def _close_transport(self) -> None:
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.close()
            self.transport = None
