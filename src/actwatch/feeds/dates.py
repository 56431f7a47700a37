"""Dates feedparser cannot read, or reads wrongly, in forms real feeds use.

feedparser's own parsers handle RFC 822 and ISO 8601 well. These fallbacks are registered as
feedparser date handlers (`feedparser.registerDateHandler`) for the broken forms publishers
still send:

- RFC 822 with a slip: no space after the comma (`Fri,24 Nov 2023 18:28:36 -0000`), an ordinal
  day (`24th`), fractional seconds, a dotted or 12-hour time, `GMT+1` / `UTC+01:00` offsets,
  and zone abbreviations feedparser does not know and would silently read as UTC (`BST`,
  `CEST`);
- month-first English dates (`November 24, 2023 6:28 PM`, `Friday, November 24, 2023 - 18:28`);
- numeric dates feedparser gets wrong: `2023/11/24 18:28`, and day-first `24/11/2023` or
  `24-11-2023` when the day is over 12 (when both readings are possible the date is left
  alone: guessing would be dishonest);
- Unix timestamps.

feedparser tries registered handlers before its own, so each fallback first checks that the
text needs it: well-formed RFC 822 and ISO 8601 dates go straight on to feedparser's parsers.
A handler returns a UTC 9-tuple or None, as feedparser expects.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

DateHandler = Callable[[str], "time.struct_time | None"]

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_DAY = r"(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*"
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"

# Zone names feedparser does not know (it reads them as UTC): offsets in minutes. Ambiguous
# abbreviations (IST: India or Ireland; CST: China or Central) are left out on purpose.
EXTRA_ZONES = {
    "UTC": 0,
    "WET": 0,
    "WEST": 60,
    "BST": 60,
    "CET": 60,
    "CEST": 120,
    "EET": 120,
    "EEST": 180,
    "MSK": 180,
    "SAST": 120,
    "HKT": 480,
    "SGT": 480,
    "AWST": 480,
    "JST": 540,
    "KST": 540,
    "ACST": 570,
    "ACDT": 630,
    "AEST": 600,
    "AEDT": 660,
    "NZST": 720,
    "NZDT": 780,
    "HST": -600,
    "AKST": -540,
    "AKDT": -480,
    "NST": -210,
    "NDT": -150,
}
# Zones both stdlib and feedparser read correctly.
_KNOWN_ZONES = r"(?:UT|UTC|GMT|Z|[ECMP][SD]T|[+-]\d{4}|[+-]\d{2}:\d{2})"

_WELL_FORMED = re.compile(
    # ISO 8601 / RFC 3339, which feedparser's w3dtf parser reads correctly.
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s?(?:Z|[+-]\d{2}:?\d{2})?)?"
    # RFC 822 as the standard writes it.
    rf"|(?:{_DAY}, )?\d{{1,2}} {_MONTH} \d{{2,4}}"
    rf" \d{{1,2}}:\d{{2}}(?::\d{{2}})?(?: {_KNOWN_ZONES})?",
    re.IGNORECASE,
)
_TIME = r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})(?:[:.](?P<second>\d{2})(?:[.,]\d+)?)?"
_AMPM = r"(?:\s*(?P<ampm>[ap])\.?m\.?)?"
_ZONE = r"(?:\s*(?P<zone>(?:GMT|UTC|UT)?\s?[+-]\d{1,2}(?::?\d{2})?|[A-Z]{1,5})(?:\s*\([^)]*\))?)?"

_RFC822_LIKE = re.compile(
    rf"^(?:{_DAY}\.?,?\s*)?(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\.?\s+(?P<month>{_MONTH})\.?,?\s+"
    rf"(?P<year>\d{{4}}|\d{{2}})(?:,?\s+(?:at\s+)?{_TIME}{_AMPM})?{_ZONE}$",
    re.IGNORECASE,
)
_MONTH_FIRST = re.compile(
    rf"^(?:{_DAY},?\s+)?(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+"
    rf"(?P<year>\d{{4}})(?:(?:\s*-|,|\s+at)?\s+{_TIME}{_AMPM})?{_ZONE}$",
    re.IGNORECASE,
)
_YEAR_FIRST = re.compile(
    rf"^(?P<year>\d{{4}})[/.](?P<month>\d{{1,2}})[/.](?P<day>\d{{1,2}})"
    rf"(?:[ T]{_TIME}{_AMPM})?{_ZONE}$",
    re.IGNORECASE,
)
_NUMERIC_DAY_FIRST = re.compile(
    rf"^(?P<first>\d{{1,2}})(?P<sep>[/.-])(?P<other>\d{{1,2}})(?P=sep)(?P<year>\d{{4}})"
    rf"(?:[ T,]+{_TIME}{_AMPM})?{_ZONE}$",
    re.IGNORECASE,
)
_EPOCH = re.compile(r"^\d{9,10}$")


def parse_broken_date(text: str) -> time.struct_time | None:
    """The date in `text` as a UTC struct_time, when `text` is one of the broken forms above;
    None for well-formed dates (feedparser's own parsers read those) and for anything else."""
    text = text.strip()
    if not text or (text[4:5] == "-" and text[:4].isdigit()) or _WELL_FORMED.fullmatch(text):
        return None  # ISO 8601 and well-formed RFC 822: feedparser's own parsers read them
    if _EPOCH.match(text):
        return time.gmtime(int(text))
    for pattern in (_RFC822_LIKE, _MONTH_FIRST, _YEAR_FIRST):
        match = pattern.match(text)
        if match is not None:
            return _from_parts(match, match["year"], match["month"], match["day"])
    match = _NUMERIC_DAY_FIRST.match(text)
    if match is not None:
        first, other = int(match["first"]), int(match["other"])
        if first > 12 >= other:
            return _from_parts(match, match["year"], match["other"], match["first"])
        if other > 12 >= first:
            return _from_parts(match, match["year"], match["first"], match["other"])
    return None


def _from_parts(
    match: re.Match[str], year_text: str, month_text: str, day_text: str
) -> time.struct_time | None:
    month = _MONTHS.get(month_text.lower().rstrip(".")) if not month_text.isdigit() else None
    if month is None:
        month = int(month_text) if month_text.isdigit() else 0
    if not 1 <= month <= 12:
        return None
    year = int(year_text)
    if year < 100:
        year += 2000 if year < 70 else 1900
    hour = int(match["hour"]) if match["hour"] else 0
    minute = int(match["minute"]) if match["minute"] else 0
    second = int(match["second"]) if match["second"] else 0
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"].lower() == "p" else 0)
    offset = _offset_minutes(match["zone"])
    if offset is None:
        return None
    try:
        zone = timezone(timedelta(minutes=offset))
        moment = datetime(year, month, int(day_text), hour, minute, second, tzinfo=zone)
    except ValueError:  # 31 June, 25 o'clock
        return None
    return moment.astimezone(UTC).timetuple()


def _offset_minutes(zone: str | None) -> int | None:
    """Minutes east of UTC; 0 when no zone is given (feedparser's convention); None when the
    zone cannot be read."""
    if not zone:
        return 0
    zone = zone.strip().upper()
    numeric = re.fullmatch(r"(?:GMT|UTC|UT)?\s?([+-])(\d{1,2})(?::?(\d{2}))?", zone)
    if numeric is not None:
        sign = 1 if numeric[1] == "+" else -1
        hours, minutes = int(numeric[2]), int(numeric[3] or 0)
        if hours > 14 or minutes > 59:
            return None
        return sign * (hours * 60 + minutes)
    if zone in ("GMT", "UT", "Z"):
        return 0
    if zone in EXTRA_ZONES:
        return EXTRA_ZONES[zone]
    if zone in _STDLIB_ZONES:
        return _STDLIB_ZONES[zone]
    return None


# North American zones, as RFC 822 defines them (and feedparser reads them).
_STDLIB_ZONES = {
    "EST": -300,
    "EDT": -240,
    "CST": -360,
    "CDT": -300,
    "MST": -420,
    "MDT": -360,
    "PST": -480,
    "PDT": -420,
    "AST": -240,
    "ADT": -180,
}


FALLBACK_DATE_HANDLERS: tuple[DateHandler, ...] = (parse_broken_date,)


_registered = False


def register_fallback_date_handlers() -> None:
    """Register the fallbacks with feedparser, once per process."""
    global _registered
    if _registered:
        return
    import feedparser

    for handler in FALLBACK_DATE_HANDLERS:
        feedparser.registerDateHandler(handler)
    _registered = True
