"""Sending to a real SMTP server (aiosmtpd): structure and headers, content per choice, outcomes."""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from actwatch.db.schema import audit_log, bulletins, deliveries, subscribers
from actwatch.delivery import send_bulletin
from actwatch.review import frozen_copy
from actwatch.subscribers import Tokens
from tests.delivery.conftest import ENV, SECRET, Approved
from tests.delivery.smtp import Sink

H2 = re.compile(r"<h2[^>]*>(.*?)</h2>", re.S)
BASE = "https://actwatch.example.org"


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    plain, html = list(message.iter_parts())
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    # Mail has CRLF line ends; the approved copies have LF.
    text, markup = (str(p.get_content()).replace("\r\n", "\n") for p in (plain, html))
    return text, markup


def by_reader(sink: Sink) -> dict[str, EmailMessage]:
    received = sink.messages()
    found = {rcpt: message for rcpt, message in received}
    assert len(found) == len(received), "someone got two messages"
    return found


def headings(html: str) -> set[str]:
    return {re.sub(r"<[^>]+>", "", h).replace("&amp;", "&").strip() for h in H2.findall(html)}


def test_each_reader_gets_one_message_with_list_headers(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    add_readers(approved)
    report = send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    assert (report.sent, report.bounced, report.failed, report.deferred) == (3, 0, 0, 0)
    assert report.finished and report.renders == 3
    messages = by_reader(sink)
    assert set(messages) == {"all@example.org", "leavers@example.org", "safe@example.org"}
    tokens = Tokens(SECRET)
    message_ids = set()
    for rcpt, message in messages.items():
        assert message["From"].addresses[0].addr_spec == "bulletin@actwatch.example.org"
        assert message["To"].addresses[0].addr_spec == rcpt
        assert message["Subject"] == "Autumn 2017 news: Children & Social Work Act"
        assert message["Date"].datetime.tzinfo is not None
        assert message["Message-ID"].endswith("@actwatch.example.org>")
        message_ids.add(message["Message-ID"])
        assert message["List-Id"] == (
            '"Children & Social Work Act news" <bulletin.actwatch.example.org>'
        )
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https, mailto = [p.strip(" <>") for p in str(message["List-Unsubscribe"]).split(",")]
        token = https.removeprefix(f"{BASE}/unsubscribe/")
        assert https.startswith(f"{BASE}/unsubscribe/") and "=?" not in https
        assert mailto == f"mailto:unsubscribe@actwatch.example.org?subject=unsubscribe-{token}"
        claim = tokens.read_link_token(token)
        with approved.engine.connect() as connection:
            email = connection.execute(
                select(subscribers.c.email).where(subscribers.c.id == claim.subscriber_id)
            ).scalar_one()
        assert email == rcpt
        text, html = parts(message)
        assert f"{BASE}/unsubscribe/{token}" in text and f"{BASE}/unsubscribe/{token}" in html
        assert f"{BASE}/preferences/{token}" in text and f"{BASE}/preferences/{token}" in html
    assert len(message_ids) == 3
    with approved.engine.connect() as connection:
        rows = connection.execute(select(deliveries)).all()
        state = connection.execute(select(bulletins.c.state)).scalar_one()
        actions = [r.action for r in connection.execute(select(audit_log).order_by(audit_log.c.id))]
    assert {r.state for r in rows} == {"sent"} and all(r.message_id for r in rows)
    assert state == "sent"
    assert actions[-2:] == ["start_sending", "finish_sending"]


def test_content_follows_each_choice(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    add_readers(approved)
    send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    messages = by_reader(sink)
    frozen = frozen_copy(approved.engine, approved.bulletin_id)
    every = headings(frozen.html)
    names = {s.name for s in approved.config.strands.values()}
    strand_headings = every & names
    assert {"Care leavers", "Safeguarding partnerships", "Corporate parenting"} <= strand_headings

    _, html_all = parts(messages["all@example.org"])
    _, html_leavers = parts(messages["leavers@example.org"])
    text_safe, html_safe = parts(messages["safe@example.org"])
    assert headings(html_all) & names == strand_headings
    assert headings(html_leavers) & names == {"Care leavers", "Corporate parenting"}
    assert headings(html_safe) & names == {"Safeguarding partnerships"}
    assert "Lee Leavers" not in text_safe
    # The tracker reaches everyone; the other sections only with news on the reader's strands
    # (issue 12: a copy holds the items on its strands, wherever they are placed).
    assert {"Where are we now", "Coming up"} <= headings(html_leavers)
    assert {"Where are we now", "Pilots and early adopters"} <= headings(html_safe)
    assert "Other news about the Act" not in headings(html_leavers) | headings(html_safe)

    # Every strand: the approved HTML itself, but for the reader's own links.
    token_url = re.compile(rf"{BASE}/(unsubscribe|preferences)/[A-Za-z0-9_.-]{{71}}")
    assert token_url.sub(rf"{BASE}/\1", html_all).rstrip("\n") == frozen.html.rstrip("\n")
    text_all, _ = parts(messages["all@example.org"])
    assert token_url.sub(rf"{BASE}/\1", text_all) == frozen.text


def test_header_values_cannot_carry_line_breaks(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    add_readers(
        approved,
        'email,name,strands\nx@example.org,"Evil\r\nBcc: victim@example.org",\n',
    )
    send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    (rcpt, message), *_ = sink.messages()
    assert rcpt == "x@example.org"
    assert message["Bcc"] is None
    assert message["To"].addresses[0].display_name == "Evil Bcc: victim@example.org"


def test_bounce_suppresses_and_4xx_is_retried(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    add_readers(approved)
    sink.refuse["safe@example.org"] = "550 5.1.1 no such mailbox"
    sink.defer_once.add("leavers@example.org")
    first = send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    assert (first.sent, first.bounced, first.deferred) == (1, 1, 1)
    assert not first.finished and first.remaining["retry"] == 1
    assert first.next_retry is not None
    # The retry is due after the back-off (1s in the test config): --wait-retries waits for it.
    second = send_bulletin(
        approved.engine, approved.config, approved.bulletin_id, env=ENV, wait_retries=True
    )
    assert (second.sent, second.bounced) == (1, 0) and second.finished
    assert sink.counts == {"all@example.org": 1, "leavers@example.org": 1}
    with approved.engine.connect() as connection:
        status = dict(connection.execute(select(subscribers.c.email, subscribers.c.status)).all())
        rows = {r.subscriber_id: r for r in connection.execute(select(deliveries)).all()}
    assert status["safe@example.org"] == "bounced"
    assert sorted(r.state for r in rows.values()) == ["bounced", "sent", "sent"]
    assert max(r.attempts for r in rows.values()) == 2


def test_a_reader_who_left_before_their_turn_is_not_mailed(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    from sqlalchemy import update

    add_readers(approved)
    from actwatch.delivery import prepare
    from actwatch.review import start_sending

    start_sending(approved.engine, approved.bulletin_id, actor="test")
    prepare(approved.engine, approved.bulletin_id)
    with approved.engine.begin() as connection:
        connection.execute(
            update(subscribers)
            .where(subscribers.c.email == "safe@example.org")
            .values(status="unsubscribed")
        )
    report = send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    assert report.sent == 2 and report.remaining["suppressed"] == 1 and report.finished
    assert "safe@example.org" not in sink.counts


def test_running_again_sends_nobody_twice(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    add_readers(approved)
    send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    again = send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    assert again.sent == 0 and again.already_sent == 3 and again.finished
    assert sink.total() == 3


def test_a_bulletin_not_approved_is_refused(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    from actwatch.review import StateError, withdraw

    withdraw(approved.engine, approved.bulletin_id, actor="Jo Broad")
    with pytest.raises(StateError):
        send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    assert sink.total() == 0


def test_connections_are_reused(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    rows = "".join(f"r{i}@example.org,,\n" for i in range(40))
    add_readers(approved, "email,name,strands\n" + rows)
    report = send_bulletin(
        approved.engine, approved.config, approved.bulletin_id, env=ENV, connections=2
    )
    assert report.sent == 40
    assert sink.sessions <= 2


def test_dry_run_writes_files_and_changes_nothing(
    approved: Approved, add_readers: Callable[..., None], sink: Sink, tmp_path: Path
) -> None:
    from email import message_from_bytes, policy

    from actwatch.delivery import dry_run

    add_readers(approved)
    written, renders = dry_run(
        approved.engine, approved.config, approved.bulletin_id, tmp_path / "eml", env=ENV
    )
    assert (written, renders) == (3, 3)
    files = sorted((tmp_path / "eml").iterdir())
    recipients = set()
    for file in files:
        message = message_from_bytes(file.read_bytes(), policy=policy.default)
        recipients.add(message["To"].addresses[0].addr_spec)
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert recipients == {"all@example.org", "leavers@example.org", "safe@example.org"}
    assert sink.total() == 0
    with approved.engine.connect() as connection:
        assert connection.execute(select(deliveries)).all() == []
        assert connection.execute(select(bulletins.c.state)).scalar_one() == "approved"


def test_a_limited_dry_run_writes_the_first_readers_by_address(
    approved: Approved, add_readers: Callable[..., None], tmp_path: Path
) -> None:
    from actwatch.delivery import dry_run

    add_readers(approved)
    written, _ = dry_run(
        approved.engine, approved.config, approved.bulletin_id, tmp_path / "eml", env=ENV, limit=2
    )
    assert written == 2
    names = sorted(file.name for file in (tmp_path / "eml").iterdir())
    assert names == ["000001-all@example.org.eml", "000002-leavers@example.org.eml"]


def test_the_rate_limit_holds(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    rows = "".join(f"r{i}@example.org,,\n" for i in range(11))
    add_readers(approved, "email,name,strands\n" + rows)
    report = send_bulletin(
        approved.engine, approved.config, approved.bulletin_id, env=ENV, rate_limit=20
    )
    assert report.sent == 11
    assert report.seconds >= 0.5  # 11 messages at 20 a second need at least 10 intervals


def test_two_senders_share_a_bulletin_without_sending_twice(
    engine: Any, config: Any, sink: Sink, add_readers: Callable[..., None]
) -> None:
    """Claims skip rows another sender holds (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
    import threading

    from actwatch.review import start_sending
    from tests.delivery.conftest import make_approved

    target = make_approved(engine, config)
    add_readers(
        target, "email,name,strands\n" + "".join(f"p{i}@example.org,,\n" for i in range(120))
    )
    start_sending(engine, target.bulletin_id, actor="test")
    sink.delay = 0.002
    reports = []

    def run() -> None:
        reports.append(
            send_bulletin(engine, config, target.bulletin_id, env=ENV, connections=2, batch_size=10)
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.sent for r in reports) == 120
    assert all(r.sent > 0 for r in reports), [r.sent for r in reports]
    assert len(sink.counts) == 120 and set(sink.counts.values()) == {1}
    assert any(r.finished for r in reports)


def test_a_send_reads_and_decodes_the_approved_copy_once(
    approved: Approved, add_readers: Callable[..., None], sink: Sink, monkeypatch: Any
) -> None:
    from sqlalchemy import event

    import actwatch.review.freeze as freeze

    add_readers(approved)
    decoded = []
    real = freeze.decode_frozen

    def counting(data: Any) -> Any:
        decoded.append(1)
        return real(data)

    monkeypatch.setattr(freeze, "decode_frozen", counting)
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if (
            statement.lstrip().upper().startswith("SELECT")
            and "bulletins.frozen_context" in statement
        ):
            reads.append(statement)

    event.listen(approved.engine, "before_cursor_execute", seen)
    try:
        report = send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    finally:
        event.remove(approved.engine, "before_cursor_execute", seen)
    assert report.complete
    assert len(decoded) == 1
    # Once to open the send; once more only in the compare-and-set that marks it sent.
    assert len(reads) == 2, reads
