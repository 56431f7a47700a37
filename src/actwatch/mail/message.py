"""Build one email message. Every header that carries outside text (From, To, Reply-To, Subject,
the list headers) is written by `actwatch.mail.headers`, cleaned and encoded by hand: a feed
title, a subscriber's name or an editor's headline must never become a second header, on any
Python release."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from actwatch.core.text import one_line
from actwatch.mail import headers as header_lines

# Headers set through `headers=` that are plain ASCII are written as given (folded only between
# list elements): the default folding would turn a long URL (List-Unsubscribe with its token)
# into RFC 2047 encoded words, which no mail client reads as a URL.
POLICY = SMTP.clone(refold_source="none")
FOLD_AT = 78
ONE_CLICK = "List-Unsubscribe=One-Click"
DKIM_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)


def clean_header(value: str) -> str:
    """One line of text: control characters (CR, LF, NEL, ...) become single spaces."""
    return one_line(value)


@dataclass(frozen=True)
class Address:
    """A mailbox: `email` and an optional display name."""

    email: str
    name: str | None = None

    def mailbox(self) -> tuple[str, str | None]:
        """(address, display name) for `headers.address_header`; an address that is not one
        raises ValueError."""
        email = self.email.strip()
        try:
            header_lines.check_address(email)
        except ValueError:
            raise ValueError(f"not an email address: {clean_header(email)!r}") from None
        return email, self.name

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
    message = EmailMessage(policy=POLICY)

    def put(name: str, lines: list[str]) -> None:
        # Written as built: the policy's folding never sees (and never decodes) the text.
        message.set_raw(name, header_lines.raw_value(name, lines))

    put("From", header_lines.address_header("From", [sender.mailbox()]))
    put("To", header_lines.address_header("To", [r.mailbox() for r in recipients]))
    if reply_to is not None:
        put("Reply-To", header_lines.address_header("Reply-To", [reply_to.mailbox()]))
    put("Subject", header_lines.unstructured("Subject", subject))
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.domain)
    for name, value in (headers or {}).items():
        name = clean_header(name)
        if not re.fullmatch(r"[A-Za-z0-9-]+", name):
            raise ValueError(f"bad header name: {name!r}")
        value = clean_header(value)
        if value.isascii() and not header_lines.looks_encoded(value):
            message.set_raw(name, fold_list(name, value))
        else:
            put(name, header_lines.unstructured(name, value))
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def fold_list(name: str, value: str) -> str:
    """Fold a header only after the commas between list elements (`<url>, <mailto:...>`)."""
    lines = [f"{name}: "]
    for index, part in enumerate(value.split(", ")):
        piece = part if index == 0 else " " + part
        if index and len(lines[-1]) + len(piece) + 1 > FOLD_AT:
            lines[-1] += ","
            lines.append(piece)
        else:
            lines[-1] += ("," if index else "") + piece
    return "\n".join(lines)[len(name) + 2 :]


def list_id_for(sender_email: str, configured: str | None = None) -> str:
    """The List-Id: the configured one, else the sender's address as `local.domain`."""
    if configured:
        return configured
    local, _, domain = sender_email.partition("@")
    return f"{re.sub(r'[^A-Za-z0-9-]+', '-', local).strip('-') or 'bulletin'}.{domain.lower()}"


def list_headers(
    *,
    list_id: str,
    list_name: str | None,
    unsubscribe_url: str,
    unsubscribe_mailto: str | None = None,
    archive_url: str | None = None,
) -> dict[str, str]:
    """RFC 2369/2919/8058 headers: the list's id, how to leave it (one click), its archive."""
    targets = [f"<{unsubscribe_url}>"]
    if unsubscribe_mailto:
        targets.append(f"<mailto:{unsubscribe_mailto}>")
    # The list's description, for mail filters, in plain ASCII (accents dropped, else left
    # out): `build_message` writes an extra header's encoded words as literal text, so a name
    # that needed them would arrive as `=?utf-8?...?=`.
    name = unicodedata.normalize("NFKD", clean_header(list_name or ""))
    name = clean_header(name.encode("ascii", "ignore").decode("ascii"))
    if not header_lines.is_plain(name) or len(name) > header_lines.MAX_PLAIN_WORD:
        name = ""
    name = header_lines.quoted_string(name) if name else ""
    headers = {
        "List-Id": f"{name} <{list_id}>" if name else f"<{list_id}>",
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": ONE_CLICK,
    }
    if archive_url:
        headers["List-Archive"] = f"<{archive_url}>"
    return headers


def dkim_signature(message: bytes, *, selector: str, domain: str, private_key: bytes) -> bytes:
    """The DKIM-Signature header line(s) for `message` (relaxed/simple, RSA or Ed25519 key)."""
    import dkim

    try:
        signature: bytes = dkim.sign(
            message,
            selector.encode("ascii"),
            domain.encode("ascii"),
            private_key,
            include_headers=[h.encode("ascii") for h in DKIM_HEADERS],
            canonicalize=(b"relaxed", b"simple"),
            linesep=b"\r\n",
        )
    except dkim.DKIMException as exc:
        raise ValueError(f"cannot DKIM-sign: {exc}") from exc
    return signature
