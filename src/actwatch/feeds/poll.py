"""One pass over the feeds: fetch concurrently, parse on every core, store each feed atomically.

The event loop only waits: fetching is I/O, parsing runs in worker processes, and database work
runs in one thread of its own with one connection, so a slow commit never stalls the network.
A feed's items and its new validators (ETag, Last-Modified) commit together: a crash mid-pass can
never leave a validator that would 304 away items that were not stored.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from actwatch.config import Config, FeedConfig
from actwatch.feeds.entries import ParsedFeed
from actwatch.feeds.http import FetchLimits, FetchRequest, FetchResult, fetch, make_client
from actwatch.feeds.store import (
    FeedRow,
    StoreResult,
    fetch_row,
    load_feed_rows,
    record_failure,
    record_fetches,
    record_not_modified,
    record_successes,
    store_entries,
    success_row,
    sync_feed_rows,
)
from actwatch.feeds.timing import is_due, next_fetch_after_failure, next_fetch_after_success
from actwatch.feeds.workers import ParsePool, worker_count

FeedStatus = Literal["ok", "not_modified", "error", "skipped"]
GONE_REASON = "the server answered 410 Gone"
T = TypeVar("T")


@dataclass(slots=True)
class FeedOutcome:
    name: str
    status: FeedStatus
    error: str | None = None
    warning: str | None = None
    entries: int = 0
    new_items: int = 0
    updated_items: int = 0
    merged: dict[str, int] = field(default_factory=dict)
    """Entries recognised as already stored although their ids differ (or repeated), by why."""
    undated: int = 0
    seconds: float = 0.0
    parse_cpu_seconds: float = 0.0


@dataclass(slots=True)
class PollReport:
    feeds: int = 0
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    skipped: int = 0
    new_items: int = 0
    updated_items: int = 0
    seconds: float = 0.0
    # Where the pass's time went. Fetching, parsing and storing overlap (requests wait on the
    # network while workers parse and the database thread stores), so each is the wall time
    # during which that step had work in hand, and together they exceed `seconds`.
    fetch_seconds: float = 0.0
    parse_seconds: float = 0.0
    store_seconds: float = 0.0
    new_item_ids: list[int] = field(default_factory=list)
    changed_item_ids: list[int] = field(default_factory=list)
    outcomes: list[FeedOutcome] = field(default_factory=list)

    def add(self, outcome: FeedOutcome) -> None:
        self.outcomes.append(outcome)
        if outcome.status == "skipped":
            self.skipped += 1
            return
        self.feeds += 1
        if outcome.status == "ok":
            self.ok += 1
        elif outcome.status == "not_modified":
            self.not_modified += 1
        else:
            self.failed += 1
        self.new_items += outcome.new_items
        self.updated_items += outcome.updated_items

    def as_dict(self) -> dict[str, Any]:
        return {
            "feeds": self.feeds,
            "ok": self.ok,
            "not_modified": self.not_modified,
            "failed": self.failed,
            "skipped": self.skipped,
            "new_items": self.new_items,
            "updated_items": self.updated_items,
            "seconds": round(self.seconds, 3),
        }

    def seconds_by_step(self) -> dict[str, float]:
        return {
            "fetch": round(self.fetch_seconds, 3),
            "parse": round(self.parse_seconds, 3),
            "store": round(self.store_seconds, 3),
        }


class BusyClock:
    """The wall time during which at least one of some overlapping activities was running
    (requests in flight, parses in the workers), counted once however many ran together."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._running = 0
        self._since = 0.0

    @contextmanager
    def running(self) -> Iterator[None]:
        if not self._running:
            self._since = time.perf_counter()
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            if not self._running:
                self.seconds += time.perf_counter() - self._since


@dataclass(slots=True)
class _StoreJob:
    feed: FeedConfig
    row: FeedRow
    result: FetchResult
    parsed: ParsedFeed
    done: asyncio.Future[StoreResult] = field(init=False)
    fetch: dict[str, Any] = field(init=False)
    success: dict[str, Any] = field(init=False)


# Feeds stored in one transaction at most: bounds what one conflict makes us redo.
STORE_BATCH = 50

ProgressCallback = Callable[[FeedOutcome, int, int], None]
"""Called once per feed as it finishes, with (outcome, feeds done, feeds in this pass)."""


class UnknownFeedError(ValueError):
    def __init__(self, names: Collection[str]) -> None:
        self.names = sorted(names)
        super().__init__(f"no feed named {', '.join(map(repr, self.names))} in the config")


class Poller:
    """Polls feeds; keep one for a service so the parse workers outlive a single pass."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        *,
        workers: int | None = None,
        worker_preload: Sequence[str] = (),
    ) -> None:
        self.engine = engine
        self.config = config
        self.limits = FetchLimits.from_config(config)
        self.parse_pool = ParsePool(
            worker_count(workers or config.fetch.parse_workers),
            config.fetch.max_bytes,
            worker_preload,
        )

    def __enter__(self) -> Poller:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.parse_pool.close()

    def poll(
        self,
        *,
        feed_names: Collection[str] | None = None,
        progress: ProgressCallback | None = None,
        force: bool = False,
        now: datetime | None = None,
    ) -> PollReport:
        return asyncio.run(
            self.poll_async(feed_names=feed_names, progress=progress, force=force, now=now)
        )

    async def poll_async(
        self,
        *,
        feed_names: Collection[str] | None = None,
        progress: ProgressCallback | None = None,
        force: bool = False,
        now: datetime | None = None,
    ) -> PollReport:
        started = time.perf_counter()
        now = now or datetime.now(UTC)
        if feed_names is not None:
            unknown = set(feed_names) - {feed.name for feed in self.config.feeds}
            if unknown:
                raise UnknownFeedError(unknown)
        async with _Pass(self, now, progress) as current:
            await current.run(feed_names, force)
        report = current.report
        report.seconds = time.perf_counter() - started
        report.fetch_seconds = current.fetching.seconds
        report.parse_seconds = current.parsing.seconds
        report.store_seconds = current.storing.seconds
        return report


class _Pass:
    """The state of one pass: the HTTP client, the database thread and its connection."""

    def __init__(self, poller: Poller, now: datetime, progress: ProgressCallback | None) -> None:
        self.poller = poller
        self.config = poller.config
        self.now = now
        self.progress = progress
        self.report = PollReport()
        self.not_modified: list[dict[str, Any]] = []
        self._db_thread = ThreadPoolExecutor(1, thread_name_prefix="actwatch-feeds-db")
        self._connection: Connection | None = None
        self._client: httpx.AsyncClient | None = None
        self._semaphore = asyncio.Semaphore(self.config.fetch.concurrency)
        self._done = 0
        self._total = 0
        self._store_queue: list[_StoreJob] = []
        self._store_task: asyncio.Task[None] | None = None
        self.fetching = BusyClock()
        self.parsing = BusyClock()
        self.storing = BusyClock()

    async def __aenter__(self) -> _Pass:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        try:
            if self._client is not None:
                await self._client.aclose()
            if self.not_modified:
                await self._db(self._flush_not_modified)
        finally:
            await self._db(self._close_connection)
            self._db_thread.shutdown(wait=True)

    async def _db(self, function: Callable[..., T], *args: Any) -> T:
        with self.storing.running():
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._db_thread, function, *args)

    def _conn(self) -> Connection:
        if self._connection is None:
            self._connection = self.poller.engine.connect()
        return self._connection

    def _close_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _prepare(self) -> dict[str, FeedRow]:
        connection = self._conn()
        with connection.begin():
            sync_feed_rows(connection, self.config, now=self.now)
            return load_feed_rows(connection)

    async def run(self, feed_names: Collection[str] | None, force: bool) -> None:
        rows = await self._db(self._prepare)
        wanted = [
            feed for feed in self.config.feeds if feed_names is None or feed.name in feed_names
        ]
        due: list[tuple[FeedConfig, FeedRow]] = []
        for feed in wanted:
            row = rows[feed.name]
            if not row.enabled:
                self.report.add(FeedOutcome(feed.name, "skipped", error="disabled"))
            elif not force and not is_due(row.next_fetch_at, self.now):
                assert row.next_fetch_at is not None
                when = row.next_fetch_at.strftime("%Y-%m-%d %H:%M UTC")
                self.report.add(FeedOutcome(feed.name, "skipped", error=f"not due until {when}"))
            else:
                due.append((feed, row))
        self._total = len(due)
        if due:
            # Only when something is fetched: the client's TLS context (the CA bundle) is a
            # good part of a pass where no feed is due.
            self._client = make_client(self.config)
        warm_up = None
        if any(row.etag is None and row.last_modified is None for _, row in due):
            # A feed without validators will surely need parsing: start the workers while
            # the first requests are on the wire, not when the first body arrives.
            loop = asyncio.get_running_loop()
            warm_up = loop.run_in_executor(None, self.poller.parse_pool.start)
        outcomes = await asyncio.gather(*(self._poll_feed(feed, row) for feed, row in due))
        if warm_up is not None:
            await warm_up
        for outcome in outcomes:
            self.report.add(outcome)

    async def _poll_feed(self, feed: FeedConfig, row: FeedRow) -> FeedOutcome:
        started = time.perf_counter()
        outcome = await self._poll_feed_inner(feed, row)
        outcome.seconds = time.perf_counter() - started
        self._done += 1
        if self.progress is not None:
            self.progress(outcome, self._done, self._total)
        return outcome

    async def _poll_feed_inner(self, feed: FeedConfig, row: FeedRow) -> FeedOutcome:
        deadline = (feed.timeout or self.config.fetch.deadline).total_seconds()
        request = FetchRequest(
            row.fetch_url, row.etag, row.last_modified, deadline=deadline, max_bytes=feed.max_bytes
        )
        assert self._client is not None
        async with self._semaphore:
            with self.fetching.running():
                result = await fetch(self._client, request, self.poller.limits)
        if result.outcome == "not_modified":
            self.not_modified.append(
                {
                    "feed_id": row.id,
                    "now": self.now,
                    "next_fetch_at": next_fetch_after_success(
                        self.config.fetch,
                        self.now,
                        max_age=result.max_age,
                        feed_interval=feed.poll_interval,
                    ),
                    "etag": result.etag,
                    "last_modified": result.last_modified,
                    "fetch_url": result.permanent_url,
                }
            )
            return FeedOutcome(feed.name, "not_modified")
        if result.outcome == "error":
            return await self._failed(feed, row, result, result.error or "failed")
        assert result.body is not None
        body, result.body = result.body, None
        with self.parsing.running():
            parsed = await self.poller.parse_pool.parse(
                body, result.url, result.content_type, self.now, deadline, feed.format
            )
        del body
        if parsed.error is not None:
            outcome = await self._failed(feed, row, result, parsed.error)
            outcome.parse_cpu_seconds = parsed.cpu_seconds
            return outcome
        stored = await self._store_soon(_StoreJob(feed, row, result, parsed))
        return FeedOutcome(
            feed.name,
            "ok",
            warning="; ".join([*parsed.warnings, *stored.warnings]) or None,
            entries=len(parsed.entries),
            new_items=len(stored.new_ids),
            updated_items=len(stored.changed_ids),
            merged=dict(stored.merged),
            undated=parsed.undated_entries,
            parse_cpu_seconds=parsed.cpu_seconds,
        )

    async def _failed(
        self, feed: FeedConfig, row: FeedRow, result: FetchResult, error: str
    ) -> FeedOutcome:
        failures = row.consecutive_failures + 1
        disable = GONE_REASON if result.gone else None
        next_fetch_at = (
            None
            if disable
            else next_fetch_after_failure(
                self.config.fetch, self.now, failures, retry_after=result.retry_after
            )
        )
        if disable:
            error = f"{error}; the feed is disabled"
        await self._db(self._record_failure, row.id, error, failures, next_fetch_at, disable)
        return FeedOutcome(feed.name, "error", error=error)

    def _record_failure(
        self,
        feed_id: int,
        error: str,
        failures: int,
        next_fetch_at: datetime | None,
        disable: str | None,
    ) -> None:
        connection = self._conn()
        with connection.begin():
            record_failure(
                connection,
                feed_id,
                now=self.now,
                error=error,
                failures=failures,
                next_fetch_at=next_fetch_at,
                disable_reason=disable,
            )

    async def _store_soon(self, job: _StoreJob) -> StoreResult:
        """Queue a feed for storing; feeds that queue up while the database is busy are then
        stored together, in one transaction (one commit instead of one per feed)."""
        job.done = asyncio.get_running_loop().create_future()
        self._store_queue.append(job)
        if self._store_task is None or self._store_task.done():
            self._store_task = asyncio.create_task(self._drain_store_queue())
        return await job.done

    async def _drain_store_queue(self) -> None:
        while self._store_queue:
            batch = self._store_queue[:STORE_BATCH]
            del self._store_queue[:STORE_BATCH]
            try:
                results = await self._db(self._store_batch, batch)
            except asyncio.CancelledError:
                for job in batch + self._store_queue:
                    job.done.cancel()
                self._store_queue.clear()
                raise
            except Exception as exc:
                # The waiting feeds raise it: a database that fails must fail the pass.
                for job in batch:
                    job.done.set_exception(exc)
                continue
            for job, stored in zip(batch, results, strict=True):
                job.done.set_result(stored)

    def _store_batch(self, batch: list[_StoreJob]) -> list[StoreResult]:
        """Each feed's items and its new validators commit together, so a batch only ever
        commits whole feeds. If the batch meets a conflict, each feed is stored on its own."""
        connection = self._conn()
        try:
            with connection.begin():
                results = [self._store_feed(connection, job) for job in batch]
                record_successes(connection, [job.success for job in batch])
                record_fetches(connection, [job.fetch for job in batch])
        except IntegrityError:
            results = [self._store_alone(connection, job) for job in batch]
        for stored in results:
            self.report.new_item_ids.extend(stored.new_ids)
            self.report.changed_item_ids.extend(stored.changed_ids)
        return results

    def _store_alone(self, connection: Connection, job: _StoreJob) -> StoreResult:
        try:
            with connection.begin():
                stored = self._store_feed(connection, job)
                record_successes(connection, [job.success])
                record_fetches(connection, [job.fetch])
                return stored
        except IntegrityError:
            # Another poller stored one of these links between our read and our write:
            # read again and the entry is simply a known one.
            with connection.begin():
                stored = self._store_feed(connection, job)
                record_successes(connection, [job.success])
                record_fetches(connection, [job.fetch])
                return stored

    def _store_feed(self, connection: Connection, job: _StoreJob) -> StoreResult:
        identity = dict(job.row.identity or {})
        try:
            stored = store_entries(
                connection, job.row.id, job.parsed.entries, self.now, feed=job.row
            )
        except BaseException:
            job.row.identity = identity  # the transaction rolls back what was learned
            raise
        warnings = [*job.parsed.warnings, *stored.warnings]
        job.fetch = fetch_row(
            job.row.id,
            now=self.now,
            outcome="ok",
            warnings=warnings,
            entries=len(job.parsed.entries),
            stored=stored,
            undated=job.parsed.undated_entries,
        )
        job.success = success_row(
            job.row.id,
            now=self.now,
            next_fetch_at=next_fetch_after_success(
                self.config.fetch,
                self.now,
                max_age=job.result.max_age,
                feed_interval=job.feed.poll_interval,
            ),
            etag=job.result.etag,
            last_modified=job.result.last_modified,
            fetch_url=job.result.permanent_url,
            title=job.parsed.title,
            warnings=warnings,
            items_seen=stored.items_seen,
        )
        return stored

    def _flush_not_modified(self) -> None:
        connection = self._conn()
        with connection.begin():
            record_not_modified(connection, self.not_modified)
        self.not_modified.clear()


def poll_feeds(
    engine: Engine,
    config: Config,
    *,
    feed_names: Collection[str] | None = None,
    progress: ProgressCallback | None = None,
    force: bool = False,
    now: datetime | None = None,
) -> PollReport:
    """One pass over the configured feeds (or the named ones) that are due; see `Poller`."""
    with Poller(engine, config) as poller:
        return poller.poll(feed_names=feed_names, progress=progress, force=force, now=now)
