"""The web app's sender of subscriber mail: a task beside the pages that sends what they queued.

The pages answer first and wake this task; it sends over one connection, then sleeps until the
next retry is due (or a minute, or the next wake-up). A mail server that is down costs nothing a
visitor can see: the queue keeps the messages and the retries wait longer each time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from actwatch.config import Config
from actwatch.db import Engine
from actwatch.mail import Transport
from actwatch.subscribers import outbox
from actwatch.subscribers.mail import send_queued
from actwatch.subscribers.tokens import Tokens

log = logging.getLogger(__name__)
IDLE_CHECK = 60.0  # seconds: also picks up what another process queued
STOP_WITHIN = 3.0  # seconds a message being sent may take to finish on shutdown


class OutboxSender:
    def __init__(
        self,
        engine: Engine,
        config: Config,
        tokens: Tokens,
        transport_factory: Callable[[], Transport],
    ) -> None:
        self.engine = engine
        self.config = config
        self.tokens = tokens
        self.transport_factory = transport_factory
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()

    def poke(self) -> None:
        """Something was queued: send it now."""
        if self._wake is not None:
            self._wake.set()

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="actwatch-subscriber-mail")

    async def stop(self) -> None:
        """Stop between two messages; a round in progress finishes its message (its thread
        holds a database connection, which must be back in the pool before the engine goes)."""
        self._stop.set()
        self.poke()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=STOP_WITHIN)
            except TimeoutError:
                log.warning("subscriber mail still sending after %ss; leaving it", STOP_WITHIN)
                self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        assert self._wake is not None
        while not self._stop.is_set():
            self._wake.clear()
            wait = IDLE_CHECK
            try:
                await run_in_threadpool(self._send_round)
                count, due = await run_in_threadpool(outbox.waiting, self.engine)
                if count and due is not None:
                    wait = min(IDLE_CHECK, max(0.05, (due - datetime.now(UTC)).total_seconds()))
            except Exception:
                log.exception("sending subscriber mail failed; trying again in a minute")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def _send_round(self) -> None:
        # Rounds until nothing is due: a burst of sign-ups is more than one claim's worth.
        while not self._stop.is_set():
            report = send_queued(
                self.engine,
                self.config,
                self.tokens,
                transport_factory=self.transport_factory,
                stop=self._stop,
            )
            if report.sent == 0 or report.retrying or report.failed:
                return
