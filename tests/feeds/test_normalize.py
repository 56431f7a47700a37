"""Normalisation: the values that decide identity and what readers see."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actwatch.feeds.entries import plausible
from actwatch.feeds.normalize import (
    clean_line,
    content_hash,
    html_to_text,
    split_display_type,
)

NOW = datetime(2020, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("title", "link", "expected"),
    [
        (
            "Press release: New regulator",
            "https://www.gov.uk/x",
            ("New regulator", "Press release"),
        ),
        (
            "Statutory guidance: Working together",
            "https://www.gov.uk/x",
            ("Working together", "Statutory guidance"),
        ),
        ("open consultation: RSE", "https://www.gov.uk/x", ("RSE", "Open consultation")),
        # Not a display type: the colon belongs to the title.
        (
            "Social work: a new regulator",
            "https://www.gov.uk/x",
            ("Social work: a new regulator", None),
        ),
        # Only GOV.UK titles carry display types.
        (
            "Press release: New regulator",
            "https://www.communitycare.co.uk/x",
            ("Press release: New regulator", None),
        ),
    ],
)
def test_split_display_type(title: str, link: str, expected: tuple[str, str | None]) -> None:
    assert split_display_type(title, link) == expected


def test_html_to_text_drops_markup_and_scripts_and_keeps_words_apart() -> None:
    html = "<p>Care&nbsp;leavers &amp; advisers</p><p>up to <b>25</b></p><script>alert(1)</script>"
    assert html_to_text(html) == "Care\xa0leavers & advisers up to 25".replace("\xa0", " ")


def test_titles_cannot_carry_line_breaks_or_controls() -> None:
    assert clean_line("Subject\r\nBcc: victim@example.org\x00") == "Subject Bcc: victim@example.org"
    assert html_to_text("A\u2028B") == "A B"


def test_dates_are_aware_utc_and_absurd_ones_are_dropped() -> None:
    moment = datetime(2018, 3, 7, 9, 12, tzinfo=UTC)
    assert plausible(moment, NOW) == (moment, None)
    assert plausible(moment.replace(tzinfo=None), NOW) == (moment, None)
    assert plausible(None, NOW) == (None, None)
    assert plausible(datetime(2031, 1, 1, tzinfo=UTC), NOW) == (
        None,
        "date in the future (2031-01-01)",
    )
    assert plausible(datetime(1970, 1, 2, tzinfo=UTC), NOW) == (
        None,
        "implausibly old date (1970-01-02)",
    )


def test_content_hash_ignores_whitespace_in_markup_but_not_words() -> None:
    first = content_hash("T", "S", "<p>a  b</p>\n")
    assert first == content_hash("T", "S", "<p>a b</p> ")
    assert first != content_hash("T", "S", "<p>a c</p>")
    assert first != content_hash("T2", "S", "<p>a b</p>")
