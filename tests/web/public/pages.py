"""What the public-page tests read back: the mail sent, the links in it, a subscriber's status."""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import Engine, select

from actwatch.db.schema import subscribers
from actwatch.mail import MaildirTransport
from tests.delivery.smtp import Sink

BASE = "https://actwatch.example.org"


def status_of(engine: Engine, email: str) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                select(subscribers.c.status).where(subscribers.c.email == email)
            ).scalar_one()
        )


def unsubscribe_url(sink: Sink, rcpt: str) -> str:
    for to, message in sink.messages():
        if to == rcpt:
            return str(message["List-Unsubscribe"]).split(",")[0].strip(" <>")
    raise AssertionError(f"nothing sent to {rcpt}")


def path_of(url: str) -> str:
    assert url.startswith(BASE)
    return url.removeprefix(BASE)


def wait_for_mail(outbox: MaildirTransport, count: int, seconds: float = 20) -> list[Any]:
    """The subscriber mail goes out after the page answered: wait for it."""
    deadline = time.monotonic() + seconds
    while len(messages := sent_so_far(outbox)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(messages)} message(s) sent, expected {count}")
        time.sleep(0.02)
    return messages


def sent_so_far(outbox: MaildirTransport) -> list[Any]:
    try:
        return outbox.messages()
    except FileNotFoundError:  # the sender is creating the maildir this very moment
        return []


def body_of(message: Any) -> str:
    return str(message.get_content())


def confirmation_link(outbox: MaildirTransport, index: int = 0) -> str:
    message = wait_for_mail(outbox, index + 1)[index]
    body = body_of(message)
    found = re.search(rf"{BASE}(/subscribe/confirm/\S+)", body)
    assert found, body
    return found.group(1)


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found
    return found.group(1)
