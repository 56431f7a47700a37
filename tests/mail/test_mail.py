"""Messages built safely, and delivered to a maildir and to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from actwatch.config import Config, parse_config
from actwatch.mail import (
    Address,
    MaildirTransport,
    MailError,
    SMTPTransport,
    build_message,
    clean_header,
    open_transport,
)
from tests.mail.conftest import PASSWORD, USERNAME, Received

SENDER = Address("bulletin@actwatch.example.org", "Children & Social Work Act news")


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())


def message(n: int = 1, to: str = "reader@example.org", **changes: Any) -> Any:
    values: dict[str, Any] = {
        "sender": SENDER,
        "to": Address(to),
        "subject": f"Autumn 2017 news {n}",
        "text": "Plain words.\n",
        "html": "<p>Plain <b>words</b>.</p>",
    }
    values.update(changes)
    return build_message(**values)


def test_a_message_is_text_then_html_with_our_message_id() -> None:
    built = message()
    assert built.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in built.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert built["Message-ID"].endswith("@actwatch.example.org>")
    assert parsedate_to_datetime(built["Date"]).tzinfo is not None
    [sender] = built["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (SENDER.name, SENDER.email)
    assert build_message(sender=SENDER, to=Address("a@example.org"), subject="s", text="t")[
        "Content-Type"
    ].startswith("text/plain")


def test_no_header_injection() -> None:
    built = message(
        subject="Hello\r\nBcc: victim@example.org\nX-Evil: 1",
        sender=Address("bulletin@actwatch.example.org", "News\r\nBcc: a@example.org"),
        headers={"X-Actwatch-Test": "yes\r\nBcc: b@example.org"},
    )
    raw = built.as_string()
    assert "\nBcc:" not in raw and "\nX-Evil" not in raw
    assert built["Subject"] == "Hello Bcc: victim@example.org X-Evil: 1"
    assert clean_header("a\u2028b\x00c\u0085d") == "a b c d"
    with pytest.raises(ValueError, match="not an email address"):
        message(to="victim@example.org\r\nBcc: x@example.org")
    with pytest.raises(ValueError, match="bad header name"):
        message(headers={"X Bad": "1"})


def test_maildir(tmp_path: Path) -> None:
    box = MaildirTransport(tmp_path / "mail")
    with box:
        box.send(message(1))
        box.send(message(2))
    subjects = [m["Subject"] for m in box.messages()]
    assert sorted(subjects) == ["Autumn 2017 news 1", "Autumn 2017 news 2"]


def test_smtp_sends_many_messages_over_one_connection(smtp_server: tuple[int, Received]) -> None:
    port, received = smtp_server
    with SMTPTransport("127.0.0.1", port, security="none") as transport:
        for n in range(3):
            transport.send(message(n, to=f"reader{n}@example.org"))
        assert transport.connected
    assert [m["Subject"] for m in received.messages] == [f"Autumn 2017 news {n}" for n in range(3)]
    assert len(received.sessions) == 1
    assert received.envelopes[0] == ("bulletin@actwatch.example.org", ["reader0@example.org"])
    assert body(received.messages[0], "html").strip() == ("<p>Plain <b>words</b>.</p>")


def test_smtp_login_and_refusals(smtp_server: tuple[int, Received]) -> None:
    port, received = smtp_server
    with SMTPTransport(
        "127.0.0.1", port, security="none", username=USERNAME, password=PASSWORD
    ) as transport:
        transport.send(message())
        with pytest.raises(MailError, match="recipient refused") as refused:
            transport.send(message(to="nobody@refused.example"))
        assert refused.value.permanent
        transport.send(message(2))  # the session is still usable
    assert received.logins == [USERNAME] and len(received.messages) == 2
    with (
        SMTPTransport(
            "127.0.0.1", port, security="none", username=USERNAME, password="wrong"
        ) as bad,
        pytest.raises(MailError, match="refused the login"),
    ):
        bad.send(message())


def test_smtp_reconnects_after_the_server_drops_the_connection(
    smtp_server: tuple[int, Received],
) -> None:
    port, received = smtp_server
    with SMTPTransport("127.0.0.1", port, security="none") as transport:
        transport.send(message(1))
        assert transport._smtp is not None
        transport._smtp.quit()  # as if the server had hung up on an idle connection
        transport.send(message(2))
    assert len(received.messages) == 2 and len(received.sessions) == 2


def test_nothing_listening_is_a_mail_error() -> None:
    from tests.conftest import free_port

    with (
        SMTPTransport("127.0.0.1", free_port(), security="none", timeout=2) as transport,
        pytest.raises(MailError, match="cannot connect"),
    ):
        transport.send(message())


def config_with(config: Config, url: str) -> Config:
    data = config.model_dump(by_alias=True, exclude={"path"})
    data["mail"]["url"] = url
    assert config.path is not None
    return parse_config(data, config.path)


def test_transport_from_config(config: Config, tmp_path: Path) -> None:
    maildir = open_transport(config_with(config, "maildir:outbox"))
    assert isinstance(maildir, MaildirTransport) and maildir.path == tmp_path / "outbox"
    smtp = open_transport(
        config_with(config, "smtp+starttls://smtp.example.org"),
        env={"ACTWATCH_SMTP_USERNAME": "u", "ACTWATCH_SMTP_PASSWORD": "p"},
    )
    assert isinstance(smtp, SMTPTransport)
    assert (smtp.host, smtp.port, smtp.security, smtp.username) == (
        "smtp.example.org",
        587,
        "starttls",
        "u",
    )
    tls = open_transport(config_with(config, "smtps://smtp.example.org"), env={})
    assert isinstance(tls, SMTPTransport) and (tls.port, tls.security, tls.username) == (
        465,
        "tls",
        None,
    )
    with pytest.raises(MailError, match="unencrypted"):
        open_transport(
            config_with(config, "smtp://smtp.example.org:25"),
            env={"ACTWATCH_SMTP_USERNAME": "u", "ACTWATCH_SMTP_PASSWORD": "p"},
        )
