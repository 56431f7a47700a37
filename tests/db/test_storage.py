"""The schema on SQLite and PostgreSQL: migrations, idempotency constraints, UTC times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from actwatch.db import current_revision, head_revision, make_engine, metadata, upgrade
from actwatch.db.schema import bulletins, deliveries, feeds, item_sources, items, subscribers
from tests.conftest import inserted_id

NOW = datetime(2017, 10, 31, 9, 30, tzinfo=UTC)


def _feed(engine: Engine, name: str = "gov-uk-dfe") -> int:
    with engine.begin() as connection:
        return int(
            inserted_id(
                connection.execute(
                    insert(feeds).values(
                        name=name,
                        url="https://www.gov.uk/x.atom",
                        fetch_url="https://www.gov.uk/x.atom",
                        created_at=NOW,
                    )
                )
            )
        )


def _item(engine: Engine, link: str = "https://www.gov.uk/government/news/a") -> int:
    with engine.begin() as connection:
        return int(
            inserted_id(
                connection.execute(
                    insert(items).values(
                        canonical_link=link,
                        title="A",
                        published_at=NOW,
                        first_seen_at=NOW,
                        content_hash="h",
                        source_meta={},
                    )
                )
            )
        )


def test_migration_creates_every_table_and_is_idempotent(engine: Engine) -> None:
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head_revision(engine)
    assert upgrade(engine) is False


def test_migrations_match_the_schema_module(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_one_item_per_canonical_link(engine: Engine) -> None:
    _item(engine)
    with pytest.raises(IntegrityError):
        _item(engine)


def test_one_source_row_per_feed_and_item(engine: Engine) -> None:
    feed_id, item_id = _feed(engine), _item(engine)
    row = {
        "feed_id": feed_id,
        "item_id": item_id,
        "link": "l",
        "content_hash": "h",
        "first_seen_at": NOW,
        "last_seen_at": NOW,
    }
    with engine.begin() as connection:
        connection.execute(insert(item_sources).values(**row))
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(item_sources).values(**row))


def test_one_bulletin_per_season_and_one_delivery_per_subscriber(engine: Engine) -> None:
    with engine.begin() as connection:
        bulletin_id = inserted_id(
            connection.execute(
                insert(bulletins).values(season="autumn-2017", created_at=NOW, updated_at=NOW)
            )
        )
        subscriber_id = inserted_id(
            connection.execute(
                insert(subscribers).values(
                    email="a@example.org",
                    status="confirmed",
                    consent_source="test",
                    consent_at=NOW,
                    token_nonce="n",
                    created_at=NOW,
                )
            )
        )
        connection.execute(
            insert(deliveries).values(bulletin_id=bulletin_id, subscriber_id=subscriber_id)
        )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(bulletins).values(season="autumn-2017", created_at=NOW, updated_at=NOW)
        )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(deliveries).values(bulletin_id=bulletin_id, subscriber_id=subscriber_id)
        )


def test_states_outside_the_state_machine_are_refused(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(bulletins).values(
                season="winter-2017", state="published", created_at=NOW, updated_at=NOW
            )
        )


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(item_sources).values(
                feed_id=999,
                item_id=999,
                link="l",
                content_hash="h",
                first_seen_at=NOW,
                last_seen_at=NOW,
            )
        )


def test_times_come_back_as_aware_utc(engine: Engine) -> None:
    london = timezone(timedelta(hours=1))
    with engine.begin() as connection:
        connection.execute(
            insert(items).values(
                canonical_link="x",
                title="x",
                published_at=NOW.astimezone(london),
                first_seen_at=NOW,
                content_hash="h",
                source_meta={"ukm": {"year": 2017}},
            )
        )
        row = connection.execute(select(items.c.published_at, items.c.source_meta)).one()
    assert row.published_at == NOW and row.published_at.tzinfo == UTC
    assert row.source_meta == {"ukm": {"year": 2017}}


def test_naive_times_are_refused(engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), engine.begin() as connection:
        connection.execute(
            insert(items).values(
                canonical_link="x",
                title="x",
                published_at=datetime(2017, 1, 1),
                first_seen_at=NOW,
                content_hash="h",
                source_meta={},
            )
        )


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_postgresql_url_without_driver_uses_psycopg() -> None:
    engine = make_engine("postgresql://postgres@127.0.0.1:5432/test")
    assert engine.url.drivername == "postgresql+psycopg"
