"""Cleaning text that came from outside (feeds, forms, the command line) before it is stored or
put into a mail header.

`one_line` is for anything shown on one line: titles, names, headlines, header values. It is
the one cleaning every place uses where such text enters (CSV import, the sign-up form, the
editor's headline) and again where a mail header is built (`actwatch.mail.headers`). It turns
every control character, line break and tab into a space (C0 and C1 controls, DEL, NEL and the
Unicode line and paragraph separators: a CR or LF left in a title would start a second mail
header; a lone surrogate, which no encoder can write, likewise), collapses runs of spaces and
strips the ends. It decodes nothing: an RFC 2047 encoded word (`=?utf-8?q?=0D=0A?=`) stays the
literal text it is, and header building encodes it as text again.

`multiline` is for text that keeps its lines (Markdown): line endings become `\\n`, other
control characters go.
"""

from __future__ import annotations

import re

# Control characters, C0 and C1, the Unicode line and paragraph separators, lone surrogates.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_SPACE = re.compile(r"\s+")
# Anything one_line would change: a control, a line break or tab, two spaces, an edge space.
# Most titles are clean already; checking first saves building a new string for each one.
_UNCLEAN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]|[^\S ]|  |^ | $")
# In multi-line text only the line feed (and the tab, as typed) stay.
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_LINE_ENDING = re.compile(r"\r\n?|\u0085")


def one_line(text: str | None) -> str:
    """One line of plain text: no controls, no line breaks, single spaces, no edge spaces."""
    if not text:
        return ""
    if _UNCLEAN.search(text) is None:
        return text
    return _SPACE.sub(" ", _CONTROL.sub(" ", text)).strip()


def multiline(text: str | None) -> str:
    """Text that keeps its lines: `\\r\\n`, `\\r` and NEL become `\\n`, other controls go, and
    the ends are stripped."""
    if not text:
        return ""
    return _CONTROL_BUT_LINES.sub("", _LINE_ENDING.sub("\n", text)).strip()
