"""Seasons from config: names, windows in local time, the season that ended last."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from actwatch.bulletin.seasons import (
    SeasonError,
    bulletin_title,
    last_ended_season,
    parse_season,
    season_containing,
    season_window,
    seasons_between,
)
from actwatch.config import Config

LONDON = ZoneInfo("Europe/London")


def test_autumn_is_september_to_november_in_local_time(config: Config) -> None:
    start, end = season_window(config, "autumn-2017")
    assert start == datetime(2017, 9, 1, tzinfo=LONDON)
    assert end == datetime(2017, 12, 1, tzinfo=LONDON)
    # British Summer Time: autumn starts at 23:00 UTC on 31 August.
    assert start.astimezone(UTC) == datetime(2017, 8, 31, 23, 0, tzinfo=UTC)


def test_winter_spans_the_new_year(config: Config) -> None:
    season = parse_season(config, "winter-2017")
    assert (season.start, season.end) == (date(2017, 12, 1), date(2018, 3, 1))
    assert season.label == "Winter 2017-18"
    assert season_containing(config, date(2018, 2, 28)) == season
    assert season_containing(config, date(2017, 12, 1)) == season
    assert season_containing(config, date(2017, 11, 30)).slug == "autumn-2017"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2017, 12, 1, 0, 30, tzinfo=UTC), "autumn-2017"),
        (datetime(2017, 11, 30, 23, 59, tzinfo=UTC), "summer-2017"),
        (datetime(2018, 3, 2, 9, 0, tzinfo=UTC), "winter-2017"),
        (datetime(2018, 1, 15, tzinfo=UTC), "autumn-2017"),
        # 23:30 UTC on 31 May is already 1 June in London: spring is over.
        (datetime(2018, 5, 31, 23, 30, tzinfo=UTC), "spring-2018"),
    ],
)
def test_the_season_that_ended_last(config: Config, now: datetime, expected: str) -> None:
    assert last_ended_season(config, now).slug == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("autumn", "NAME-YEAR"),
        ("fall-2017", "unknown season 'fall'"),
        ("autumn-17", "NAME-YEAR"),
        ("", "NAME-YEAR"),
    ],
)
def test_bad_season_names_are_explained(config: Config, text: str, problem: str) -> None:
    with pytest.raises(SeasonError, match=problem):
        parse_season(config, text)


def test_names_are_forgiving_about_case_and_spaces(config: Config) -> None:
    assert parse_season(config, " Autumn-2017 ").slug == "autumn-2017"


def test_title_follows_the_configured_pattern(config: Config) -> None:
    autumn = parse_season(config, "autumn-2017")
    assert bulletin_title(config, autumn) == "Autumn 2017 news: Children & Social Work Act"
    assert (
        bulletin_title(config, autumn, "  a land of\nchallenge ")
        == "Autumn 2017 news: Children & Social Work Act - a land of challenge"
    )
    custom = config.model_copy(
        update={
            "bulletin": config.bulletin.model_copy(
                update={"title_pattern": "{act}: {season} {years}"}
            )
        }
    )
    winter = parse_season(custom, "winter-2017")
    assert bulletin_title(custom, winter) == "Children & Social Work Act: winter 2017-18"


def test_custom_seasons_from_config(config: Config) -> None:
    halves = config.model_copy(
        update={
            "bulletin": config.bulletin.model_copy(
                update={
                    "seasons": {
                        "first-half": [1, 2, 3, 4, 5, 6],
                        "second-half": [7, 8, 9, 10, 11, 12],
                    }
                }
            )
        }
    )
    season = parse_season(halves, "second-half-2018")
    assert (season.start, season.end) == (date(2018, 7, 1), date(2019, 1, 1))
    assert season.label == "Second half 2018"
    assert [s.slug for s in seasons_between(halves, date(2018, 3, 1), date(2019, 2, 1))] == [
        "first-half-2018",
        "second-half-2018",
        "first-half-2019",
    ]


def test_a_season_is_named_one_way_in_title_banner_and_subject(config: Config) -> None:
    from actwatch.bulletin.compose import compose
    from actwatch.bulletin.render import preview_links, render_html, render_text, subject

    winter = parse_season(config, "winter-2017")
    bulletin = compose(config, winter, items=[], headline="a quiet season", issued_on=winter.end)
    assert bulletin.title == "Winter 2017-18 news: Children & Social Work Act - a quiet season"
    assert subject(bulletin) == "A quiet season – Winter 2017-18 news"
    html = render_html(bulletin, preview_links(config, winter.slug))
    # The banner (upper-cased by its style), the preview text and the title agree.
    assert "Winter 2017-18 &middot; 2017 c. 16" in html
    assert "Winter 2017-18: what came into force" in html
    assert "Winter 2017 " not in html.replace("Winter 2017-18", "")
    text = render_text(bulletin, preview_links(config, winter.slug))
    assert text.startswith("Winter 2017-18 news: Children & Social Work Act - a quiet season")
