"""`send_bulletin`: deliver an approved bulletin to every confirmed subscriber exactly once.

The run decodes the frozen copy and moves the bulletin to `sending` (review's state machine,
audited; one read of the row), makes one delivery row per subscriber, then claims batches of
rows and feeds them to the worker pool until nothing is due. Run again after a crash or a stop,
it carries on with whoever is left; rows a dead sender left in `sending` are sent again (at least
once), unless the operator asked for at most once. When no row is left to send the bulletin
becomes `sent`.

A run is bounded in time: when the server stays unreachable for `max_wait` it stops with every
unsent row still pending (nobody's attempts used) and says so; the service's next check, or the
operator's next `actwatch send`, carries on from the database. A message the server rejects
(5xx at MAIL FROM or DATA), or a first batch of recipients bouncing in numbers, blocks the
bulletin with the server's reply, every unsent row still pending, until someone sends it again.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.core.states import BulletinState
from actwatch.delivery.compose import DeliveryError, MessageFactory, Renderer, sender
from actwatch.delivery.ledger import (
    BOUNCE,
    CLAIMABLE,
    SENDING,
    SENT,
    Job,
    Stale,
    abandon,
    claim,
    counts,
    due_unclaimed,
    free_dead_leases,
    next_retry,
    note_possibly_sent,
    prepare,
    release,
    resend,
    sender_id,
    stale_sending,
    suppress_bounced,
    unbounce,
)
from actwatch.delivery.pool import (
    Backoff,
    Breaker,
    Halt,
    RateLimiter,
    RawTransport,
    ServerGate,
    Shared,
    Worker,
)
from actwatch.mail import open_transport
from actwatch.review import (
    ConflictError,
    StateError,
    block_sending,
    bulletin_state,
    finish_sending,
    frozen_copy,
    note_send_problem,
    open_for_sending,
)
from actwatch.subscribers.store import CONFIRMED, list_subscribers, search_subscribers
from actwatch.subscribers.tokens import Tokens

ProgressFn = Callable[["SendReport"], None]
# How long one run waits for a mail server that does not answer before it gives up (the rows
# stay pending; the next run, or the service's next check, carries on).
MAX_WAIT = timedelta(minutes=15)
SERVER_BACKOFF = Backoff(first=1.0, longest=60.0)


@dataclass
class SendReport:
    bulletin_id: int
    season: str
    title: str
    total: int = 0
    already_sent: int = 0
    to_send: int = 0  # due or waiting when the run began
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    bounced: int = 0
    suppressed: int = 0
    uncertain: int = 0
    requeued_unknown: int = 0  # outcome unknown (connection broke after DATA): sent again
    possibly_sent: list[Stale] = field(default_factory=list)
    resent: int = 0  # left in flight by an earlier run, put back in the queue
    at_most_once: bool = False
    remaining: dict[str, int] = field(default_factory=dict)
    next_retry: datetime | None = None
    renders: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    finished: bool = False
    halt: Halt | None = None
    blocked: str | None = None  # the server's reply (or the breaker's reason) that blocked it
    errors: list[str] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """Why the run stopped before its end, when it was not told to stop."""
        return self.halt.reason if self.halt is not None else None

    @property
    def handled(self) -> int:
        return self.sent + self.deferred + self.failed + self.bounced + self.uncertain

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def left(self) -> int:
        return sum(self.remaining.get(state, 0) for state in CLAIMABLE)

    @property
    def in_doubt(self) -> int:
        """Rows in `sending` after the run: another sender's, or left possibly sent."""
        return self.remaining.get(SENDING, 0)

    @property
    def complete(self) -> bool:
        """Every confirmed subscriber has a final outcome (sent, or a recipient bounce; or,
        when the operator chose at most once, possibly sent)."""
        remaining = self.remaining
        unsettled = self.left + remaining.get("failed", 0)
        if not self.at_most_once:
            unsettled += self.in_doubt
        return self.finished and not unsettled and self.blocked is None and self.halt is None

    def summary(self) -> str:
        """One line: what happened and what is left."""
        remaining = self.remaining
        parts = [f"{remaining.get(SENT, 0):,} sent", f"{remaining.get(BOUNCE, 0):,} bounced"]
        for state, label in (
            ("pending", "pending"),
            ("retry", "deferred"),
            ("failed", "failed"),
            (SENDING, "in doubt"),
        ):
            if remaining.get(state, 0):
                parts.append(f"{remaining[state]:,} {label}")
        head = f"bulletin {self.bulletin_id}: " + ", ".join(parts)
        if self.blocked is not None:
            return f"{head}; BLOCKED: {self.blocked}"
        if self.halt is not None:
            return f"{head}; stopped: {self.halt.reason}"
        if self.interrupted:
            return f"{head}; stopped before the end"
        return head


def dkim_settings(
    config: Config, env: Mapping[str, str] | None = None
) -> tuple[str, str, bytes] | None:
    if not config.mail.dkim_selector:
        return None
    env = os.environ if env is None else env
    value = env.get(config.mail.dkim_key_env, "").strip()
    if not value:
        raise DeliveryError(
            f"mail.dkim_selector is set but {config.mail.dkim_key_env} holds no private key "
            "(the PEM text, or the path of a PEM file)"
        )
    key = value.encode() if value.startswith("-----") else Path(value).expanduser().read_bytes()
    domain = config.mail.dkim_domain or sender(config).domain
    return config.mail.dkim_selector, domain, key


def smtp_factory(
    config: Config, env: Mapping[str, str] | None = None
) -> Callable[[], RawTransport]:
    """One new transport per worker: an SMTP connection, or (maildir:PATH) one file per message
    in that Maildir, so a send works end to end without a mail server."""

    def make() -> RawTransport:
        transport = open_transport(config, env)
        if not hasattr(transport, "send_raw"):  # pragma: no cover - every transport has it
            raise DeliveryError(f"mail.url is {config.mail.url}: it cannot send in bulk")
        return transport  # type: ignore[return-value]

    return make


transport_factory_for = smtp_factory


def send_bulletin(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    *,
    actor: str = "actwatch send",
    transport_factory: Callable[[], RawTransport] | None = None,
    connections: int | None = None,
    rate_limit: float | None = None,
    batch_size: int | None = None,
    at_most_once: bool = False,
    wait_retries: bool = False,
    max_wait: timedelta = MAX_WAIT,
    server_backoff: Backoff = SERVER_BACKOFF,
    breaker: Breaker | None = None,
    check_bounces: bool = True,
    stop: threading.Event | None = None,
    progress: ProgressFn | None = None,
    env: Mapping[str, str] | None = None,
) -> SendReport:
    started = time.monotonic()
    stop = stop or threading.Event()
    tokens = Tokens.from_config(config, env)
    dkim = dkim_settings(config, env)
    make_transport = transport_factory or smtp_factory(config, env)
    make_transport().close()  # a transport that cannot be made fails before anything changes
    frozen = open_for_sending(engine, bulletin_id, actor=actor)
    renderer = Renderer(config, frozen, dkim=dkim)
    renderer.verify()
    report = SendReport(bulletin_id, renderer.bulletin.season.slug, renderer.bulletin.title)
    report.at_most_once = at_most_once

    if frozen.state == SENDING:
        prepare(engine, bulletin_id)
    report.possibly_sent = stale_sending(engine, bulletin_id)
    if at_most_once:
        note_possibly_sent(engine, report.possibly_sent)
    else:
        report.resent = resend(engine, report.possibly_sent)
    free_dead_leases(engine, bulletin_id)
    before = counts(engine, bulletin_id)
    report.already_sent = before["sent"]
    report.total = sum(before.values())
    report.to_send = sum(before[state] for state in CLAIMABLE)

    # The operator who has looked at the bounces may let them stand: no breaker then.
    breaker = breaker or (Breaker() if check_bounces else Breaker(window=0))
    breaker.settled = before[SENT] + before[BOUNCE]
    if breaker.trusted:
        suppress_bounced(engine, bulletin_id)

    worker_id = sender_id()
    sqlite = engine.dialect.name == "sqlite"
    shared = Shared(
        engine=engine,
        worker_id=worker_id,
        envelope_from=config.mail.from_,
        tokens=tokens,
        jobs=queue.Queue(maxsize=max(64, 2 * (batch_size or config.mail.batch_size))),
        stop=stop,
        limiter=RateLimiter(rate_limit if rate_limit is not None else config.mail.rate_limit),
        # SQLite has one writer: take turns here instead of in its busy handler's sleeps.
        db_lock=threading.Lock() if sqlite else contextlib.nullcontext(),
        max_attempts=config.mail.max_attempts,
        first_retry=config.mail.retry_backoff.total_seconds(),
        gate=ServerGate(server_backoff, max_wait.total_seconds()),
        breaker=breaker,
        at_most_once=at_most_once,
    )
    pool_size = connections or config.mail.connections
    workers = [Worker(shared, index, make_transport, pool_size) for index in range(pool_size)]
    for worker in workers:
        worker.start()

    def tell() -> None:
        tally = shared.tally
        report.sent, report.deferred, report.failed = tally.sent, tally.deferred, tally.failed
        report.bounced, report.uncertain = tally.bounced, tally.uncertain
        report.requeued_unknown = tally.resent
        report.seconds = time.monotonic() - started
        report.renders = renderer.renders
        if progress is not None:
            progress(report)

    try:
        _feed(
            engine, config, bulletin_id, renderer, shared, workers, batch_size, wait_retries, tell
        )
    finally:
        for _ in workers:
            with contextlib.suppress(queue.Full):
                shared.jobs.put_nowait(None)
        if stop.is_set():
            _drain(shared.jobs)
        for worker in workers:
            worker.join()
        release(engine, worker_id)
        abandon(engine, worker_id)
    tell()
    report.errors = list(shared.tally.errors)
    report.halt = _first_halt(shared.halts)
    report.interrupted = stop.is_set() and report.halt is None
    _after_halt(engine, bulletin_id, actor, report, shared)
    report.remaining = counts(engine, bulletin_id)
    report.next_retry = next_retry(engine, bulletin_id)
    report.seconds = time.monotonic() - started
    if report.halt is None and (breaker.trusted or not report.left):
        suppress_bounced(engine, bulletin_id)
    report.finished = report.halt is None and (
        frozen.state == BulletinState.SENT or _finish_if_done(engine, bulletin_id, actor, report)
    )
    return report


def _first_halt(halts: list[Halt]) -> Halt | None:
    """The reason that matters most when several workers stopped at once."""
    for kind in ("blocked", "breaker", "setup", "outage", "bug"):
        for halt in halts:
            if halt.kind == kind:
                return halt
    return None


def _after_halt(
    engine: Engine, bulletin_id: int, actor: str, report: SendReport, shared: Shared
) -> None:
    halt = report.halt
    if halt is None:
        if report.sent or report.bounced or report.deferred:
            note_send_problem(engine, bulletin_id, None)
        return
    if halt.kind in ("blocked", "breaker"):
        if halt.kind == "breaker":
            unbounce(engine, bulletin_id)  # those bounces said nothing about the readers
        reason = halt.reason if halt.kind == "blocked" else f"circuit breaker: {halt.reason}"
        # Another sender may have blocked it (or an operator moved it on) at the same moment.
        with contextlib.suppress(ConflictError, StateError):
            block_sending(engine, bulletin_id, actor=actor, reason=reason)
        report.blocked = reason
        return
    note_send_problem(engine, bulletin_id, halt.reason)


def _feed(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    renderer: Renderer,
    shared: Shared,
    workers: list[Worker],
    batch_size: int | None,
    wait_retries: bool,
    tell: Callable[[], None],
) -> None:
    limit = batch_size or config.mail.batch_size
    last_tell = 0.0
    while not shared.stop.is_set():
        # Claim only when the queue has room, so few rows sit leased but unstarted.
        while shared.jobs.qsize() > limit and not shared.stop.is_set():
            time.sleep(0.02)
            last_tell = _maybe_tell(tell, last_tell)
        # Its writes under the workers' lock: on SQLite a claim meeting a worker's write waited
        # in the busy handler's sleeps, or made the worker (and every worker queued behind it)
        # wait there.
        jobs = claim(engine, bulletin_id, shared.worker_id, limit=limit, write_lock=shared.db_lock)
        if not jobs:
            _wait_idle(shared, workers, tell)
            if shared.stop.is_set():
                return
            if due_unclaimed(engine, bulletin_id):
                continue
            retry_at = next_retry(engine, bulletin_id)
            if retry_at is None or not wait_retries:
                return
            delay = (retry_at - datetime.now(UTC)).total_seconds()
            if delay > 0 and shared.stop.wait(min(delay, 60.0)):
                return
            continue
        for job in jobs:
            factory: MessageFactory | Exception
            try:
                factory = renderer.factory(job.choice)
            except Exception as exc:  # this choice cannot be rendered: its rows fail alone
                factory = exc
            if not _put(shared, (job, factory)):
                return
            last_tell = _maybe_tell(tell, last_tell)
        if not any(worker.is_alive() for worker in workers):
            return


def _maybe_tell(tell: Callable[[], None], last: float) -> float:
    now = time.monotonic()
    if now - last >= 0.1:
        tell()
        return now
    return last


def _put(shared: Shared, item: tuple[Job, MessageFactory | Exception]) -> bool:
    while not shared.stop.is_set():
        try:
            shared.jobs.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _wait_idle(shared: Shared, workers: list[Worker], tell: Callable[[], None]) -> None:
    last = 0.0
    while not shared.stop.is_set() and any(w.is_alive() for w in workers):
        if shared.jobs.unfinished_tasks == 0:
            return
        time.sleep(0.01)
        last = _maybe_tell(tell, last)


def _drain(jobs: queue.Queue[Any]) -> None:
    while True:
        try:
            jobs.get_nowait()
            jobs.task_done()
        except queue.Empty:
            return


def _finish_if_done(engine: Engine, bulletin_id: int, actor: str, report: SendReport) -> bool:
    """Sending -> sent once no row is waiting or in flight (a row in doubt counts as in
    flight unless the operator chose at most once and its sender is gone)."""
    remaining = report.remaining
    if remaining.get("pending", 0) or remaining.get("retry", 0):
        return False
    if remaining.get(SENDING, 0) and (
        not report.at_most_once or remaining[SENDING] > len(stale_sending(engine, bulletin_id))
    ):
        return False  # in flight: another sender's, or to be sent again
    try:
        finish_sending(
            engine,
            bulletin_id,
            actor=actor,
            sent=remaining.get("sent", 0),
            failed=remaining.get("failed", 0),
            bounced=remaining.get("bounced", 0),
            suppressed=remaining.get("suppressed", 0),
            possibly_sent=remaining.get(SENDING, 0),
        )
    except (ConflictError, StateError):
        # Another sender (a send-worker beside us) finished it at the same moment.
        return bulletin_state(engine, bulletin_id) == BulletinState.SENT
    return True


# Without the database's delivery rows: files instead of mail, and one copy to one address.


def _file_name(index: int, email: str) -> str:
    return f"{index:06d}-{re.sub(r'[^A-Za-z0-9@._-]+', '_', email)[:120]}.eml"


def dry_run(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    folder: Path,
    *,
    env: Mapping[str, str] | None = None,
    limit: int | None = None,
) -> tuple[int, int]:
    """Write each confirmed subscriber's message as an .eml file; nothing is sent or recorded.
    Returns (files written, distinct renderings)."""
    tokens = Tokens.from_config(config, env)
    renderer = Renderer(config, frozen_copy(engine, bulletin_id), dkim=dkim_settings(config, env))
    renderer.verify()
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    # With a limit, only those readers are read: a sample of one loaded every subscriber
    # (100 MB at 100,000). The same order either way: by address.
    readers = (
        list_subscribers(engine, status=CONFIRMED)
        if limit is None
        else search_subscribers(engine, status=CONFIRMED, limit=max(limit, 0)).subscribers
    )
    for index, subscriber in enumerate(readers, start=1):
        if limit is not None and written >= limit:
            break
        factory = renderer.factory(subscriber.choice)
        token = tokens.link_token(subscriber.id, subscriber.token_nonce)
        built = factory.build(0, subscriber.email, subscriber.name, token)
        (folder / _file_name(index, subscriber.email)).write_bytes(built.data)
        written += 1
    return written, renderer.renders
