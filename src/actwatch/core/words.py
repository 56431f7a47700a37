"""Counts in words people read: "1 item", "7 items", never "7 item(s)"."""

from __future__ import annotations


def plural(number: int, singular: str, many: str | None = None) -> str:
    """The noun for `number` of them: `many` (default: `singular` + "s") unless it is one."""
    return singular if number == 1 else (many or singular + "s")


def count(number: int, singular: str, many: str | None = None) -> str:
    """'1 day', '7 days', '1,234 messages'."""
    return f"{number:,} {plural(number, singular, many)}"
