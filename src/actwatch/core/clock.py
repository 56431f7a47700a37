"""The one clock. Every moment actwatch stores or compares is an aware datetime in UTC; local
time exists only at the edges (the configured time zone for seasons, schedules and display).
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


def utc(moment: datetime | None = None) -> datetime:
    """`moment` in UTC, or now when it is None. A naive datetime is refused: it could only be
    guessed at (local time? UTC?), and a wrong guess moves it by hours."""
    if moment is None:
        return datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware one")
    return moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC (`2017-10-31T09:30:00+00:00`), or None."""
    return moment.astimezone(UTC).isoformat() if moment else None


def parse_iso(text: object) -> datetime | None:
    """An aware datetime from ISO 8601 text (naive text is read as UTC); None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
