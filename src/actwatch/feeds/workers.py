"""Parse worker processes: every core parses, and a hostile document costs one worker, not the
pass.

Each worker runs with an address-space limit (a document that inflates in memory raises
MemoryError instead of starving the machine) and each parse with an alarm (a document that takes
too long is abandoned). The pool is started on first use, so a pass where every feed answers
304 starts no process at all.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from types import FrameType

from actwatch.feeds.entries import ParsedFeed

# A worker may use this much memory on top of what it had when it started.
MIN_WORKER_MEMORY = 1 << 30
MEMORY_PER_BODY_BYTE = 40
# How much longer than its own alarm the main process waits before giving up on a worker.
STUCK_WORKER_GRACE = 15.0


class ParseTimeout(BaseException):
    """Raised by the alarm inside a worker; a BaseException so no parser code swallows it."""


def worker_count(configured: int | None) -> int:
    if configured:
        return configured
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _init_worker(memory_limit: int | None) -> None:
    # Ctrl-C is the main process's business; it shuts the pool down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_limit is None:
        return
    try:
        import resource

        with open("/proc/self/statm", encoding="ascii") as statm:
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = in_use + memory_limit
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass  # no limit where the platform cannot set one; the size cap still holds


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise ParseTimeout


def parse_with_time_limit(
    body: bytes,
    url: str,
    content_type: str | None,
    now: datetime,
    seconds: float | None,
    format: str = "auto",
) -> ParsedFeed:
    # Imported here, not by the polling process (which only hands bodies over); the forkserver
    # preloads it, so a worker never waits for it.
    from actwatch.feeds.parse import parse_feed

    alarm = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if alarm:
        assert seconds is not None
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return parse_feed(body, url, content_type, now, format)
    except ParseTimeout:
        return ParsedFeed(error=f"parsing took longer than {seconds or 0:g}s; abandoned")
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


class ParsePool:
    """A process pool sized to the cores, made on first use and remade if a worker dies."""

    def __init__(self, workers: int, max_body_bytes: int, preload: Sequence[str] = ()) -> None:
        """`preload`: modules of later stages that will run work in these processes too (the
        matcher, once a pass is over), imported once by the forkserver before it forks."""
        self.workers = workers
        self.preload = tuple(preload)
        self.memory_limit = max(MIN_WORKER_MEMORY, MEMORY_PER_BODY_BYTE * max_body_bytes)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start every worker now (blocking: call it from a thread), so that the first feeds
        to arrive find them ready."""
        executor = self._pool()
        for future in [executor.submit(int) for _ in range(self.workers)]:
            future.result()

    def running_executor(self) -> ProcessPoolExecutor | None:
        """The worker processes if this pass started them, for later stages to share (the
        matcher classifies there once the pass is over); None when no worker runs, so that a
        pass where every feed answered 304 still starts none."""
        with self._lock:
            return self._executor

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            return self._pool_locked()

    def _pool_locked(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # forkserver: forking a process that has threads (the event loop's, httpx's,
            # the database's) is unsafe; spawn would import everything again per worker.
            context = multiprocessing.get_context(
                "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            )
            if context.get_start_method() == "forkserver":
                context.set_forkserver_preload(
                    ["actwatch.feeds.workers", "actwatch.feeds.parse", *self.preload]
                )
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(self.memory_limit,),
            )
        return self._executor

    async def parse(
        self,
        body: bytes,
        url: str,
        content_type: str | None,
        now: datetime,
        seconds: float,
        format: str = "auto",
    ) -> ParsedFeed:
        loop = asyncio.get_running_loop()
        # Submitting can block (the first submits start worker processes): not on the loop.
        executor = await loop.run_in_executor(None, self._pool)
        try:
            future = await loop.run_in_executor(
                None,
                executor.submit,
                parse_with_time_limit,
                body,
                url,
                content_type,
                now,
                seconds,
                format,
            )
            return await asyncio.wait_for(asyncio.wrap_future(future), seconds + STUCK_WORKER_GRACE)
        except TimeoutError:
            self._discard(executor, kill=True)
            return ParsedFeed(error=f"the parser was stuck for over {seconds:g}s and was stopped")
        except BrokenProcessPool:
            self._discard(executor, kill=False)
            return ParsedFeed(error="the parser process died (out of memory or crashed)")

    def _discard(self, executor: ProcessPoolExecutor, *, kill: bool) -> None:
        if self._executor is executor:
            self._executor = None
        if kill:
            # No public way to stop a busy worker before Python 3.14.
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
