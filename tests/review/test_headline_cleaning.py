"""The editor's headline and preview text are cleaned where they enter (issue 12, item 2): one
line, no control characters, encoded words kept as the literal text they are; the subject
built from the headline is that text and nothing more."""

from __future__ import annotations

import unicodedata

import pytest

from actwatch.bulletin import load_bulletin
from actwatch.bulletin.render import subject
from actwatch.review.editing import set_headline, set_preheader
from actwatch.review.records import load_row
from actwatch.review.states import ReviewError
from tests.review.conftest import Draft

HOSTILE = {
    "crlf": ("Care leavers\r\nBcc: victim@example.org", "Care leavers Bcc: victim@example.org"),
    "bare-cr-lf": ("One\rTwo\nThree", "One Two Three"),
    "nul-esc": ("Care\x00leavers\x1b[0m", "Care leavers [0m"),
    "unicode-breaks": ("Line\u2028Sep\u2029Para\u0085Nel", "Line Sep Para Nel"),
    "encoded": (
        "News =?utf-8?q?=0D=0ABcc:_victim@example.org?=",
        "News =?utf-8?q?=0D=0ABcc:_victim@example.org?=",
    ),
    "surrogate": ("Lone\ud800surrogate", "Lone surrogate"),
}


@pytest.mark.parametrize(("dirty", "clean"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_headline_is_stored_and_used_clean(
    sqlite_draft: Draft, dirty: str, clean: str
) -> None:
    draft = sqlite_draft
    set_headline(draft.engine, draft.bulletin_id, dirty, actor="Ed")
    set_preheader(draft.engine, draft.bulletin_id, dirty, actor="Ed")
    with draft.engine.connect() as connection:
        row = load_row(connection, draft.bulletin_id)
    assert (row.headline, row.preheader) == (clean, clean)
    composed = load_bulletin(draft.engine, draft.config, draft.bulletin_id)
    line = subject(composed)
    assert line.startswith(clean)
    assert not any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in line)


def test_a_headline_too_long_is_refused_not_cut(sqlite_draft: Draft) -> None:
    with pytest.raises(ReviewError, match="too long"):
        set_headline(sqlite_draft.engine, sqlite_draft.bulletin_id, "x" * 201, actor="Ed")
