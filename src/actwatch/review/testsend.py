"""Send one copy of a bulletin to one address, so the editor sees it in a real mail client.

An approved bulletin is sent from its frozen copy (exactly what subscribers will get); before
approval, the current content as approving it now would freeze it. The subject says [Test].
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine

from actwatch.bulletin import load_bulletin
from actwatch.bulletin.render import subject
from actwatch.config import Config
from actwatch.core.emails import EmailError, check_email
from actwatch.mail import (
    Address,
    Transport,
    build_message,
    list_headers,
    list_id_for,
    open_transport,
)
from actwatch.review.freeze import frozen_copy, render_for_approval
from actwatch.review.notify import sender
from actwatch.review.records import clean_actor, load_row, record
from actwatch.review.states import APPROVAL_HELD, ReviewError


@dataclass(frozen=True)
class SentCopy:
    to: str
    message_id: str
    frozen: bool
    content_hash: str


def send_test_copy(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    to: str,
    *,
    actor: str,
    transport: Transport | None = None,
    now: datetime | None = None,
) -> SentCopy:
    actor = clean_actor(actor)
    try:
        to = check_email(to)
    except EmailError as exc:
        raise ReviewError(f"not an email address: {to.strip()!r} ({exc})") from None
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
    frozen = row.state in APPROVAL_HELD
    # The subject is the one subscribers of every strand get (`render.subject`), of the very
    # bulletin the copy was rendered from.
    if frozen:
        copy = frozen_copy(engine, bulletin_id)
        html, text, digest = copy.html, copy.text, copy.content_hash
        title = subject(copy.email_bulletin)
    else:
        composed = load_bulletin(engine, config, bulletin_id)
        rendered = render_for_approval(engine, config, bulletin_id, composed=composed)
        html, text, digest = rendered.html, rendered.text, rendered.content_hash
        title = subject(composed)
    message = build_message(
        sender=sender(config),
        to=Address(to),
        reply_to=Address(config.mail.reply_to) if config.mail.reply_to else None,
        subject=f"[Test] {title}",
        text=text,
        html=html,
        date=moment,
        headers={"X-Actwatch-Test": "yes", **_list_headers(config)},
    )
    if transport is None:
        with open_transport(config) as opened:
            opened.send(message)
    else:
        transport.send(message)
    message_id = str(message["Message-ID"])
    with engine.begin() as connection:
        record(
            connection,
            at=moment,
            actor=actor,
            action="test_send",
            bulletin_id=bulletin_id,
            to=to,
            frozen=frozen,
            content_hash=digest,
            revision=row.revision,
            message_id=message_id,
        )
    return SentCopy(to, message_id, frozen, digest)


def _list_headers(config: Config) -> dict[str, str]:
    """The list headers subscribers' copies carry; the test copy's links lead to the public
    unsubscribe page, since the editor's address has no subscriber token."""
    base = str(config.web.base_url).rstrip("/")
    return list_headers(
        list_id=list_id_for(config.mail.from_, config.mail.list_id),
        list_name=config.mail.from_name or config.act.short_name,
        unsubscribe_url=f"{base}/unsubscribe",
        unsubscribe_mailto=config.mail.unsubscribe_mailto,
        archive_url=f"{base}/archive/",
    )
