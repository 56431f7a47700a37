"""Build one email message. Every header value passes through `clean_header`: a feed title or an
editor's headline with a CR or LF in it must never become a second header."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

# Line breaks of every kind, and the other control characters no header should hold.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def clean_header(value: str) -> str:
    """One line of text: control characters (CR, LF, NEL, ...) become single spaces."""
    return " ".join(_CONTROL.sub(" ", value).split())


@dataclass(frozen=True)
class Address:
    """A mailbox: `email` and an optional display name."""

    email: str
    name: str | None = None

    def header(self) -> HeaderAddress:
        email = clean_header(self.email)
        if not email or " " in email or email.count("@") != 1:
            raise ValueError(f"not an email address: {email!r}")
        return HeaderAddress(display_name=clean_header(self.name or ""), addr_spec=email)

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2].strip().lower()


def build_message(
    *,
    sender: Address,
    to: Address | Sequence[Address],
    subject: str,
    text: str,
    html: str | None = None,
    reply_to: Address | None = None,
    headers: Mapping[str, str] | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """A message with a plain-text part and, when `html` is given, an HTML alternative after it
    (mail clients show the last alternative they can display)."""
    recipients = [to] if isinstance(to, Address) else list(to)
    if not recipients:
        raise ValueError("a message needs at least one recipient")
    message = EmailMessage(policy=SMTP)
    message["From"] = sender.header()
    message["To"] = [recipient.header() for recipient in recipients]
    if reply_to is not None:
        message["Reply-To"] = reply_to.header()
    message["Subject"] = clean_header(subject)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.domain)
    for name, value in (headers or {}).items():
        name = clean_header(name)
        if not re.fullmatch(r"[A-Za-z0-9-]+", name):
            raise ValueError(f"bad header name: {name!r}")
        message[name] = clean_header(value)
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
