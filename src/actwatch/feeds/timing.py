"""When a feed may be fetched again: after success, what the server's caching allows; after a
failure, exponential back-off with jitter, never sooner than the server's Retry-After."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from actwatch.config.models import FetchConfig

# A pass that starts a little early (scheduler drift) still counts a feed due at its start.
DUE_GRACE = timedelta(seconds=30)


def next_fetch_after_success(
    fetch: FetchConfig,
    now: datetime,
    *,
    max_age: float | None = None,
    feed_interval: timedelta | None = None,
) -> datetime:
    wait = fetch.min_interval
    if max_age is not None:
        # Honour the server's freshness, but come back within max_backoff whatever it says.
        wait = max(wait, min(timedelta(seconds=max_age), fetch.max_backoff))
    if feed_interval is not None:
        wait = max(wait, feed_interval)
    return now + wait


def backoff_delay(fetch: FetchConfig, failures: int, rng: random.Random | None = None) -> timedelta:
    """min_interval doubled for each consecutive failure, capped, with up to half taken off at
    random so that feeds which failed together do not all come back together."""
    if failures <= 0:
        return fetch.min_interval
    base = fetch.min_interval.total_seconds() * 2 ** min(failures - 1, 40)
    base = min(base, fetch.max_backoff.total_seconds())
    jitter = (rng or random).uniform(0.5, 1.0)
    return timedelta(seconds=base * jitter)


def next_fetch_after_failure(
    fetch: FetchConfig,
    now: datetime,
    failures: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    wait = backoff_delay(fetch, failures, rng)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return now + wait


def is_due(next_fetch_at: datetime | None, now: datetime) -> bool:
    return next_fetch_at is None or next_fetch_at <= now + DUE_GRACE
