"""The login throttle: slows a password guesser down without locking the editors out.

Each attempt counts against keys:

- the account (every unknown name shares one key, so made-up names cannot fill memory);
- the client's address (as `web.trusted_proxies` lets us believe it);
- or, instead of both, the browser's *device*: a browser an editor logged in from before
  carries a signed cookie naming the account and that browser, and its attempts count only
  against themselves (OWASP's "device cookies"). A guesser hammering the account, from one
  address or a thousand, then slows down everyone except the editors' own browsers.

A key allows `free` failures; after that every attempt waits a delay that doubles with each
further failure (1 s, 2 s, 4 s ... up to `max_delay`), and one success clears it. Failures are
forgotten `window` after the last one.

Atomic: an attempt reserves its place on every key before the password is checked, so twenty
attempts at once are judged as twenty in a row (no check past the limit); at most one check runs
per account at a time (the others wait briefly or are refused), and at most `parallel` checks
run at all (scrypt takes 128 MiB each). Memory stays bounded: keys live in an LRU of
`max_keys`, and a burst beyond the few attempts allowed to wait is refused at once.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from actwatch.db import Engine
from actwatch.editors import editor_id_for, recent_login_failures

ACCOUNT_FREE = 5
ADDRESS_FREE = 20
DEVICE_FREE = 5
FIRST_DELAY = 1.0
MAX_DELAY = 300.0
WINDOW = 15 * 60.0
MAX_KEYS = 10_000
WAITERS_PER_ACCOUNT = 3
PARALLEL_CHECKS = 2
UNKNOWN_ACCOUNT = "?"


class Throttled(Exception):
    """Not now: try again in `retry_after` seconds."""

    def __init__(self, retry_after: float, reason: str) -> None:
        super().__init__(reason)
        self.retry_after = max(1.0, retry_after)


@dataclass
class _Key:
    free: int
    failures: int = 0
    reserved: int = 0  # attempts being checked right now
    last_failure: float = 0.0

    def wait(self, now: float) -> float:
        """Seconds until this key may be tried again (0: now). A check still running counts as
        a failure until it is settled; past the free ones, one check at a time."""
        if now - self.last_failure > WINDOW:
            self.failures = 0
        if self.failures + self.reserved < self.free:
            return 0.0
        if self.reserved:
            return FIRST_DELAY
        delay: float = min(FIRST_DELAY * 2.0 ** (self.failures - self.free), MAX_DELAY)
        return max(0.0, self.last_failure + delay - now)


class Attempt:
    """One login attempt holding its reservations; tell it how the check went."""

    def __init__(self, throttle: LoginThrottle, keys: list[tuple[str, ...]]) -> None:
        self._throttle = throttle
        self._keys = keys
        self._done = False

    def succeeded(self) -> None:
        self._finish(success=True)

    def failed(self) -> None:
        self._finish(success=False)

    def _finish(self, *, success: bool) -> None:
        if not self._done:
            self._done = True
            self._throttle._settle(self._keys, success=success)

    def abandon(self) -> None:
        """The check never ran (an error): give the reservations back."""
        if not self._done:
            self._done = True
            self._throttle._release(self._keys)


class LoginThrottle:
    def __init__(
        self,
        *,
        max_keys: int = MAX_KEYS,
        parallel: int = PARALLEL_CHECKS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._keys: OrderedDict[tuple[str, ...], _Key] = OrderedDict()
        self._accounts: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._parallel = parallel
        self._checks: asyncio.Semaphore | None = None

    def _key(self, key: tuple[str, ...]) -> _Key:
        found = self._keys.get(key)
        if found is None:
            free = {"account": ACCOUNT_FREE, "address": ADDRESS_FREE}.get(key[0], DEVICE_FREE)
            found = self._keys[key] = _Key(free)
            self._evict()
        else:
            self._keys.move_to_end(key)
        return found

    def _evict(self) -> None:
        # Oldest first, never a key with a check running (its reservation must be settled).
        while len(self._keys) > self.max_keys:
            for key, state in self._keys.items():
                if not state.reserved:
                    del self._keys[key]
                    break
            else:
                return

    def __len__(self) -> int:
        return len(self._keys)

    def keys_for(
        self, account: str | None, address: str, device: str | None
    ) -> list[tuple[str, ...]]:
        if device is not None:
            return [("device", device)]
        return [("account", account or UNKNOWN_ACCOUNT), ("address", address[:64])]

    @asynccontextmanager
    async def attempt(
        self, *, account: str | None, address: str, device: str | None = None
    ) -> AsyncIterator[Attempt]:
        """Reserve a check, or raise Throttled. Inside, at most one check per account runs."""
        lock, waiting = self._account_lock(account or UNKNOWN_ACCOUNT)
        if lock.locked() and waiting[0] >= WAITERS_PER_ACCOUNT:
            raise Throttled(FIRST_DELAY, "another login to this account is being checked")
        waiting[0] += 1
        try:
            await lock.acquire()
        finally:
            waiting[0] -= 1
        try:
            keys = self.keys_for(account, address, device)
            self._reserve(keys)
            attempt = Attempt(self, keys)
            try:
                async with self._semaphore():
                    yield attempt
            finally:
                attempt.abandon()
        finally:
            lock.release()

    def _account_lock(self, account: str) -> tuple[asyncio.Lock, list[int]]:
        found = self._accounts.get(account)
        if found is None:
            # One per real account and one for every unknown name: a bounded set.
            found = self._accounts[account] = (asyncio.Lock(), [0])
        return found

    def _semaphore(self) -> asyncio.Semaphore:
        if self._checks is None:
            self._checks = asyncio.Semaphore(self._parallel)
        return self._checks

    def _reserve(self, keys: list[tuple[str, ...]]) -> None:
        # No await between the checks and the reservations: nothing else runs in between.
        now = self.clock()
        states = [self._key(key) for key in keys]
        wait = max(state.wait(now) for state in states)
        if wait > 0:
            raise Throttled(wait, "too many failed logins")
        for state in states:
            state.reserved += 1

    def _settle(self, keys: Iterable[tuple[str, ...]], *, success: bool) -> None:
        now = self.clock()
        for key in keys:
            state = self._keys.get(key)
            if state is None:
                continue
            state.reserved = max(0, state.reserved - 1)
            if success:
                state.failures = 0
            else:
                state.failures += 1
                state.last_failure = now

    def _release(self, keys: Iterable[tuple[str, ...]]) -> None:
        for key in keys:
            state = self._keys.get(key)
            if state is not None:
                state.reserved = max(0, state.reserved - 1)

    def remember(self, account: str | None, address: str, at: float) -> None:
        """A failure from before this process started (read back from the database)."""
        for key in self.keys_for(account, address, None):
            state = self._key(key)
            if at - state.last_failure > WINDOW:
                state.failures = 0
            state.failures += 1
            state.last_failure = max(state.last_failure, at)


def recall_login_failures(engine: Engine, throttle: LoginThrottle) -> None:
    """The failures of the last window, from the database: a restart does not wipe the slate."""
    since = datetime.now(UTC) - timedelta(seconds=WINDOW)
    accounts: dict[str, int | None] = {}
    for failure in recent_login_failures(engine, since):
        if failure.name not in accounts:
            accounts[failure.name] = editor_id_for(engine, failure.name)
        editor_id = accounts[failure.name]
        throttle.remember(
            str(editor_id) if editor_id is not None else None,
            failure.address,
            failure.at.timestamp(),
        )
