"""Drafts in the database, on SQLite and PostgreSQL: one per season, refreshed without losing
the editor's choices, listed and composed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from actwatch.bulletin.model import StoredItem
from actwatch.bulletin.seasons import parse_season
from actwatch.bulletin.store import (
    BulletinError,
    draft_bulletin,
    list_bulletins,
    load_bulletin,
    seasons_with_news,
)
from actwatch.config import Config
from actwatch.db.schema import audit_log, bulletin_items, bulletins, item_matches
from tests.bulletin.fixtures import NOW, insert_fixture, insert_item

LATER = NOW + timedelta(days=3)


def late_item(n: int, **changes: object) -> StoredItem:
    values: dict[str, object] = {
        "id": 0,
        "title": f"Late news {n}",
        "link": f"https://www.gov.uk/government/news/late-{n}",
        "source": "GOV.UK",
        "published_at": datetime(2017, 11, 29, 12, n, tzinfo=UTC),
        "summary": "Published at the end of November, polled in December.",
        "event_type": "guidance",
        "strands": ("care-leavers",),
    }
    values.update(changes)
    return StoredItem(**values)  # type: ignore[arg-type]


def test_draft_creates_then_refreshes_keeping_the_editors_choices(
    engine: Engine, config: Config
) -> None:
    ids = insert_fixture(engine)
    autumn = parse_season(config, "autumn-2017")
    first = draft_bulletin(engine, config, autumn, NOW)
    assert first.created and first.added == first.total == 10

    # The editor works on the draft.
    with engine.begin() as connection:
        connection.execute(
            update(bulletins)
            .where(bulletins.c.id == first.bulletin_id)
            .values(headline="the first provisions take effect", intro_md="Hello **all**.")
        )
        connection.execute(
            update(bulletin_items).where(bulletin_items.c.item_id == ids[4]).values(included=False)
        )
        connection.execute(
            update(bulletin_items)
            .where(bulletin_items.c.item_id == ids[7])
            .values(strand="mixed-economy", summary="In our words.", position=0)
        )

    # Nothing new: a refresh changes nothing but the time it ran.
    again = draft_bulletin(engine, config, autumn, NOW + timedelta(hours=1))
    assert (again.created, again.added, again.total, again.bulletin_id) == (
        False,
        0,
        10,
        first.bulletin_id,
    )

    # Late news and a rejected item arrive; only the relevant one is added.
    late = insert_item(engine, late_item(1))
    insert_item(engine, late_item(2), state="rejected")
    insert_item(engine, late_item(3), state="uncertain", editor_state="relevant")
    refreshed = draft_bulletin(engine, config, autumn, LATER)
    assert (refreshed.added, refreshed.total) == (2, 12)

    with engine.connect() as connection:
        row = connection.execute(select(bulletins)).one()
        choices = {
            r.item_id: r
            for r in connection.execute(
                select(bulletin_items).where(bulletin_items.c.bulletin_id == row.id)
            )
        }
        actions = connection.execute(
            select(audit_log.c.action, audit_log.c.detail).order_by(audit_log.c.id)
        ).all()
    assert row.headline == "the first provisions take effect"
    assert row.intro_md == "Hello **all**."
    assert row.state == "draft" and row.revision == 2  # the refresh that added items
    assert row.refreshed_at == LATER
    assert choices[ids[4]].included is False
    assert (choices[ids[7]].strand, choices[ids[7]].summary, choices[ids[7]].position) == (
        "mixed-economy",
        "In our words.",
        0,
    )
    assert choices[late].added_by == "matcher" and choices[late].included is True
    assert [action for action, _ in actions] == ["create_draft", "refresh_draft", "refresh_draft"]
    assert actions[-1][1] == {"season": "autumn-2017", "added": 2, "items": 12}

    composed = load_bulletin(engine, config, first.bulletin_id)
    assert composed.title.endswith(" - the first provisions take effect")
    assert composed.item_count == 11  # 12 rows, one excluded
    sections = {s.slug: s for s in composed.strand_sections}
    assert "corporate-parenting" not in sections
    assert sections["mixed-economy"].entries[0].summary == "In our words."
    assert [e.title for e in sections["care-leavers"].entries][:2] == ["Late news 3", "Late news 1"]
    assert load_bulletin(engine, config, "autumn-2017") == composed


def test_one_bulletin_per_season(engine: Engine, config: Config) -> None:
    insert_fixture(engine)
    autumn = parse_season(config, "autumn-2017")
    draft_bulletin(engine, config, autumn, NOW)
    draft_bulletin(engine, config, autumn, NOW)
    draft_bulletin(engine, config, parse_season(config, "summer-2017"), NOW)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(bulletins)).scalar() == 2
        assert connection.execute(select(func.count()).select_from(bulletin_items)).scalar() == 11


def test_only_a_draft_is_refreshed(engine: Engine, config: Config) -> None:
    insert_fixture(engine)
    autumn = parse_season(config, "autumn-2017")
    result = draft_bulletin(engine, config, autumn, NOW)
    with engine.begin() as connection:
        connection.execute(update(bulletins).values(state="approved", approved_at=NOW))
    insert_item(engine, late_item(1))
    with pytest.raises(BulletinError, match="autumn-2017 bulletin is approved"):
        draft_bulletin(engine, config, autumn, LATER)
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).where(bulletin_items.c.bulletin_id == result.bulletin_id)
        ).scalar()
    assert count == 10


def test_an_item_the_editor_later_rejects_is_not_readded(engine: Engine, config: Config) -> None:
    ids = insert_fixture(engine)
    with engine.begin() as connection:
        connection.execute(
            update(item_matches)
            .where(item_matches.c.item_id == ids[5])
            .values(editor_state="rejected")
        )
    result = draft_bulletin(engine, config, parse_season(config, "autumn-2017"), NOW)
    assert result.total == 9


def test_list_bulletins(engine: Engine, config: Config) -> None:
    ids = insert_fixture(engine)
    assert list_bulletins(engine, config) == []
    result = draft_bulletin(engine, config, parse_season(config, "autumn-2017"), NOW)
    with engine.begin() as connection:
        connection.execute(
            update(bulletin_items).where(bulletin_items.c.item_id == ids[4]).values(included=False)
        )
        connection.execute(update(bulletins).values(headline="a land of challenge"))
    draft_bulletin(engine, config, parse_season(config, "winter-2017"), NOW)
    listed = [summary.as_dict() for summary in list_bulletins(engine, config)]
    assert listed == [
        {
            "id": result.bulletin_id,
            "season": "autumn-2017",
            "state": "draft",
            "title": "Autumn 2017 news: Children & Social Work Act - a land of challenge",
            "items": 9,
        },
        {
            "id": listed[1]["id"],
            "season": "winter-2017",
            "state": "draft",
            "title": "Winter 2017 news: Children & Social Work Act",
            "items": 0,
        },
    ]


def test_the_issue_date_of_a_draft_is_when_it_falls_due(engine: Engine, config: Config) -> None:
    insert_fixture(engine)
    draft_bulletin(engine, config, parse_season(config, "autumn-2017"), NOW)
    composed = load_bulletin(engine, config, "autumn-2017")
    assert composed.issued_on.isoformat() == "2017-12-02"  # draft_after (1 day) past the end


def test_unknown_bulletins(engine: Engine, config: Config) -> None:
    with pytest.raises(BulletinError, match="no bulletin 'spring-2019'"):
        load_bulletin(engine, config, "spring-2019")
    with pytest.raises(BulletinError, match="no bulletin '42'"):
        load_bulletin(engine, config, "42")


def test_seasons_with_news(engine: Engine, config: Config) -> None:
    insert_fixture(engine)
    assert [(season.slug, count) for season, count in seasons_with_news(engine, config)] == [
        ("summer-2017", 1),
        ("autumn-2017", 10),
    ]
