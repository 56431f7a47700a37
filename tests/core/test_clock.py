"""The one clock: aware UTC in, aware UTC out; a naive time is refused, never guessed at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from actwatch.core.clock import iso, now, parse_iso, utc


def test_now_is_aware_utc() -> None:
    moment = now()
    assert moment.tzinfo is UTC
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=1)


def test_utc_converts_an_aware_time_and_refuses_a_naive_one() -> None:
    london_summer = datetime(2017, 7, 1, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    assert utc(london_summer) == datetime(2017, 7, 1, 9, 0, tzinfo=UTC)
    assert utc(london_summer).tzinfo is UTC
    assert utc(None).tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        utc(datetime(2017, 7, 1, 10, 0))


def test_iso_round_trips_and_reads_naive_text_as_utc() -> None:
    moment = datetime(2017, 10, 31, 9, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert iso(moment) == "2017-10-31T14:30:00+00:00"
    assert parse_iso(iso(moment)) == moment
    assert parse_iso("2017-10-31T14:30:00") == datetime(2017, 10, 31, 14, 30, tzinfo=UTC)
    assert iso(None) is None
    assert parse_iso("not a time") is None and parse_iso(None) is None and parse_iso(3) is None
