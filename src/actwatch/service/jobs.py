"""The scheduler's jobs. Each one reads the database to decide what is due, so running a job
twice, late, or after a restart does the same as running it once on time.

Each job takes the service's `stop` event: once it is set no job starts new work, a poll pass is
cancelled (every feed already stored stays stored, whole), and a send stops between messages.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from actwatch import __version__
from actwatch.config import Config
from actwatch.core import clock
from actwatch.core.clock import iso, parse_iso
from actwatch.core.words import count
from actwatch.db import Engine
from actwatch.db.lock import SchedulerLock
from actwatch.delivery.ledger import needs_sender
from actwatch.feeds.poll import Poller
from actwatch.monitor.state import (
    HEARTBEAT,
    HOUSEKEEPING,
    LAST_POLL,
    read_state,
    write_state,
)
from actwatch.pipeline import new_poller, poll_and_match
from actwatch.review.records import due_scheduled, sending_bulletins
from actwatch.service.drafting import check_draft
from actwatch.service.housekeeping import run_housekeeping
from actwatch.service.sending import run_send

log = logging.getLogger("actwatch.service")
ACTOR = "actwatch serve"
# After a failed draft notification (the mail server is down), try again this much later.
NOTIFY_RETRY = timedelta(minutes=15)
# After a send that stopped on a fatal error (the SMTP server refuses us), leave it this long.
SEND_RETRY = timedelta(minutes=5)


class Jobs:
    def __init__(
        self,
        engine: Engine,
        config: Config,
        stop: threading.Event,
        *,
        lock: SchedulerLock | None = None,
        on_fatal: Callable[[str], None] | None = None,
        env: Mapping[str, str] | None = None,
        mode: str = "serve",
    ) -> None:
        self.engine = engine
        self.config = config
        self.stop = stop
        self.lock = lock
        self.on_fatal = on_fatal or (lambda _reason: None)
        self.env = env
        self.mode = mode
        self.started_at = clock.now()
        self._poller: Poller | None = None
        self._poller_lock = threading.Lock()
        self._sending: set[int] = set()
        self._sending_lock = threading.Lock()
        self._send_not_before: dict[int, datetime] = {}
        # After a failed draft notification, no new attempt before this.
        self._notify_not_before = self.started_at

    # -- heartbeat ---------------------------------------------------------------------------

    def heartbeat(self, *, stopped: bool = False) -> None:
        if self.lock is not None and not stopped and not self.lock.healthy():
            # A dropped PostgreSQL connection takes the advisory lock with it: take it back, or
            # stop before two schedulers run on one database.
            if not self.lock.acquire():
                self.on_fatal("lost the scheduler lock to another instance")
                return
            log.warning("the scheduler lock was lost and taken again", extra={"event": "lock"})
        value: dict[str, Any] = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "version": __version__,
            "mode": self.mode,
            "started_at": iso(self.started_at),
        }
        if stopped:
            value["stopped_at"] = iso(clock.now())
        write_state(self.engine, HEARTBEAT, value)

    # -- feeds -------------------------------------------------------------------------------

    def poll(self) -> None:
        if self.stop.is_set():
            return
        started = clock.now()
        with self._poller_lock:
            if self._poller is None:
                self._poller = new_poller(self.engine, self.config)
            poller = self._poller
        polled = poll_and_match(
            self.engine, self.config, now=started, poller=poller, stop=self.stop
        )
        if polled is None:
            log.info("poll interrupted by shutdown; unfinished feeds are fetched next time")
            return
        report = polled.poll
        classified = polled.matching.as_dict() if polled.matching else {}
        finished = clock.now()
        write_state(
            self.engine,
            LAST_POLL,
            {
                "started_at": iso(started),
                "finished_at": iso(finished),
                **report.as_dict(),
                "classified": classified.get("classified", 0),
                "relevant": classified.get("relevant", 0),
            },
            now=finished,
        )
        log.info(
            "polled %s: %s ok, %s not modified, %s failed, %s not due; %s",
            count(report.feeds, "feed"),
            report.ok,
            report.not_modified,
            report.failed,
            report.skipped,
            count(report.new_items, "new item"),
            extra={"event": "poll", **report.as_dict(), "classified": classified},
        )
        for outcome in report.outcomes:
            if outcome.status == "error":
                log.warning(
                    "feed %s failed: %s",
                    outcome.name,
                    outcome.error,
                    extra={"event": "feed_error", "feed": outcome.name},
                )

    # -- drafts ------------------------------------------------------------------------------

    def draft(self) -> None:
        if self.stop.is_set():
            return
        now = clock.now()
        last_poll = read_state(self.engine, LAST_POLL)
        finished = parse_iso(last_poll.value.get("finished_at")) if last_poll else None
        checked = check_draft(
            self.engine, self.config, now, finished, notify=now >= self._notify_not_before
        )
        extra = {"event": "draft", "season": checked.season.slug}
        if checked.created:
            log.info(
                "drafted the %s bulletin (bulletin %s, %s)",
                checked.season.slug,
                checked.bulletin_id,
                count(checked.items, "item"),
                extra={**extra, "bulletin_id": checked.bulletin_id, "items": checked.items},
            )
        if checked.notify_error is not None:
            self._notify_not_before = now + NOTIFY_RETRY
            log.error(
                "could not tell the editor about draft %s (%s); trying again in %s",
                checked.bulletin_id,
                checked.notify_error,
                NOTIFY_RETRY,
                extra={**extra, "bulletin_id": checked.bulletin_id},
            )

    # -- sending -----------------------------------------------------------------------------

    def send_due(self) -> None:
        """Start the scheduled bulletins whose time has come."""
        for bulletin_id in due_scheduled(self.engine, clock.now()):
            if self.stop.is_set():
                return
            self._send(bulletin_id)

    def sweep(self) -> None:
        """Resume bulletins left `sending` that no live sender is working on (this process was
        stopped or killed mid-send, or a send-worker died), and finish those only waiting to be
        marked sent."""
        for bulletin_id in sending_bulletins(self.engine):
            if self.stop.is_set():
                return
            with self._sending_lock:
                if bulletin_id in self._sending:
                    continue
            if needs_sender(self.engine, bulletin_id):
                log.info(
                    "resuming bulletin %s: it is sending but no live sender has it",
                    bulletin_id,
                    extra={"event": "sweep", "bulletin_id": bulletin_id},
                )
                self._send(bulletin_id)

    def _send(self, bulletin_id: int) -> None:
        now = clock.now()
        if now < self._send_not_before.get(bulletin_id, now):
            return
        with self._sending_lock:
            if bulletin_id in self._sending:
                return
            self._sending.add(bulletin_id)
        try:
            report = run_send(
                self.engine, self.config, bulletin_id, actor=ACTOR, stop=self.stop, env=self.env
            )
            if report is None or report.error:
                self._send_not_before[bulletin_id] = clock.now() + SEND_RETRY
            else:
                self._send_not_before.pop(bulletin_id, None)
        finally:
            with self._sending_lock:
                self._sending.discard(bulletin_id)

    def sending_now(self) -> set[int]:
        with self._sending_lock:
            return set(self._sending)

    # -- housekeeping ------------------------------------------------------------------------

    def housekeeping(self) -> None:
        if self.stop.is_set():
            return
        started = time.monotonic()
        report = run_housekeeping(self.engine, self.config, stop=self.stop)
        write_state(
            self.engine,
            HOUSEKEEPING,
            {**report.as_dict(), "seconds": round(time.monotonic() - started, 3)},
        )
        log.info(
            "housekeeping: %s deleted, %s erased, %s deleted",
            count(report.deliveries_deleted, "delivery row"),
            count(report.subscribers_erased, "subscriber"),
            count(report.signups_deleted, "unconfirmed sign-up"),
            extra={"event": "housekeeping", **report.as_dict()},
        )

    def housekeeping_if_overdue(self) -> None:
        """At start: catch up a night the service was down for."""
        last = read_state(self.engine, HOUSEKEEPING)
        if last is None or clock.now() - last.updated_at > timedelta(hours=25):
            self.housekeeping()

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        with self._poller_lock:
            if self._poller is not None:
                self._poller.close()
                self._poller = None


def guarded(name: str, job: Callable[[], None]) -> Callable[[], None]:
    """Log a failing job with its name (structured), and keep the scheduler going."""

    def run() -> None:
        try:
            job()
        except Exception:
            log.exception("job %s failed", name, extra={"event": "job_failed", "job": name})

    run.__name__ = f"actwatch_{name.replace('-', '_')}"
    return run
