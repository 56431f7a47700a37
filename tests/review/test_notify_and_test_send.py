"""The draft-ready email (once), and test copies to one address via a maildir and real SMTP."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from actwatch.config import Config, parse_config
from actwatch.db.schema import audit_log, bulletins
from actwatch.mail import MaildirTransport, MailError
from actwatch.review import approve, notify_draft_ready, send_test_copy
from tests.mail.conftest import Received, smtp_server
from tests.review.conftest import Draft

__all__ = ["smtp_server"]
NOW = datetime(2017, 12, 2, 9, 5, tzinfo=UTC)


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())


def test_the_editor_hears_once(sqlite_draft: Draft, tmp_path: Path, caplog: Any) -> None:
    draft = sqlite_draft
    box = MaildirTransport(tmp_path / "box")
    with caplog.at_level("WARNING"):
        assert notify_draft_ready(
            draft.engine, draft.config, draft.bulletin_id, transport=box, now=NOW
        )
    assert not notify_draft_ready(draft.engine, draft.config, draft.bulletin_id, transport=box)
    [message] = box.messages()
    assert message["To"] == "Jo Broad <editor@actwatch.example.org>"
    assert (
        message["Subject"] == "Draft ready for review: Autumn 2017 news: Children & Social Work Act"
    )
    link = "https://actwatch.example.org/editor/bulletins/1"
    text = body(message, "plain")
    assert link in text and "10 announcement(s)" in text and "No introduction yet." in text
    assert f'href="{link}"' in body(message, "html")
    assert link in caplog.text
    with draft.engine.connect() as connection:
        assert connection.execute(select(bulletins.c.editor_notified_at)).scalar_one() == NOW


def test_a_failed_notification_is_tried_again(sqlite_draft: Draft) -> None:
    draft = sqlite_draft

    class Broken:
        def send(self, message: Any) -> None:
            raise MailError("the relay is down")

    with pytest.raises(MailError):
        notify_draft_ready(draft.engine, draft.config, draft.bulletin_id, transport=Broken())  # type: ignore[arg-type]
    with draft.engine.connect() as connection:
        assert connection.execute(select(bulletins.c.editor_notified_at)).scalar_one() is None


def test_test_copies_before_and_after_approval(sqlite_draft: Draft, tmp_path: Path) -> None:
    draft = sqlite_draft
    box = MaildirTransport(tmp_path / "box")
    before = send_test_copy(
        draft.engine, draft.config, draft.bulletin_id, "me@example.org", actor="Jo", transport=box
    )
    assert not before.frozen
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo")
    after = send_test_copy(
        draft.engine, draft.config, draft.bulletin_id, "me@example.org", actor="Jo", transport=box
    )
    assert after.frozen
    with draft.engine.connect() as connection:
        frozen = connection.execute(select(bulletins.c.frozen_html, bulletins.c.frozen_text)).one()
        sends = (
            connection.execute(select(audit_log.c.detail).where(audit_log.c.action == "test_send"))
            .scalars()
            .all()
        )
    messages = sorted(box.messages(), key=lambda m: m["Message-ID"] == after.message_id)
    assert messages[1]["Message-ID"] == after.message_id
    # MIME ends a text part with a line break; otherwise the parts are the frozen copies.
    html = body(messages[1], "html")
    assert html.rstrip("\n") == frozen.frozen_html.rstrip("\n")
    text = body(messages[1], "plain")
    assert text.rstrip("\n") == frozen.frozen_text.rstrip("\n")
    assert messages[1]["X-Actwatch-Test"] == "yes" and messages[1]["Subject"].startswith("[Test] ")
    assert [s["to"] for s in sends] == ["me@example.org", "me@example.org"]
    with pytest.raises(Exception, match="not an email address"):
        send_test_copy(draft.engine, draft.config, 1, "a@b.c, x@y.z", actor="Jo", transport=box)


def test_a_test_copy_over_smtp_from_the_config(
    sqlite_draft: Draft, smtp_server: tuple[int, Received], config: Config
) -> None:
    port, received = smtp_server
    data = config.model_dump(by_alias=True, exclude={"path"})
    data["mail"]["url"] = f"smtp://127.0.0.1:{port}"
    assert config.path is not None
    smtp_config = parse_config(data, config.path)
    sent = send_test_copy(
        sqlite_draft.engine, smtp_config, sqlite_draft.bulletin_id, "me@example.org", actor="Jo"
    )
    [message] = received.messages
    assert received.envelopes == [("bulletin@actwatch.example.org", ["me@example.org"])]
    assert message["Message-ID"] == sent.message_id
    assert body(message, "html").startswith("<!doctype html>")
