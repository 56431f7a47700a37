"""Text cleaning: one line for titles, names and headers; lines kept for Markdown."""

from __future__ import annotations

import pytest

from actwatch.core.text import multiline, one_line
from actwatch.mail.message import clean_header


@pytest.mark.parametrize(
    "dirty",
    [
        "Care\r\nBcc: victim@example.org",
        "Care\rleavers",
        "Care\nleavers",
        "Care\u0085leavers",  # NEL
        "Care\u2028leavers",  # line separator
        "Care\u2029leavers",  # paragraph separator
        "Care\x00leavers",
        "Care\x1bleavers",
        "Care\x9bleavers",  # a C1 control
        "Care\tleavers",
        "  Care   leavers  ",
        "Care\xa0leavers",  # no-break space
    ],
)
def test_one_line_leaves_no_control_or_line_break(dirty: str) -> None:
    cleaned = one_line(dirty)
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert "\u2028" not in cleaned and "\u2029" not in cleaned
    assert cleaned == cleaned.strip() and "  " not in cleaned
    # The same cleaning protects every mail header.
    assert clean_header(dirty) == cleaned


def test_one_line_keeps_clean_text_and_its_words() -> None:
    title = "Children’s social care: £20m for what works – “a new era”"
    assert one_line(title) is title
    assert one_line("Care\r\nBcc: x") == "Care Bcc: x"
    assert one_line(None) == "" and one_line("") == ""


def test_multiline_keeps_lines_and_drops_other_controls() -> None:
    text = "  # Heading\r\n\r\nA line\rAnother\u0085Third\x00\x1b with\ttab  "
    assert multiline(text) == "# Heading\n\nA line\nAnother\nThird with\ttab"
    assert multiline(None) == ""
