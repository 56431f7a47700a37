"""Feeds: fetch politely (`http`), parse on every core (`parse`, `workers`), store every story
exactly once (`store`), one pass at a time (`poll`).

Data flows config -> feeds -> items; nothing here knows about matching or bulletins.
"""

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
