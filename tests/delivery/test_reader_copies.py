"""Each reader's subject and introduction fit the strands they chose (bulletin.copies)."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage

from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.delivery import send_bulletin
from actwatch.review import approve
from actwatch.review.editing import set_headline, set_intro
from tests.delivery.conftest import APPROVED_AT, ENV, Approved
from tests.delivery.smtp import Sink
from tests.delivery.test_send import by_reader, parts
from tests.review.conftest import make_draft

INTRO = (
    "Social Work England consulted on its rules this autumn.\n\n"
    "Councils are getting ready to publish their local offers for care leavers.\n\n"
    "As ever, write to us with news we missed."
)


def test_each_reader_gets_a_subject_and_introduction_for_their_strands(
    sqlite_engine: Engine, config: Config, add_readers: Callable[..., None], sink: Sink
) -> None:
    draft = make_draft(sqlite_engine, config)
    set_headline(
        sqlite_engine, draft.bulletin_id, "Social Work England sets out its rules", actor="Ed"
    )
    set_intro(sqlite_engine, draft.bulletin_id, INTRO, actor="Ed")
    approve(sqlite_engine, config, draft.bulletin_id, by="Ed", now=APPROVED_AT)
    add_readers(Approved(sqlite_engine, config, draft.bulletin_id))
    report = send_bulletin(sqlite_engine, config, draft.bulletin_id, env=ENV)
    assert report.sent == 3
    messages = by_reader(sink)

    everything = messages["all@example.org"]
    assert everything["Subject"] == "Social Work England sets out its rules – Autumn 2017 news"
    text = " ".join(parts(everything)[0].split())
    assert "Social Work England consulted" in text and "local offers for care leavers" in text

    # Care leavers and corporate parenting: the headline and the paragraph about Social Work
    # England are not theirs; their subject leads with their own news.
    leavers = messages["leavers@example.org"]
    assert " ".join(str(leavers["Subject"]).split()) == (
        "Corporate parenting: what councils need to know <before April> – Autumn 2017 news"
    )
    text, html = parts(leavers)
    text = " ".join(text.split())
    assert "Social Work England consulted" not in text and "sets out its rules" not in html
    assert "local offers for care leavers" in text and "As ever, write to us" in text

    safe = messages["safe@example.org"]
    assert "Social Work England" not in str(safe["Subject"])
    assert "Autumn 2017 news" in str(safe["Subject"])


def body_without_tokens(message: EmailMessage) -> tuple[str, str, str]:
    text, html = parts(message)
    token = re.compile(r"/(unsubscribe|preferences)/[A-Za-z0-9_.-]+")
    return str(message["Subject"]), token.sub(r"/\1/T", text), token.sub(r"/\1/T", html)


def test_one_render_per_distinct_copy(
    sqlite_engine: Engine, config: Config, add_readers: Callable[..., None], sink: Sink
) -> None:
    """Readers whose choices make the same copy share one rendering (copies that differ only in
    their words are told apart: tests/bulletin/test_strand_copies.py)."""
    draft = make_draft(sqlite_engine, config)
    set_intro(sqlite_engine, draft.bulletin_id, INTRO, actor="Ed")
    approve(sqlite_engine, config, draft.bulletin_id, by="Ed", now=APPROVED_AT)
    add_readers(
        Approved(sqlite_engine, config, draft.bulletin_id),
        "email,name,strands\n"
        "leavers@example.org,,care-leavers\n"
        # Schools has no news this season and the introduction does not name it: the same copy.
        "leavers-schools@example.org,,care-leavers;schools-accountability\n"
        "safe@example.org,,safeguarding-partnerships\n"
        "all@example.org,,\n",
    )
    report = send_bulletin(sqlite_engine, config, draft.bulletin_id, env=ENV)
    assert (report.sent, report.renders) == (4, 3)
    messages = {rcpt: body_without_tokens(m) for rcpt, m in by_reader(sink).items()}
    assert messages["leavers@example.org"] == messages["leavers-schools@example.org"]
    assert len(set(messages.values())) == 3
