"""Seasons: named spans of months from `bulletin.seasons`, written like `autumn-2017`.

A season is named after the year it starts in, so `winter-2017` runs from December 2017 to the
end of February 2018. Windows are local days in the configured time zone: stored times are UTC,
and an announcement made at 00:30 on 1 September in London belongs to autumn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from actwatch.config import Config

_SEASON_NAME = re.compile(r"^\s*([a-z0-9]+(?:-[a-z0-9]+)*?)-(\d{4})\s*$")


class SeasonError(ValueError):
    """A season name that the config does not define."""


@dataclass(frozen=True, order=True)
class Season:
    start: date  # first day
    end: date  # first day after the season
    name: str
    year: int

    @property
    def slug(self) -> str:
        return f"{self.name}-{self.year}"

    @property
    def label(self) -> str:
        """'Autumn 2017', 'Winter 2017-18'."""
        return f"{self.name.replace('-', ' ').capitalize()} {self.years}"

    @property
    def years(self) -> str:
        last = date.fromordinal(self.end.toordinal() - 1).year
        return str(self.year) if last == self.year else f"{self.year}-{last % 100:02d}"

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)

    def __str__(self) -> str:
        return self.slug


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _make(config: Config, name: str, year: int) -> Season:
    months = config.bulletin.seasons[name]
    start = date(year, months[0], 1)
    return Season(start=start, end=_add_months(start, len(months)), name=name, year=year)


def parse_season(config: Config, text: str) -> Season:
    match = _SEASON_NAME.match(text.lower())
    names = ", ".join(config.bulletin.seasons)
    if not match:
        raise SeasonError(f"{text!r} is not a season: use NAME-YEAR, e.g. autumn-2017 ({names})")
    name, year = match[1], int(match[2])
    if name not in config.bulletin.seasons:
        raise SeasonError(f"unknown season {name!r} (the config defines {names})")
    if not 1900 <= year <= 9998:
        raise SeasonError(f"year {year} is out of range")
    return _make(config, name, year)


def season_containing(config: Config, day: date) -> Season:
    for name, months in config.bulletin.seasons.items():
        if day.month in months:
            # A season that wraps the new year started in the previous year for its later months.
            year = day.year if day.month >= months[0] else day.year - 1
            return _make(config, name, year)
    raise AssertionError("config validation guarantees the seasons cover every month")


def previous_season(config: Config, season: Season) -> Season:
    return season_containing(config, date.fromordinal(season.start.toordinal() - 1))


def next_season(config: Config, season: Season) -> Season:
    return season_containing(config, season.end)


def last_ended_season(config: Config, now: datetime) -> Season:
    """The latest season that is over at `now` (an aware datetime), in the configured zone."""
    today = now.astimezone(config.schedule.zone).date()
    return previous_season(config, season_containing(config, today))


def seasons_between(config: Config, first: date, last: date) -> list[Season]:
    """Every season touching the days from `first` to `last`, oldest first."""
    seasons = []
    season = season_containing(config, first)
    while season.start <= last:
        seasons.append(season)
        season = next_season(config, season)
    return seasons


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def window(config: Config, season: Season) -> tuple[datetime, datetime]:
    zone = config.schedule.zone
    return local_midnight(season.start, zone), local_midnight(season.end, zone)


def draft_due_at(config: Config, season: Season) -> datetime:
    """When the season's draft is compiled (UTC): the first `schedule.draft_at` local time at or
    after the season's end plus `schedule.draft_after`."""
    zone = config.schedule.zone
    earliest = local_midnight(season.end, zone) + config.schedule.draft_after
    day = earliest.astimezone(zone).date()
    moment = datetime.combine(day, config.schedule.draft_at, tzinfo=zone)
    if moment < earliest:
        moment = datetime.combine(day + timedelta(days=1), config.schedule.draft_at, tzinfo=zone)
    return moment.astimezone(UTC)


def season_window(config: Config, season: str | Season) -> tuple[datetime, datetime]:
    """(start, end) of a season as aware datetimes in the configured zone; end is exclusive."""
    return window(config, parse_season(config, season) if isinstance(season, str) else season)


def bulletin_title(config: Config, season: Season, headline: str = "") -> str:
    """'Autumn 2017 news: Children & Social Work Act - a land of challenge and opportunity'."""
    title = config.bulletin.title_pattern.format(
        season=season.name,
        Season=season.name.replace("-", " ").capitalize(),
        year=season.year,
        years=season.years,
        act=config.act.short_name,
    )
    headline = " ".join(headline.split())
    return f"{title}{config.bulletin.headline_separator}{headline}" if headline else title
