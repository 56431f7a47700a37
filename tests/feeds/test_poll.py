"""Whole passes against the local server, on SQLite and PostgreSQL: exactly-once items,
304s, changes, cross-feed stories and per-feed state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from actwatch.config import Config
from actwatch.db.schema import feeds, item_changes, item_sources, items
from actwatch.demo.samples.server import FeedServer
from actwatch.feeds import PollReport, UnknownFeedError, poll_feeds, sync_feeds
from actwatch.feeds.store import MAX_RECORDED_CHANGES
from tests.feeds.conftest import FEEDS, good_feed_configs

NOW = datetime(2020, 1, 1, 12, tzinfo=UTC)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def feed_row(engine: Engine, name: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(feeds).where(feeds.c.name == name)).one()


@pytest.fixture
def good_config(feed_server: FeedServer, make_config: Callable[..., Config]) -> Config:
    return make_config(good_feed_configs(feed_server))


# 5 + 3 + 3 (4 entries, one repeated) + 2 + 1
GOOD_ITEMS = 14


def test_every_item_is_stored_once_and_a_second_pass_is_all_304(
    engine: Engine, good_config: Config, feed_server: FeedServer
) -> None:
    first = poll_feeds(engine, good_config, now=NOW)
    assert (first.feeds, first.ok, first.failed, first.new_items) == (5, 5, 0, GOOD_ITEMS)
    assert sorted(first.new_item_ids) == sorted(set(first.new_item_ids))
    assert count(engine, items) == GOOD_ITEMS
    assert count(engine, item_sources) == GOOD_ITEMS

    second = poll_feeds(engine, good_config, now=NOW + timedelta(hours=1))
    assert (second.not_modified, second.ok, second.new_items, second.updated_items) == (5, 0, 0, 0)
    assert count(engine, items) == GOOD_ITEMS
    for outcome in second.outcomes:
        assert outcome.status == "not_modified"
    conditional = feed_server.requests_for("/gov-uk-dfe.atom")[-1]
    assert conditional.status == 304 and "if-none-match" in conditional.headers

    row = feed_row(engine, "community-care")
    assert (row.status, row.error, row.consecutive_failures, row.items_seen) == (
        "not_modified",
        None,
        0,
        3,
    )
    assert row.feed_title == "Community Care"
    assert row.last_fetched_at == NOW + timedelta(hours=1)


def test_items_keep_their_dates_metadata_and_first_seen_time(
    engine: Engine, good_config: Config
) -> None:
    poll_feeds(engine, good_config, now=NOW)
    with engine.connect() as connection:
        rows = {row.canonical_link: row for row in connection.execute(select(items))}
    instrument = rows["https://www.legislation.gov.uk/id/uksi/2018/346"]
    assert instrument.published_at == datetime(2018, 3, 7, 9, 12, tzinfo=UTC)
    assert instrument.source_meta["legislation"]["made"] == "2018-03-01"
    press = rows["https://www.gov.uk/government/news/new-social-work-regulator-chair-appointed"]
    assert (press.title, press.type_hint) == (
        "Chair of Social Work England appointed",
        "Press release",
    )
    undated = rows["https://www.cypnow.co.uk/news/article/care-leavers-personal-advisers-25"]
    assert undated.published_at == NOW == undated.first_seen_at


def test_the_same_story_from_two_feeds_is_one_item_with_two_sources(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    feed_server.put(
        "/copy.atom",
        (FEEDS / "legislation-cswa.atom")
        .read_bytes()
        .replace(
            b"These Regulations make provision", b"A different summary of what these Regulations do"
        ),
    )
    config = make_config(
        [
            {"name": "legislation-cswa", "url": feed_server.url("/legislation-cswa.atom")},
            {"name": "legislation-new", "url": feed_server.url("/copy.atom")},
        ]
    )
    report = poll_feeds(engine, config, now=NOW)
    assert report.new_items == 3 and report.ok == 2
    assert count(engine, items) == 3
    assert count(engine, item_sources) == 6
    # Two sources that disagree do not make the item flip between them on every pass.
    feed_server.conditional = False
    again = poll_feeds(engine, config, now=NOW + timedelta(hours=2))
    assert (again.ok, again.new_items, again.updated_items) == (2, 0, 0)


def test_a_changed_entry_updates_the_item_and_records_the_change(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    config = make_config([{"name": "dfe", "url": feed_server.url("/gov-uk-dfe.atom")}])
    poll_feeds(engine, config, now=NOW)
    original = (FEEDS / "gov-uk-dfe.atom").read_bytes()
    # GOV.UK republishes: new id timestamp, new updated date, new summary. Same link.
    changed = original.replace(
        b"teachers-pay-award-2018#2018-07-24T12:00:00+01:00",
        b"teachers-pay-award-2018#2018-07-25T08:00:00+01:00",
    ).replace(b"pay rises of up to 3.5%", b"pay rises of up to 3.5 per cent")
    feed_server.put("/gov-uk-dfe.atom", changed)
    report = poll_feeds(engine, config, now=NOW + timedelta(hours=2))
    assert (report.ok, report.new_items, report.updated_items) == (1, 0, 1)
    assert count(engine, items) == 5
    with engine.connect() as connection:
        item = connection.execute(
            select(items).where(items.c.id == report.changed_item_ids[0])
        ).one()
        change = connection.execute(select(item_changes)).one()
    assert "3.5 per cent" in item.summary and item.change_count == 1
    assert item.published_at == datetime(2018, 7, 24, 11, tzinfo=UTC)
    assert set(change.changes) == {"summary"}


def test_volatile_entries_are_bounded(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    config = make_config([{"name": "dfe", "url": feed_server.url("/gov-uk-dfe.atom")}])
    original = (FEEDS / "gov-uk-dfe.atom").read_bytes()
    poll_feeds(engine, config, now=NOW)
    updated = []
    for n in range(MAX_RECORDED_CHANGES + 10):
        feed_server.put("/gov-uk-dfe.atom", original.replace(b"3.5%", f"3.5% (view {n})".encode()))
        # Every ten minutes: most of these fall inside the cool-down.
        report = poll_feeds(engine, config, now=NOW + timedelta(minutes=10 * (n + 1)))
        updated.append(report.updated_items)
    assert sum(updated) == 5  # 300 minutes, one change per hour
    later = []
    for hour in range(MAX_RECORDED_CHANGES * 2):
        feed_server.put(
            "/gov-uk-dfe.atom", original.replace(b"3.5%", f"3.5% (hour {hour})".encode())
        )
        report = poll_feeds(engine, config, now=NOW + timedelta(days=1, hours=hour))
        later.append(report.updated_items)
    assert sum(updated) + sum(later) == MAX_RECORDED_CHANGES
    assert count(engine, item_changes) == MAX_RECORDED_CHANGES


def test_entry_whose_link_moved_is_recognised_by_its_guid(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    config = make_config([{"name": "cc", "url": feed_server.url("/communitycare.rss")}])
    poll_feeds(engine, config, now=NOW)
    original = (FEEDS / "communitycare.rss").read_bytes()
    feed_server.put(
        "/communitycare.rss",
        original.replace(
            b"2019/11/28/fostering-week/", b"2019/11/28/fostering-a-week-in-the-life/"
        ),
    )
    report = poll_feeds(engine, config, now=NOW + timedelta(hours=2))
    assert (report.new_items, report.updated_items) == (0, 1)
    with engine.connect() as connection:
        links = set(connection.execute(select(items.c.canonical_link)).scalars())
    assert "https://www.communitycare.co.uk/2019/11/28/fostering-a-week-in-the-life/" in links
    assert "https://www.communitycare.co.uk/2019/11/28/fostering-week/" not in links


def test_failing_feed_backs_off_and_recovers(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    config = make_config(
        [{"name": "flaky", "url": feed_server.url("/flaky.rss")}],
        min_interval="5m",
        max_backoff="1h",
    )
    feed_server.routes["/flaky.rss"] = lambda h: h.send_error(503)
    waits = []
    now = NOW
    for _ in range(6):
        report = poll_feeds(engine, config, now=now)
        assert report.failed == 1
        row = feed_row(engine, "flaky")
        waits.append((row.next_fetch_at - now).total_seconds())
        skipped = poll_feeds(engine, config, now=now + timedelta(seconds=60))
        assert skipped.skipped == 1 and skipped.feeds == 0
        now = row.next_fetch_at
    assert row.consecutive_failures == 6 and row.status == "error"
    assert row.error == "HTTP 503 Service Unavailable: the server failed"
    bases = [300, 600, 1200, 2400, 3600, 3600]
    for wait, base in zip(waits, bases, strict=True):
        assert base / 2 <= wait <= base
    del feed_server.routes["/flaky.rss"]
    feed_server.put("/flaky.rss", (FEEDS / "whatworks.rdf").read_bytes())
    recovered = poll_feeds(engine, config, now=now)
    assert recovered.ok == 1
    row = feed_row(engine, "flaky")
    assert (row.status, row.error, row.consecutive_failures) == ("ok", None, 0)
    assert row.next_fetch_at == now + timedelta(minutes=5)


def test_retry_after_and_max_age_set_the_next_fetch(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    from tests.feeds.conftest import _send

    body = (FEEDS / "whatworks.rdf").read_bytes()
    feed_server.routes["/busy"] = lambda h: _send(
        h, 429, b"", "text/plain", {"Retry-After": "7200"}
    )
    feed_server.routes["/fresh"] = lambda h: _send(
        h, 200, body, headers={"Cache-Control": "max-age=1800"}
    )
    config = make_config(
        [
            {"name": "busy", "url": feed_server.url("/busy")},
            {"name": "fresh", "url": feed_server.url("/fresh")},
        ]
    )
    poll_feeds(engine, config, now=NOW)
    assert feed_row(engine, "busy").next_fetch_at == NOW + timedelta(hours=2)
    assert feed_row(engine, "fresh").next_fetch_at == NOW + timedelta(minutes=30)
    forced = poll_feeds(engine, config, now=NOW + timedelta(minutes=1), force=True)
    assert forced.feeds == 2


def test_gone_disables_and_permanent_redirect_moves(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    from tests.feeds.conftest import _send

    feed_server.routes["/old.rss"] = lambda h: _send(
        h, 301, b"", "text/plain", {"Location": "/whatworks.rdf"}
    )
    config = make_config(
        [
            {"name": "gone", "url": feed_server.url("/410")},
            {"name": "moved", "url": feed_server.url("/old.rss")},
        ]
    )
    report = poll_feeds(engine, config, now=NOW)
    assert (report.ok, report.failed) == (1, 1)
    gone = feed_row(engine, "gone")
    assert (gone.enabled, gone.status) == (False, "disabled")
    assert gone.error.startswith("HTTP 410 Gone") and gone.error.endswith("the feed is disabled")
    moved = feed_row(engine, "moved")
    assert moved.fetch_url == feed_server.url("/whatworks.rdf")
    assert moved.url == feed_server.url("/old.rss")

    again = poll_feeds(engine, config, now=NOW + timedelta(hours=1))
    assert again.skipped == 1 and again.not_modified == 1
    assert feed_server.requests_for("/old.rss") and len(feed_server.requests_for("/410")) == 1


def test_sync_feeds_is_idempotent_and_keeps_removed_feeds_disabled(
    engine: Engine, make_config: Callable[..., Config]
) -> None:
    config = make_config(
        [
            {"name": "a", "url": "https://example.org/a"},
            {"name": "b", "url": "https://example.org/b"},
        ]
    )
    first = sync_feeds(engine, config)
    assert first.added == ["a", "b"]
    assert sync_feeds(engine, config).added == []
    smaller = make_config([{"name": "a", "url": "https://example.org/a2"}])
    result = sync_feeds(engine, smaller)
    assert (result.updated, result.disabled) == (["a"], ["b"])
    assert feed_row(engine, "b").enabled is False
    assert feed_row(engine, "a").fetch_url == "https://example.org/a2"
    sync_feeds(engine, config)
    assert feed_row(engine, "b").enabled is True


def test_unknown_feed_name_is_refused(engine: Engine, good_config: Config) -> None:
    with pytest.raises(UnknownFeedError, match="no feed named 'nope'"):
        poll_feeds(engine, good_config, feed_names=["nope"])


def test_only_the_named_feed_is_polled_and_progress_is_reported(
    engine: Engine, good_config: Config
) -> None:
    seen: list[tuple[str, int, int]] = []
    report = poll_feeds(
        engine,
        good_config,
        feed_names=["cypnow"],
        now=NOW,
        progress=lambda outcome, done, total: seen.append((outcome.name, done, total)),
    )
    assert isinstance(report, PollReport)
    assert (report.feeds, report.new_items) == (1, 1)
    assert seen == [("cypnow", 1, 1)]
    assert report.as_dict().keys() >= {
        "feeds",
        "ok",
        "not_modified",
        "failed",
        "new_items",
        "updated_items",
        "seconds",
    }


def test_a_conflict_with_another_poller_is_retried_feed_by_feed(
    engine: Engine, good_config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process inserting one of our links between our read and our write makes the
    batch fail: each feed is then stored on its own, and a feed that conflicts again reads
    afresh."""
    from sqlalchemy.exc import IntegrityError

    import actwatch.feeds.poll as poll_module
    from actwatch.feeds.store import store_entries as real

    conflicts = {"left": 2}

    def racing(connection: Any, feed_id: int, entries: Any, now: datetime, **known: Any) -> Any:
        if conflicts["left"]:
            conflicts["left"] -= 1
            raise IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
        return real(connection, feed_id, entries, now, **known)

    monkeypatch.setattr(poll_module, "store_entries", racing)
    report = poll_feeds(engine, good_config, now=NOW)
    assert conflicts["left"] == 0
    assert (report.ok, report.failed, report.new_items) == (5, 0, GOOD_ITEMS)
    assert count(engine, items) == GOOD_ITEMS
