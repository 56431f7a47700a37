"""Drafts in the database, on SQLite and PostgreSQL: one per season, refreshed without losing
the editor's choices, listed and composed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from actwatch.bulletin.model import StoredItem
from actwatch.bulletin.seasons import parse_season
from actwatch.bulletin.store import (
    BulletinError,
    NothingToDraft,
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
    listed = [summary.as_dict() for summary in list_bulletins(engine, config)]
    assert listed == [
        {
            "id": result.bulletin_id,
            "season": "autumn-2017",
            "state": "draft",
            "title": "Autumn 2017 news: Children & Social Work Act - a land of challenge",
            "items": 9,
        },
    ]


def test_no_draft_for_a_season_without_news_or_not_begun(engine: Engine, config: Config) -> None:
    insert_fixture(engine)  # summer and autumn 2017
    with pytest.raises(NothingToDraft, match="winter-2017 has no relevant announcements yet"):
        draft_bulletin(engine, config, parse_season(config, "winter-2017"), NOW)
    with pytest.raises(NothingToDraft, match="spring-2018 has not started yet"):
        draft_bulletin(engine, config, parse_season(config, "spring-2018"), NOW)
    # A season under way with news may be drafted early (it is refreshed until approved).
    assert draft_bulletin(engine, config, parse_season(config, "autumn-2017"), LATER).created
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(bulletins)).scalar_one() == 1


def test_one_issue_date_until_approval_then_the_approval_day(
    engine: Engine, config: Config
) -> None:
    insert_fixture(engine)
    draft_bulletin(engine, config, parse_season(config, "autumn-2017"), NOW)
    # Until it is approved, a draft is issued on the day approving it would issue it.
    today = date(2017, 12, 5)
    assert load_bulletin(engine, config, "autumn-2017", today=today).issued_on == today
    approved_at = datetime(2017, 12, 6, 23, 30, tzinfo=UTC)  # 6 December in London
    with engine.begin() as connection:
        connection.execute(update(bulletins).values(state="approved", approved_at=approved_at))
    assert load_bulletin(engine, config, "autumn-2017", today=today).issued_on == date(2017, 12, 6)


def test_an_issue_date_set_ahead_dates_every_rendering(engine: Engine, config: Config) -> None:
    insert_fixture(engine)
    season = parse_season(config, "autumn-2017")
    draft_bulletin(engine, config, season, LATER, issued_on=date(2017, 12, 2))
    composed = load_bulletin(engine, config, "autumn-2017", today=date(2020, 1, 1))
    assert composed.issued_on == date(2017, 12, 2)
    # As of 2 December 2017, 1 April 2018 is still to come (known in 2020, it would not be).
    assert [c.in_force_on for c in composed.coming_up.entries] == [date(2018, 4, 1)] * 2


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


def test_seasons_with_news_by_local_day_and_the_editors_verdict(
    engine: Engine, config: Config
) -> None:
    """Counted by the database season by season: a season starts at local midnight (BST in
    June: 23:00 UTC the day before), and the editor's verdict wins over the matcher's."""

    def item(number: int, when: datetime, state: str, editor: str | None = None) -> None:
        story = StoredItem(number, f"Item {number}", f"https://example.org/{number}", "DfE", when)
        insert_item(engine, story, state=state, editor_state=editor)

    item(1, datetime(2018, 5, 31, 22, 59, tzinfo=UTC), "relevant")  # 23:59 BST: spring
    item(2, datetime(2018, 5, 31, 23, 0, tzinfo=UTC), "relevant")  # midnight BST: summer
    item(3, datetime(2018, 7, 1, tzinfo=UTC), "uncertain", editor="relevant")
    item(4, datetime(2018, 7, 2, tzinfo=UTC), "relevant", editor="rejected")
    item(5, datetime(2019, 12, 31, 23, 59, tzinfo=UTC), "relevant")  # winter 2019-20
    item(6, datetime(2019, 1, 5, tzinfo=UTC), "rejected")
    assert [(season.slug, count) for season, count in seasons_with_news(engine, config)] == [
        ("spring-2018", 1),
        ("summer-2018", 2),
        ("winter-2019", 1),
    ]
