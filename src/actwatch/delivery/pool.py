"""The sending side: a pool of worker threads, each with one SMTP connection it keeps open.

Each worker takes a job, builds the reader's message, waits for the rate limit, moves the row to
`sending` (committed), hands the message to the server, and records the outcome in the same
transaction that starts its next message (or at once when it has nothing else to do). So at any
moment each connection has at most one row in `sending`: after a hard kill, at most one message
per connection is in doubt.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from actwatch.delivery.compose import MessageFactory
from actwatch.delivery.ledger import (
    BOUNCE,
    FAILED,
    RETRY,
    SENDING,
    SENT,
    Job,
    Outcome,
    begin,
    record,
    retry_delay,
    utc,
)
from actwatch.mail import MailError
from actwatch.subscribers.tokens import Tokens

log = logging.getLogger(__name__)
CONNECT_FAILURES_FATAL = 3


class RawTransport:
    """What a worker needs from a transport (SMTPTransport has it)."""

    def send_raw(
        self, sender: str, recipient: str, data: bytes, *, dot_stuffed: bool = False
    ) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class RateLimiter:
    """At most `per_second` messages a second across all workers (None: no limit)."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self, stop: threading.Event) -> bool:
        """False when told to stop while waiting."""
        if not self.interval:
            return not stop.is_set()
        with self._lock:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + self.interval
        delay = slot - time.monotonic()
        return not stop.wait(delay) if delay > 0 else not stop.is_set()


@dataclass
class Tally:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0
    uncertain: int = 0
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
            if outcome.error and len(self.errors) < 20:
                self.errors.append(outcome.error)

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
    jobs: queue.Queue[tuple[Job, MessageFactory] | None]
    stop: threading.Event
    limiter: RateLimiter
    db_lock: AbstractContextManager[object]
    max_attempts: int
    first_retry: float  # seconds
    tally: Tally = field(default_factory=Tally)
    fatal: list[str] = field(default_factory=list)
    busy: int = 0
    busy_lock: threading.Lock = field(default_factory=threading.Lock)


def classify(error: MailError, job: Job, shared: Shared, now: datetime) -> Outcome:
    attempts = job.attempts + 1
    text = str(error)[:1000]
    if error.stage == "data" and error.code is None:
        return Outcome(job.delivery_id, job.subscriber_id, SENDING, error=text)
    if error.permanent and error.stage in ("recipient", "data"):
        return Outcome(job.delivery_id, job.subscriber_id, BOUNCE, error=text)
    if attempts >= shared.max_attempts and error.stage != "connect":
        return Outcome(job.delivery_id, job.subscriber_id, FAILED, error=text)
    delay = retry_delay(attempts, timedelta(seconds=shared.first_retry))
    if error.stage in ("connect", "sender") and error.code is None:
        delay = timedelta(0)  # not the reader's fault: due again as soon as we can connect
    return Outcome(
        job.delivery_id, job.subscriber_id, RETRY, error=text, next_attempt_at=now + delay
    )


class Worker(threading.Thread):
    def __init__(
        self, shared: Shared, index: int, transport_factory: Callable[[], RawTransport]
    ) -> None:
        super().__init__(name=f"actwatch-send-{index}", daemon=True)
        self.shared = shared
        self.transport_factory = transport_factory

    def run(self) -> None:
        shared = self.shared
        try:
            transport = self.transport_factory()
        except Exception as exc:
            shared.fatal.append(f"cannot open a transport: {exc}")
            shared.stop.set()
            return
        unrecorded: Outcome | None = None
        connect_failures = 0
        connection = shared.engine.connect()
        try:
            while not shared.stop.is_set():
                try:
                    item = shared.jobs.get(timeout=0.1)
                except queue.Empty:
                    self._flush(connection, unrecorded)
                    unrecorded = None
                    continue
                if item is None:
                    shared.jobs.task_done()
                    break
                try:
                    job, factory = item
                    with shared.busy_lock:
                        shared.busy += 1
                    token = shared.tokens.link_token(job.subscriber_id, job.nonce)
                    built = factory.build(
                        job.delivery_id, job.email, job.name, token, for_smtp=True
                    )
                    if not shared.limiter.wait(shared.stop):
                        break
                    moment = utc()
                    with shared.db_lock, connection.begin():
                        if unrecorded is not None:
                            record(connection, [unrecorded], moment)
                            unrecorded = None
                        started = begin(connection, job.delivery_id, shared.worker_id, moment)
                    if not started:
                        with shared.tally.lock:
                            shared.tally.skipped += 1
                        continue
                    try:
                        transport.send_raw(
                            shared.envelope_from, job.email, built.data, dot_stuffed=built.stuffed
                        )
                    except MailError as exc:
                        outcome = classify(exc, job, shared, utc())
                        if exc.stage in ("connect", "sender"):
                            connect_failures += 1
                            if connect_failures >= CONNECT_FAILURES_FATAL or exc.permanent:
                                shared.fatal.append(str(exc))
                                shared.stop.set()
                        else:
                            connect_failures = 0
                    else:
                        connect_failures = 0
                        outcome = Outcome(
                            job.delivery_id, job.subscriber_id, SENT, message_id=built.message_id
                        )
                    unrecorded = outcome
                    shared.tally.add(outcome)
                finally:
                    with shared.busy_lock:
                        shared.busy -= 1
                    shared.jobs.task_done()
        except Exception as exc:  # never leave a row unrecorded because of a bug
            log.exception("delivery worker failed")
            shared.fatal.append(f"a sending worker failed: {exc!r}")
            shared.stop.set()
        finally:
            try:
                self._flush(connection, unrecorded)
            finally:
                connection.close()
                with contextlib.suppress(Exception):
                    transport.close()

    def _flush(self, connection: Connection, unrecorded: Outcome | None) -> None:
        if unrecorded is not None:
            with self.shared.db_lock, connection.begin():
                record(connection, [unrecorded], utc())
