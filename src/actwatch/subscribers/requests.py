"""What the public pages ask of the subscribers stage, each answered the same way whoever the
address belongs to: the work is done and any mail is queued (see `outbox`), and the caller learns
nothing it could show a stranger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.core.emails import normalise_email
from actwatch.subscribers import outbox
from actwatch.subscribers.store import (
    CONFIRMED,
    Subscriber,
    confirm,
    find_subscriber,
    sign_up,
    utcnow,
)


def request_subscription(
    engine: Engine,
    config: Config,
    email: str,
    *,
    name: str | None,
    strands: tuple[str, ...] | None,
    source: str,
    now: datetime | None = None,
) -> None:
    """The sign-up form: a new or renewed sign-up is sent its confirmation link; an address
    that is already subscribed is told so (with its links), so the form reveals nothing."""
    moment = utcnow(now)
    result = sign_up(engine, config, email, name=name, strands=strands, source=source, now=moment)
    if result.mail is not None:
        outbox.queue(engine, result.subscriber.id, result.mail, now=moment)


def request_links(engine: Engine, email: str, *, now: datetime | None = None) -> None:
    """ "Email me my links": only a confirmed subscriber is sent anything."""
    subscriber = find_subscriber(engine, normalise_email(email))
    if subscriber is not None and subscriber.status == CONFIRMED:
        outbox.queue(engine, subscriber.id, outbox.LINKS, now=now)


def confirm_subscription(
    engine: Engine, subscriber_id: int, nonce: str, *, now: datetime | None = None
) -> Subscriber:
    """The confirmation button was pressed: confirmed, and welcomed the first time."""
    moment = utcnow(now)
    confirmation = confirm(engine, subscriber_id, nonce, now=moment)
    if confirmation.newly:
        outbox.queue(engine, subscriber_id, outbox.WELCOME, now=moment)
    return confirmation.subscriber
