"""The mail a subscriber gets about their own subscription: the confirmation link of the double
opt-in, the welcome once confirmed, their links on request, and a note when someone asks to
subscribe an address that already is. Each is a plain-text template the editor may override by
putting a file of the same name in the `bulletin.templates` folder, like the bulletin's own.

A template's first line is `Subject: ...`, then a blank line, then the body.

`send_queued` sends what the public pages queued (see `outbox`); a failure is retried with a
growing wait and never reaches the person who filled in the form.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
)
from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.mail import Address, MailError, Transport, build_message, open_transport
from actwatch.subscribers import outbox
from actwatch.subscribers.links import PublicLinks, reader_headers
from actwatch.subscribers.store import (
    CONFIRMED,
    PENDING,
    Subscriber,
    get_subscriber,
    utcnow,
)
from actwatch.subscribers.tokens import Tokens

log = logging.getLogger(__name__)
TEMPLATES: dict[str, str] = {
    outbox.CONFIRM: "subscriber-confirm.txt",
    outbox.WELCOME: "subscriber-welcome.txt",
    outbox.LINKS: "subscriber-links.txt",
    outbox.ALREADY: "subscriber-already.txt",
}
# Which state the subscriber must still be in for the message to make sense when it goes out.
NEEDS: dict[str, str] = {
    outbox.CONFIRM: PENDING,
    outbox.WELCOME: CONFIRMED,
    outbox.LINKS: CONFIRMED,
    outbox.ALREADY: CONFIRMED,
}


class SubscriberMailError(Exception):
    """A subscriber template cannot be rendered (a mistake in an editor's override)."""


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    headers: dict[str, str]


@lru_cache(maxsize=16)
def _environment(custom: Path | None) -> Environment:
    loaders: list[BaseLoader] = []
    if custom is not None:
        loaders.append(FileSystemLoader(custom))
    loaders.append(PackageLoader("actwatch.subscribers", "templates"))
    return Environment(
        loader=ChoiceLoader(loaders),
        autoescape=False,  # noqa: S701 - plain-text mail, never HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=True,
    )


def environment(config: Config) -> Environment:
    custom = config.templates_dir
    return _environment(custom if custom is not None and custom.is_dir() else None)


def strands_summary(config: Config, subscriber: Subscriber) -> str:
    if subscriber.all_strands:
        return "every strand"
    names = [config.strands[s].name for s in subscriber.strands if s in config.strands]
    return ", ".join(names) or "every strand"


def render(config: Config, tokens: Tokens, subscriber: Subscriber, kind: str) -> RenderedMail:
    links = PublicLinks.from_config(config)
    link_token = tokens.link_token(subscriber.id, subscriber.token_nonce)
    context: dict[str, Any] = {
        "act": config.act,
        "editor": config.bulletin.editor,
        "email": subscriber.email,
        "name": subscriber.name or "",
        "strands": strands_summary(config, subscriber),
        "confirm_days": max(1, config.web.confirm_within.days),
        "links": {
            "preferences": links.preferences(link_token),
            "unsubscribe": links.unsubscribe(link_token),
            "archive": links.archive_index,
            "subscribe": links.subscribe,
            "manage": links.manage,
        },
    }
    if kind == outbox.CONFIRM:
        context["links"]["confirm"] = links.confirm(
            tokens.confirm_token(subscriber.id, subscriber.token_nonce)
        )
    name = TEMPLATES[kind]
    try:
        text = environment(config).get_template(name).render(context)
    except TemplateError as exc:
        raise SubscriberMailError(f"{name}: {exc}") from exc
    first, _, body = text.partition("\n")
    if not first.lower().startswith("subject:"):
        raise SubscriberMailError(f"{name}: the first line must be 'Subject: ...'")
    subject = first.split(":", 1)[1].strip()
    # Only subscribers get list headers: a confirmation goes to someone not on the list yet.
    headers = {} if kind == outbox.CONFIRM else reader_headers(config, link_token)
    return RenderedMail(subject, body.lstrip("\n"), headers)


@dataclass
class OutboxReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    dropped: int = 0


def send_queued(
    engine: Engine,
    config: Config,
    tokens: Tokens,
    *,
    transport_factory: Callable[[], Transport] | None = None,
    now: datetime | None = None,
    stop: threading.Event | None = None,
) -> OutboxReport:
    """Send the queued messages that are due (one claim's worth), over one connection; `stop`
    ends the round between two messages."""
    report = OutboxReport()
    due = outbox.claim_due(engine, now=now)
    if not due:
        return report
    factory = transport_factory or (lambda: open_transport(config))
    transport: Transport | None = None
    try:
        for position, mail in enumerate(due):
            if stop is not None and stop.is_set():
                _release_rest(engine, due[position:], now)
                break
            subscriber = get_subscriber(engine, mail.subscriber_id)
            if subscriber is None or subscriber.status != NEEDS[mail.kind]:
                status = subscriber.status if subscriber else "gone"
                outbox.mark_dropped(engine, mail.id, f"not sent: the subscriber is {status}")
                report.dropped += 1
                continue
            try:
                rendered = render(config, tokens, subscriber, mail.kind)
                message = build_message(
                    sender=Address(config.mail.from_, config.mail.from_name),
                    to=Address(subscriber.email, subscriber.name),
                    reply_to=Address(config.mail.reply_to) if config.mail.reply_to else None,
                    subject=rendered.subject,
                    text=rendered.text,
                    headers=rendered.headers,
                    date=utcnow(now),
                )
                if transport is None:
                    transport = factory()
                transport.send(message)
            except SubscriberMailError as exc:
                log.error("subscriber mail not sent: %s", exc)
                outbox.mark_failed(engine, mail, str(exc), permanent=False, now=now)
                report.retrying += 1
                continue
            except MailError as exc:
                retry = outbox.mark_failed(engine, mail, str(exc), permanent=exc.permanent, now=now)
                log.warning(
                    "subscriber mail (%s) not sent: %s%s",
                    mail.kind,
                    exc,
                    "; will retry" if retry else "; given up",
                )
                if retry:
                    report.retrying += 1
                else:
                    report.failed += 1
                if not exc.permanent:
                    # The server, not this message: leave the rest for the next round.
                    _release_rest(engine, due[position + 1 :], now)
                    break
                continue
            outbox.mark_sent(engine, mail.id, now=now)
            report.sent += 1
    finally:
        if transport is not None:
            transport.close()
    return report


def _release_rest(engine: Engine, rest: list[outbox.QueuedMail], now: datetime | None) -> None:
    for mail in rest:
        outbox.release(engine, mail.id, now=now)
