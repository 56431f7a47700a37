"""Every feed file in tests/data/feeds served on 127.0.0.1 and polled: the invariants of issue 14,
checked against feedparser's own reading of the same bytes (the json module's for JSON Feed).

- every entry with a link or an id is stored, or merged only with an entry of the same feed
  that has the same id (or, when neither has an id, the same link);
- titles declared as text are feedparser's text (less a GOV.UK display type, kept apart);
- stored links are the published links, apart from the documented tracking-parameter removal;
- every entry without a usable date is flagged, and counted in the feed's warnings.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import feedparser
from sqlalchemy import Engine, select

from actwatch.config import Config
from actwatch.core.links import canonical_link, is_tracking_param
from actwatch.db.schema import feeds, item_sources, items
from actwatch.demo.samples.server import FeedServer
from actwatch.feeds import poll_feeds
from actwatch.feeds.normalize import TITLE_MAX_CHARS, clean_line
from tests.feeds.conftest import FEEDS

NOW = datetime(2024, 1, 1, tzinfo=UTC)
CORPUS = sorted(
    path.name
    for path in FEEDS.iterdir()
    if path.suffix in (".rss", ".atom", ".rdf", ".json") and ".expected." not in path.name
)


@dataclass
class Reading:
    """One entry as an independent reader sees it (feedparser with the date handlers it has
    registered: its own and actwatch's fallbacks)."""

    guid: str | None
    link: str | None
    title: str | None
    title_is_text: bool
    dated: bool


def read_independently(body: bytes, url: str, content_type: str) -> list[Reading]:
    if "json" in content_type:
        document = json.loads(body)
        return [
            Reading(
                guid=str(item["id"]) if item.get("id") not in (None, "") else None,
                link=item.get("url") or item.get("external_url"),
                title=item.get("title"),
                title_is_text=True,
                dated=bool(item.get("date_published") or item.get("date_modified")),
            )
            for item in document["items"]
        ]
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers={"content-location": url, "content-type": content_type}
    )
    readings = []
    for entry in parsed.entries:
        detail = entry.get("title_detail") or {}
        links = [
            link["href"]
            for link in entry.get("links", [])
            if link.get("rel") == "alternate" and link.get("type", "") in ("text/html", "")
        ]
        # Plain dict lookups: FeedParserDict.get("updated_parsed") warns and falls back.
        moment = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
        dated = moment is not None and datetime(*moment[:6]).replace(tzinfo=UTC) <= NOW
        readings.append(
            Reading(
                guid=entry.get("id") or None,
                link=(links or [entry.get("link")])[0],
                title=entry.get("title"),
                title_is_text=detail.get("type") == "text/plain",
                dated=dated,
            )
        )
    return readings


def same_apart_from_trackers(stored: str, published: str) -> bool:
    """`stored` is `published` with only tracking parameters removed from its query."""
    before, after = urlsplit(stored), urlsplit(published)
    if (before.scheme, before.netloc, before.path, before.fragment) != (
        after.scheme,
        after.netloc,
        after.path,
        after.fragment,
    ):
        return False
    published_pieces = [piece for piece in after.query.split("&") if piece]
    kept = [piece for piece in published_pieces if not is_tracking_param(piece.split("=")[0])]
    return [piece for piece in before.query.split("&") if piece] == kept


def test_every_real_entry_is_kept_as_its_publisher_wrote_it(
    engine: Engine, feed_server: FeedServer, make_config: Callable[..., Config]
) -> None:
    content_types = {}
    for name in CORPUS:
        expected = json.loads((FEEDS / f"{name}.expected.json").read_text(encoding="utf-8"))
        content_types[name] = expected["content_type"]
        feed_server.put(f"/{name}", (FEEDS / name).read_bytes(), expected["content_type"])
    config = make_config(
        [
            {"name": f"feed-{index}", "url": feed_server.url(f"/{name}")}
            for index, name in enumerate(CORPUS)
        ]
    )
    report = poll_feeds(engine, config, now=NOW)
    assert report.ok == len(CORPUS), [(o.name, o.error) for o in report.outcomes if o.error]

    with engine.connect() as connection:
        stored_items = {row.id: row for row in connection.execute(select(items))}
        feed_rows = {row.name: row for row in connection.execute(select(feeds))}
        sources = list(connection.execute(select(item_sources)))
    checked_titles = checked_links = flagged = 0
    for index, name in enumerate(CORPUS):
        url = feed_server.url(f"/{name}")
        feed = feed_rows[f"feed-{index}"]
        readings = read_independently((FEEDS / name).read_bytes(), url, content_types[name])
        own = [source for source in sources if source.feed_id == feed.id]
        by_guid = {source.guid: source for source in own if source.guid is not None}
        by_link = {canonical_link(source.link): source for source in own if source.guid is None}
        keys = set()
        undated = 0
        for reading in readings:
            if reading.guid is None and not (reading.link and canonical_link(reading.link)):
                continue  # neither a usable link nor an id: skipped, and said so
            if reading.guid is not None:
                keys.add(("id", reading.guid))
                source = by_guid[reading.guid]
            else:
                link = canonical_link(reading.link or "")
                assert link is not None
                keys.add(("link", link))
                source = by_link[link]
            item = stored_items[source.item_id]
            if reading.link and canonical_link(reading.link):  # an http(s) link, not a urn
                assert same_apart_from_trackers(source.link, reading.link), (name, source.link)
                checked_links += 1
            assert item.link in {s.link for s in sources if s.item_id == item.id} or (
                not reading.link
            )
            others = [s for s in sources if s.item_id == item.id and s.feed_id != feed.id]
            if reading.dated:
                assert item.date_source != "first_seen", (name, reading)
            elif not others:
                assert item.date_source == "first_seen", (name, reading)
            # An item carried by several feeds shows the first one's title.
            if reading.title and reading.title_is_text and not others:
                shown = f"{item.type_hint}: {item.title}" if item.type_hint else item.title
                assert shown == clean_line(reading.title)[:TITLE_MAX_CHARS], name
                checked_titles += 1
            if item.date_source == "first_seen":
                assert item.published_at == item.first_seen_at
                assert item.source_meta.get("undated")
                undated += 1
        # One source per distinct id (or link, for entries without one): nothing else merged.
        assert len(own) == len(keys), name
        if undated:
            assert f"{undated} entr" in feed.warning, (name, feed.warning)
            flagged += undated
        else:
            assert "without a usable date" not in (feed.warning or ""), name
    assert checked_titles >= 50 and checked_links >= 55 and flagged >= 7
