"""Identity over real polls, on SQLite and PostgreSQL: GOV.UK's changing ids, status pages that
repeat themselves, comments that differ only by fragment, one story from several feeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from actwatch.config import Config
from actwatch.db.schema import feed_fetches, feeds, item_changes, item_sources, items
from actwatch.demo.samples.server import FeedServer
from actwatch.feeds import poll_feeds
from actwatch.feeds.store import ID_CHANGED, REPEATED
from tests.feeds.conftest import FEEDS

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
GOVUK = "/government/organisations/department-for-education.atom"


def serve(server: FeedServer, name: str, path: str | None = None) -> str:
    expected = json.loads((FEEDS / f"{name}.expected.json").read_text(encoding="utf-8"))
    path = path or f"/{name}"
    server.put(path, (FEEDS / name).read_bytes(), expected["content_type"])
    return server.url(path)


def rows(engine: Engine, table: Any, *where: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(table).where(*where).order_by(table.c.id)))


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_govuk_ids_that_change_on_update_still_give_one_item_per_page(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    config = make_config(
        [{"name": "dfe", "url": serve(feed_server, "gov-uk-organisation.atom", GOVUK)}]
    )
    first = poll_feeds(engine, config, now=NOW)
    assert (first.ok, first.new_items) == (1, 6)

    serve(feed_server, "gov-uk-organisation-updated.atom", GOVUK)
    second = poll_feeds(engine, config, now=NOW + timedelta(days=1))
    # One page published; two pages updated under new ids: one item each, not a new one.
    assert (second.ok, second.new_items, second.updated_items) == (1, 1, 1)
    assert second.outcomes[0].merged == {ID_CHANGED: 2}
    assert count(engine, items) == 7
    links = [row.link for row in rows(engine, items)]
    assert len(links) == len(set(links)) == 7
    sources = {row.link: row.guid for row in rows(engine, item_sources)}
    chair = "https://www.gov.uk/government/news/chair-of-social-work-england-appointed"
    assert sources[chair].endswith("#2018-07-05T08:15:00+01:00")
    (change,) = rows(engine, item_changes)
    assert set(change.changes) >= {"type_hint", "summary", "updated_at"}
    (feed,) = rows(engine, feeds)
    assert feed.identity == {"guid_changes": 2, "merged": {ID_CHANGED: 2}}
    latest = rows(engine, feed_fetches)[-1]
    assert (latest.new_items, latest.updated_items, latest.merged) == (1, 1, {ID_CHANGED: 2})

    third = poll_feeds(engine, config, now=NOW + timedelta(days=1, hours=1))
    assert (third.not_modified, third.ok, third.new_items, third.updated_items) == (1, 0, 0, 0)
    assert feed_server.requests_for(GOVUK)[-1].status == 304
    assert count(engine, items) == 7


def test_entries_with_distinct_ids_are_never_merged_whatever_they_share(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    names = ["fastmailstatus.rss", "wordpress-comments.rss", "disqus-comments.rss"]
    config = make_config(
        [{"name": name.split(".")[0], "url": serve(feed_server, name)} for name in names]
    )
    report = poll_feeds(engine, config, now=NOW)
    # Ten status entries (titles and texts repeat), five comments (two share title and text),
    # two comments without ids whose links differ only by their fragment.
    assert (report.ok, report.new_items) == (3, 17)
    assert all(not outcome.merged and outcome.warning is None for outcome in report.outcomes)
    titles = [row.title for row in rows(engine, items)]
    assert titles.count("Support System - Up") == 3
    assert titles.count("Comment on Care leavers: reading the local offer by Sam") == 2
    assert titles.count("Re: Who Wants To Write a Little Code?") == 2
    # The status page has no links: each entry is shown at the page the feed names.
    assert {row.link for row in rows(engine, items) if row.title.startswith("Support")} == {
        "http://www.fastmailstatus.com/feed"
    }
    again = poll_feeds(engine, config, now=NOW + timedelta(hours=1), force=True)
    assert (again.new_items, again.updated_items) == (0, 0)


def test_a_link_shared_by_entries_with_different_ids_makes_separate_items_and_is_learned(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    def status(*entries: tuple[str, str]) -> bytes:
        items_xml = "".join(
            f"<item><title>{title}</title><link>https://status.example.org/</link>"
            f"<guid isPermaLink='false'>{guid}</guid>"
            "<pubDate>Mon, 01 Jan 2024 10:00:00 +0000</pubDate></item>"
            for guid, title in entries
        )
        return (
            f"<?xml version='1.0'?><rss version='2.0'><channel><title>Status</title>"
            f"<link>https://status.example.org/</link>{items_xml}</channel></rss>"
        ).encode()

    feed_server.put("/status.rss", status(("a", "Down"), ("b", "Up")))
    config = make_config([{"name": "status", "url": feed_server.url("/status.rss")}])
    assert poll_feeds(engine, config, now=NOW).new_items == 2
    (feed,) = rows(engine, feeds)
    assert feed.identity == {"shared_links": 1}
    # Later the page shows one incident at a time under the same link: still new incidents.
    feed_server.put("/status.rss", status(("c", "Down")))
    later = poll_feeds(engine, config, now=NOW + timedelta(hours=2))
    assert (later.new_items, later.updated_items, later.outcomes[0].merged) == (1, 0, {})
    assert count(engine, items) == 3


def test_an_unconfirmed_id_change_under_one_link_is_a_new_entry(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    """Ids that are not the link plus a suffix, different words, no history of id changes:
    nothing confirms that the entry was replaced, so it is a different entry."""

    def one(guid: str, title: str) -> bytes:
        return (
            "<?xml version='1.0'?><rss version='2.0'><channel><title>Notices</title>"
            f"<item><title>{title}</title><link>https://notices.example.org/latest</link>"
            f"<guid isPermaLink='false'>{guid}</guid></item></channel></rss>"
        ).encode()

    feed_server.put("/notices.rss", one("n-1", "Road closed"))
    config = make_config([{"name": "notices", "url": feed_server.url("/notices.rss")}])
    poll_feeds(engine, config, now=NOW)
    feed_server.put("/notices.rss", one("n-2", "Library open late"))
    report = poll_feeds(engine, config, now=NOW + timedelta(hours=2))
    assert (report.new_items, report.updated_items) == (1, 0)
    assert [row.title for row in rows(engine, items)] == ["Road closed", "Library open late"]
    # Same words under a new id: the content confirms the replacement.
    feed_server.put("/notices.rss", one("n-3", "Library open late"))
    report = poll_feeds(engine, config, now=NOW + timedelta(hours=4))
    assert (report.new_items, report.outcomes[0].merged) == (0, {ID_CHANGED: 1})


def test_an_entry_repeated_within_one_document_is_kept_once_and_said(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    item = (
        "<item><title>Twice</title><link>https://x.example.org/a</link>"
        "<guid isPermaLink='false'>same</guid><pubDate>Mon, 01 Jan 2024 10:00:00 +0000</pubDate>"
        "</item>"
    )
    feed_server.put(
        "/twice.rss",
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>{item}{item}"
        "</channel></rss>".encode(),
    )
    config = make_config([{"name": "twice", "url": feed_server.url("/twice.rss")}])
    report = poll_feeds(engine, config, now=NOW)
    assert report.new_items == 1 and report.outcomes[0].merged == {REPEATED: 1}
    (feed,) = rows(engine, feeds)
    assert feed.warning.startswith("1 entry repeated the id")
    assert feed.identity == {"merged": {REPEATED: 1}}


def test_one_story_from_several_feeds_is_one_item_with_several_sources(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    """A JSON Feed linking GOV.UK's page, and GOV.UK's own feed: one story, two sources."""
    config = make_config(
        [
            {"name": "dfe", "url": serve(feed_server, "gov-uk-organisation.atom", GOVUK)},
            {"name": "notes", "url": serve(feed_server, "jsonfeed-1.1.json")},
        ]
    )
    report = poll_feeds(engine, config, now=NOW)
    assert report.ok == 2 and report.new_items == 6 + 4 - 1
    working_together = [
        row
        for row in rows(engine, items)
        if "working-together-to-safeguard-children--2" in row.link
    ]
    assert len(working_together) == 1
    assert len(rows(engine, item_sources, item_sources.c.item_id == working_together[0].id)) == 2


@pytest.mark.parametrize("name", ["broken-dates.rss", "non-ascii.rss", "jsonfeed-1.1.json"])
def test_undated_entries_are_flagged_on_the_item_and_counted_in_the_warnings(
    name: str, engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    config = make_config([{"name": "f", "url": serve(feed_server, name)}])
    report = poll_feeds(engine, config, now=NOW)
    stored = rows(engine, items)
    undated = [row for row in stored if row.date_source == "first_seen"]
    assert undated and report.outcomes[0].undated == len(undated)
    for row in undated:
        assert row.published_at == row.first_seen_at == NOW
        assert row.source_meta["undated"]
    for row in stored:
        if row.date_source != "first_seen":
            assert row.published_at < NOW
    (feed,) = rows(engine, feeds)
    assert f"{len(undated)} entr" in feed.warning and "without a usable date" in feed.warning
    assert feed.last_warning == feed.warning


def test_each_feed_keeps_only_its_newest_fetches(engine: Engine) -> None:
    from actwatch.feeds.store import FETCH_HISTORY, fetch_history, fetch_row, record_fetches

    with engine.begin() as connection:
        feed_ids = [
            connection.execute(
                feeds.insert()
                .values(name=name, url=f"https://{name}.example/", fetch_url="x", created_at=NOW)
                .returning(feeds.c.id)
            ).scalar_one()
            for name in ("a", "b")
        ]
    for batch in range(FETCH_HISTORY + 5):
        with engine.begin() as connection:
            record_fetches(
                connection,
                [
                    fetch_row(
                        feed_id,
                        now=NOW + timedelta(minutes=batch),
                        outcome="ok",
                        warnings=[f"w{batch}"],
                    )
                    for feed_id in feed_ids
                ],
            )
    assert count(engine, feed_fetches) == 2 * FETCH_HISTORY
    history = fetch_history(engine, limit=3)
    last = FETCH_HISTORY + 4
    assert [fetch["warnings"] for fetch in history[feed_ids[0]]] == [
        [f"w{last}"],
        [f"w{last - 1}"],
        [f"w{last - 2}"],
    ]


def test_entries_of_a_hash_routed_site_stay_apart(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    entries = "".join(
        f"<item><title>News {n}</title><link>https://app.example.org/#/news/{n}</link>"
        "<pubDate>Mon, 01 Jan 2024 10:00:00 +0000</pubDate></item>"
        for n in (1, 2, 3)
    )
    feed_server.put(
        "/app.rss",
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>App</title>{entries}"
        "</channel></rss>".encode(),
    )
    config = make_config([{"name": "app", "url": feed_server.url("/app.rss")}])
    assert poll_feeds(engine, config, now=NOW).new_items == 3
    assert [row.link for row in rows(engine, items)] == [
        f"https://app.example.org/#/news/{n}" for n in (1, 2, 3)
    ]


def test_the_shown_link_follows_its_own_feed_and_never_flips_between_feeds(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    def feed(link: str) -> bytes:
        return (
            "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
            f"<item><title>Story</title><link>{link}</link><guid isPermaLink='false'>s1</guid>"
            "<pubDate>Mon, 01 Jan 2024 10:00:00 +0000</pubDate></item></channel></rss>"
        ).encode()

    feed_server.put("/a.rss", feed("http://news.example.org/story?utm_source=a"))
    feed_server.put("/b.rss", feed("https://NEWS.example.org/story"))
    config = make_config(
        [
            {"name": "a", "url": feed_server.url("/a.rss")},
            {"name": "b", "url": feed_server.url("/b.rss")},
        ]
    )
    assert poll_feeds(engine, config, now=NOW).new_items == 1
    (shown,) = [row.link for row in rows(engine, items)]
    # Whichever feed was stored first is shown (they are fetched concurrently).
    assert shown in ("http://news.example.org/story", "https://NEWS.example.org/story")
    feed_server.conditional = False
    for hours in (1, 2):
        again = poll_feeds(engine, config, now=NOW + timedelta(hours=hours))
        assert (again.new_items, again.updated_items) == (0, 0)
        assert [row.link for row in rows(engine, items)] == [shown]
    # The feed whose link is shown writes it another way: readers get the new form.
    path = "/a.rss" if shown.startswith("http:") else "/b.rss"
    feed_server.put(path, feed("https://News.Example.org/story"))
    poll_feeds(engine, config, now=NOW + timedelta(hours=3))
    assert [row.link for row in rows(engine, items)] == ["https://News.Example.org/story"]
    assert count(engine, item_sources) == 2
