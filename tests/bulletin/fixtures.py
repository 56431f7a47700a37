"""The fixed season of the golden-file tests, as plain values and as database rows."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from actwatch.bulletin.model import StoredCommencement, StoredItem
from actwatch.db.schema import (
    commencements,
    feeds,
    item_matches,
    item_sources,
    item_strands,
    items,
)
from tests.conftest import DATA

FIXTURE = DATA / "bulletin" / "autumn-2017.json"
NOW = datetime(2017, 12, 2, 9, 0, tzinfo=UTC)


def fixture() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return data


def stored_items(data: dict[str, Any] | None = None) -> list[StoredItem]:
    data = data or fixture()
    return [
        StoredItem(
            id=item["id"],
            title=item["title"],
            link=item["link"],
            source=item["source"],
            published_at=datetime.fromisoformat(item["published_at"]),
            summary=item["summary"],
            event_type=item["event_type"],
            strands=tuple(item["strands"]),
        )
        for item in data["items"]
    ]


def stored_commencements(data: dict[str, Any] | None = None) -> list[StoredCommencement]:
    data = data or fixture()
    return [
        StoredCommencement(
            item_id=row["item_id"],
            section=row["section"],
            in_force_on=date.fromisoformat(row["in_force_on"]),
            purpose=row["purpose"],
        )
        for row in data["commencements"]
    ]


def feed_id(engine: Engine, title: str) -> int:
    """A feed row per source title (the bulletin names sources by feed)."""
    name = "".join(ch if ch.isalnum() else "-" for ch in title.lower()).strip("-")
    with engine.begin() as connection:
        found = connection.execute(select(feeds.c.id).where(feeds.c.name == name)).scalar()
        if found is not None:
            return int(found)
        return int(
            connection.execute(
                insert(feeds).values(
                    name=name,
                    url=f"https://{name}.example.org/feed",
                    fetch_url=f"https://{name}.example.org/feed",
                    feed_title=title,
                    created_at=NOW,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )


def insert_item(
    engine: Engine,
    item: StoredItem,
    *,
    state: str = "relevant",
    editor_state: str | None = None,
    with_id: bool = False,
) -> int:
    source = feed_id(engine, item.source)
    with engine.begin() as connection:
        values: dict[str, Any] = {
            "canonical_link": item.link,
            "title": item.title,
            "summary": item.summary,
            "published_at": item.published_at,
            "first_seen_at": item.published_at,
            "content_hash": hashlib.sha256(item.link.encode()).hexdigest(),
            "source_meta": {},
        }
        if with_id:
            values["id"] = item.id
        inserted = connection.execute(insert(items).values(**values)).inserted_primary_key
        assert inserted is not None
        item_id = int(inserted[0])
        connection.execute(
            insert(item_sources).values(
                item_id=item_id,
                feed_id=source,
                link=item.link,
                content_hash=values["content_hash"],
                first_seen_at=item.published_at,
                last_seen_at=item.published_at,
            )
        )
        connection.execute(
            insert(item_matches).values(
                item_id=item_id,
                state=state,
                relevant=state == "relevant",
                event_type=item.event_type,
                confidence=0.9,
                evidence=[],
                rules_hash="test",
                classified_at=item.published_at,
                editor_state=editor_state,
            )
        )
        for strand in item.strands:
            connection.execute(insert(item_strands).values(item_id=item_id, strand=strand))
    return item_id


def insert_fixture(engine: Engine) -> dict[int, int]:
    """Store the fixture's items and commencements; returns fixture id -> database id."""
    ids = {item.id: insert_item(engine, item) for item in stored_items()}
    with engine.begin() as connection:
        for row in stored_commencements():
            connection.execute(
                insert(commencements).values(
                    item_id=ids[row.item_id],
                    section=row.section,
                    in_force_on=row.in_force_on,
                    purpose=row.purpose,
                    source="title",
                )
            )
    return ids
