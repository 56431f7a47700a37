"""News the editor adds by hand keeps the editor's type and strands, and a feed joins it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from actwatch.cli import main
from actwatch.config import load_config
from actwatch.db import make_engine, upgrade
from actwatch.db.schema import item_matches, item_sources, item_strands, items
from actwatch.demo.samples.server import Document, FeedServer, running
from actwatch.review import ManualItem, add_manual_item
from tests.feeds.conftest import FAST_FETCH
from tests.review.conftest import make_draft

# The story as the editor typed its link, and as a feed later publishes it.
TYPED = "HTTP://WWW.Example.org/news/trusts-test-new-ways?utm_source=newsletter#top"
PUBLISHED = "https://www.example.org/news/trusts-test-new-ways"
FEED = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Example news</title><link>https://www.example.org/</link>
<description>News</description>
<item><title>Councils visit a children's home</title><link>{PUBLISHED}</link>
<guid isPermaLink="false">example-1</guid>
<description>The minister said councils and charities were working well together.</description>
<pubDate>Tue, 14 Nov 2017 10:00:00 +0000</pubDate></item>
</channel></rss>
""".encode()


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    server = FeedServer({"/news.rss": Document(FEED, "application/rss+xml; charset=utf-8")})
    with running(server):
        yield server


@pytest.fixture
def config_file(
    feed: FeedServer,
    database_url: str,
    write_pinned_config: Callable[..., Path],
    repo_config_data: dict[str, Any],
) -> Path:
    matching = {**repo_config_data["matching"], "fetch_instruments": False}
    return write_pinned_config(
        feeds=[{"name": "example", "url": feed.url("/news.rss")}],
        fetch=FAST_FETCH,
        matching=matching,
        database={"url": database_url},
    )


@pytest.fixture(autouse=True)
def disposed_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The commands' own engines, closed when the test ends (PostgreSQL connections warn)."""
    import actwatch.db

    opened: list[Engine] = []
    real = actwatch.db.open_database

    def tracked(*args: Any, **kwargs: Any) -> Engine:
        engine: Engine = real(*args, **kwargs)
        opened.append(engine)
        return engine

    monkeypatch.setattr(actwatch.db, "open_database", tracked)
    yield
    for engine in opened:
        engine.dispose()


def run(config_file: Path, *args: str) -> Any:
    result = CliRunner().invoke(main, ["--config", str(config_file), *args])
    assert result.exit_code == 0, result.output
    return result


def verdict(engine: Engine, item_id: int) -> tuple[str | None, set[str], str | None]:
    with engine.connect() as connection:
        event_type, state = connection.execute(
            select(item_matches.c.event_type, item_matches.c.editor_state).where(
                item_matches.c.item_id == item_id
            )
        ).one()
        strands = set(
            connection.execute(
                select(item_strands.c.strand).where(item_strands.c.item_id == item_id)
            ).scalars()
        )
    return event_type, strands, state


def test_a_manual_item_keeps_its_type_and_strands_and_a_feed_joins_it(config_file: Path) -> None:
    config = load_config(config_file)
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        draft = make_draft(engine, config)
        _, item_id = add_manual_item(
            engine,
            config,
            draft.bulletin_id,
            ManualItem(
                link=TYPED,
                title="Councils visit a children's home",
                summary="Notes from the visit.",
                strand="care-leavers",
                event_type="pilot",
                published_on=date(2017, 11, 14),
            ),
            actor="Jo",
        )
        with engine.connect() as connection:
            stored = connection.execute(
                select(items.c.canonical_link).where(items.c.id == item_id)
            ).scalar_one()
        assert stored == PUBLISHED  # the one canonical identity feed items use

        run(config_file, "poll", "--json")
        assert verdict(engine, item_id) == ("pilot", {"care-leavers"}, "relevant")
        with engine.connect() as connection:
            same_story = connection.execute(
                select(func.count()).select_from(items).where(items.c.canonical_link == PUBLISHED)
            ).scalar_one()
            sources = connection.execute(
                select(func.count())
                .select_from(item_sources)
                .where(item_sources.c.item_id == item_id)
            ).scalar_one()
            matched_by = connection.execute(
                select(item_matches.c.rules_hash).where(item_matches.c.item_id == item_id)
            ).scalar_one()
        assert same_story == 1, "the feed's copy became a second item"
        assert sources == 1, "the feed did not join the manual item as a source"
        assert matched_by != "manual", "the matcher never looked at it"

        run(config_file, "reclassify", "--offline")
        assert verdict(engine, item_id) == ("pilot", {"care-leavers"}, "relevant")
        run(config_file, "reclassify", "--offline")
        assert verdict(engine, item_id) == ("pilot", {"care-leavers"}, "relevant")
    finally:
        engine.dispose()
