"""Revision 0002_feeds on a database that already holds items, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, text

from actwatch.db.engine import make_engine
from actwatch.db.migrate import _alembic_config, current_revision, head_revision, upgrade

NOW = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.fixture
def old_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    command.upgrade(_alembic_config(engine), "0001")
    yield engine
    engine.dispose()


def test_existing_items_get_their_published_link_and_an_honest_date_source(
    old_engine: Engine,
) -> None:
    with old_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO feeds (id, name, url, fetch_url, enabled, status, error, "
                "consecutive_failures, items_seen, created_at, last_fetched_at) VALUES "
                "(1, 'f', 'https://e.org/f', 'https://e.org/f', true, 'error', 'HTTP 500', 1, 1,"
                " :now, :now)"
            ),
            {"now": NOW},
        )
        for item_id, canonical in ((1, "https://e.org/a"), (2, "https://e.org/manual")):
            connection.execute(
                text(
                    "INSERT INTO items (id, canonical_link, title, summary, published_at, "
                    "first_seen_at, content_hash, source_meta, change_count, manual) VALUES "
                    "(:id, :link, 't', '', :now, :now, 'h', '{}', 0, false)"
                ),
                {"id": item_id, "link": canonical, "now": NOW},
            )
        connection.execute(
            text(
                "INSERT INTO item_sources (item_id, feed_id, link, content_hash, first_seen_at,"
                " last_seen_at) VALUES (1, 1, 'http://E.org/a?x=1;y=2', 'h', :now, :now)"
            ),
            {"now": NOW},
        )
    assert upgrade(old_engine) is True
    assert current_revision(old_engine) == head_revision(old_engine)
    with old_engine.connect() as connection:
        rows = connection.execute(text("SELECT id, link, date_source FROM items ORDER BY id")).all()
        feed = connection.execute(
            text("SELECT error, last_error, last_error_at, identity FROM feeds")
        ).one()
    assert [tuple(row) for row in rows] == [
        (1, "http://E.org/a?x=1;y=2", "published"),
        (2, "https://e.org/manual", "published"),
    ]
    assert (feed.error, feed.last_error) == ("HTTP 500", "HTTP 500")
    assert feed.last_error_at is not None and feed.identity in ({}, "{}")
