"""One pass over good feeds mixed with every kind of broken server and hostile document."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from actwatch.config import Config
from actwatch.db.schema import feeds, items
from actwatch.demo.samples.server import FeedServer
from actwatch.feeds import poll_feeds
from tests.feeds.conftest import good_feed_configs

# name -> (path, words the stored error must contain)
BAD_FEEDS = {
    "slow": ("/slow", "read timeout"),
    "trickle": ("/trickle", "gave up after the 3s deadline"),
    "server-error": ("/500", "HTTP 500"),
    "missing": ("/404", "HTTP 404 Not Found"),
    "gone": ("/410", "HTTP 410 Gone"),
    "redirect-loop": ("/loop-a", "redirect loop"),
    "html-page": ("/html", "an HTML page, not a feed"),
    "malformed": ("/malformed", "malformed XML"),
    "endless": ("/endless", "over the 1,000,000 byte limit"),
    "oversized": ("/oversized", "over the 1,000,000 byte limit"),
    "gzip-bomb": ("/gzip-bomb", "once decompressed"),
    "billion-laughs": ("/billion-laughs", "entity"),
    "empty": ("/empty", "empty body"),
    "json": ("/json", "JSON that is not a JSON Feed"),
}
GOOD_ITEMS = 14


def test_bad_feeds_fail_readably_while_good_ones_are_stored(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    good = good_feed_configs(feed_server)
    bad = [{"name": name, "url": feed_server.url(path)} for name, (path, _) in BAD_FEEDS.items()]
    # A mis-declared encoding is recoverable: its items are kept, with a warning.
    misdeclared = [{"name": "misdeclared", "url": feed_server.url("/misdeclared")}]
    config = make_config(good + bad + misdeclared, concurrency=32)

    tracemalloc.start()
    try:
        report = poll_feeds(engine, config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    deadline = config.fetch.deadline.total_seconds()
    assert report.seconds < deadline + 3, "the pass must end within the deadline (plus start-up)"
    # The bodies are capped at 1 MB; a 200 MB gzip bomb and an endless body must not show here.
    assert peak < 40_000_000, f"peak memory in the polling process {peak:,} bytes"

    assert (report.feeds, report.ok, report.failed) == (20, 6, 14), [
        (o.name, o.status, o.error) for o in report.outcomes
    ]
    assert report.new_items == GOOD_ITEMS + 1
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(items)).scalar_one() == (
            GOOD_ITEMS + 1
        )
        rows = {row.name: row for row in connection.execute(select(feeds))}
    for name, (_, words) in BAD_FEEDS.items():
        row = rows[name]
        assert row.status in ("error", "disabled"), name
        assert row.error is not None and words in row.error, (name, row.error)
        assert "Traceback" not in row.error and len(row.error) < 400
    for feed in good:
        assert (rows[feed["name"]].status, rows[feed["name"]].error) == ("ok", None)
    assert rows["misdeclared"].status == "ok"
    assert rows["misdeclared"].warning.startswith(
        "the document declares encoding=utf-8, but it is windows-1252"
    )
    assert rows["gone"].enabled is False
