"""Date fallbacks registered with feedparser: broken forms real feeds use are read, well-formed
dates are left to feedparser's own parsers, and ambiguous or unreadable dates stay unread."""

from __future__ import annotations

import time

import pytest
from feedparser.datetimes import _parse_date

from actwatch.feeds.dates import parse_broken_date, register_fallback_date_handlers

register_fallback_date_handlers()


def utc(text: str) -> str | None:
    parsed = _parse_date(text)
    return time.strftime("%Y-%m-%d %H:%M:%S", parsed) if parsed else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fri,24 Nov 2023 18:28:36 -0000", "2023-11-24 18:28:36"),  # seen in a real feed
        ("Fri, 24 Nov 2023 18:28:36 BST", "2023-11-24 17:28:36"),  # feedparser: 18:28 UTC
        ("Sat, 25 Nov 2023 10:00:00 CEST", "2023-11-25 08:00:00"),
        ("Fri, 24th Nov 2023 18:28:36 GMT", "2023-11-24 18:28:36"),
        ("Tue, 10 Jun 2003 09:41:01.123 GMT", "2003-06-10 09:41:01"),
        ("Fri, 24 Nov 2023 18.28.36 +0000", "2023-11-24 18:28:36"),
        ("Fri, 24 Nov 2023 6:28:36 PM +0000", "2023-11-24 18:28:36"),  # feedparser: 06:28
        ("Fri, 24 Nov 2023 18:28:36 GMT-5", "2023-11-24 23:28:36"),
        ("Fri, 24 Nov 2023 18:28:36 UTC+01:00", "2023-11-24 17:28:36"),
        ("November 24, 2023", "2023-11-24 00:00:00"),
        ("Nov 24, 2023 6:28 PM", "2023-11-24 18:28:00"),
        ("Friday, November 24, 2023 - 18:28", "2023-11-24 18:28:00"),
        ("24 November 2023 at 18:28", "2023-11-24 18:28:00"),
        ("2023/11/24 18:28:36", "2023-11-24 18:28:36"),  # feedparser: 1 December
        ("24/11/2023 18:28", "2023-11-24 18:28:00"),
        ("24-11-2023", "2023-11-24 00:00:00"),  # feedparser: 20 November 2024
        ("11/24/2023", "2023-11-24 00:00:00"),
        ("1700850516", "2023-11-24 18:28:36"),  # feedparser: 8 January 2017
    ],
)
def test_broken_forms_are_read_rightly(text: str, expected: str) -> None:
    assert parse_broken_date(text) is not None
    assert utc(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Fri, 24 Nov 2023 18:28:36 +0000",
        "Fri, 24 Nov 2023 18:28:36 GMT",
        "24 Nov 2023 18:28 EST",
        "2023-11-24T18:28:36Z",
        "2023-11-24T18:28:36.123+01:00",
        "2023-11-24 18:28:36",
        "2023-11-24",
    ],
)
def test_well_formed_dates_are_left_to_feedparser(text: str) -> None:
    assert parse_broken_date(text) is None
    assert utc(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "05/06/2023",  # 5 June or May 6: guessing would be dishonest
        "Fri, 31 Jun 2023 10:00:00 GMT",  # no such day
        "Fri, 24 Nov 2023 25:00:00 GMT",
        "Coming soon",
        "",
    ],
)
def test_ambiguous_and_impossible_dates_are_not_made_up(text: str) -> None:
    assert parse_broken_date(text) is None
