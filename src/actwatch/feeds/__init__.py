"""Feeds: fetch politely (`http`), parse on every core (`parse`, `workers`), store every story
exactly once (`store`), one pass at a time (`poll`).

Data flows config -> feeds -> items; nothing here knows about matching or bulletins.

The names below are imported on first use: a parse worker imports `actwatch.feeds.workers`,
and must not pay for httpx, SQLAlchemy and pydantic, which only the polling process needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from actwatch.feeds.parse import ParsedEntry, ParsedFeed, parse_feed
    from actwatch.feeds.poll import (
        FeedOutcome,
        Poller,
        PollReport,
        ProgressCallback,
        UnknownFeedError,
        poll_feeds,
    )
    from actwatch.feeds.store import FeedSync, sync_feeds

_EXPORTS = {
    "FeedOutcome": "actwatch.feeds.poll",
    "FeedSync": "actwatch.feeds.store",
    "ParsedEntry": "actwatch.feeds.parse",
    "ParsedFeed": "actwatch.feeds.parse",
    "PollReport": "actwatch.feeds.poll",
    "Poller": "actwatch.feeds.poll",
    "ProgressCallback": "actwatch.feeds.poll",
    "UnknownFeedError": "actwatch.feeds.poll",
    "parse_feed": "actwatch.feeds.parse",
    "poll_feeds": "actwatch.feeds.poll",
    "sync_feeds": "actwatch.feeds.store",
}
__all__ = [
    "FeedOutcome",
    "FeedSync",
    "ParsedEntry",
    "ParsedFeed",
    "PollReport",
    "Poller",
    "ProgressCallback",
    "UnknownFeedError",
    "parse_feed",
    "poll_feeds",
    "sync_feeds",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
