"""Messages for subscribers, rendered once per distinct copy.

The frozen bulletin (`frozen_context`, composed at approval) is rendered with the bulletin
stage's templates once for each distinct reader's copy (`render.copy_identity`: readers whose
choices of strands make the same copy share one rendering), with a placeholder
where each reader's token goes. The placeholder has exactly the length of a real token and only
characters that quoted-printable leaves alone, so the message is serialised once per choice and
each reader's copy is the same bytes with their token dropped into the slots (around any soft
line breaks the encoder put inside a slot). That is what makes a thousand messages a second.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from actwatch.bulletin import Bulletin, Links, preview_links, render_html, render_text
from actwatch.bulletin.render import copy_identity, subject
from actwatch.config import Config
from actwatch.mail import Address, build_message, dkim_signature, list_headers, list_id_for
from actwatch.mail.headers import address_header, as_bytes
from actwatch.review.freeze import FrozenCopy
from actwatch.subscribers.tokens import LINK_TOKEN_LENGTH

Choice = frozenset[str] | None  # None: every strand
_SOFT_BREAK = b"=\r\n"


class DeliveryError(Exception):
    """Delivery cannot go ahead (the frozen copy cannot be reproduced, no secret, ...)."""


@dataclass(frozen=True)
class SiteLinks:
    base: str

    @classmethod
    def from_config(cls, config: Config) -> SiteLinks:
        return cls(str(config.web.base_url).rstrip("/"))

    def unsubscribe(self, token: str) -> str:
        return f"{self.base}/unsubscribe/{token}"

    def preferences(self, token: str) -> str:
        return f"{self.base}/preferences/{token}"

    def archive(self, season: str) -> str:
        return f"{self.base}/archive/{season}"

    def reader_links(self, season: str, token: str) -> Links:
        return Links(
            archive=self.archive(season),
            unsubscribe=self.unsubscribe(token),
            preferences=self.preferences(token),
            home=f"{self.base}/",
        )


def list_id(config: Config) -> str:
    return list_id_for(config.mail.from_, config.mail.list_id)


def reader_headers(config: Config, season: str, token: str) -> dict[str, str]:
    links = SiteLinks.from_config(config)
    mailto = config.mail.unsubscribe_mailto
    return list_headers(
        list_id=list_id(config),
        list_name=config.mail.from_name or config.act.short_name,
        unsubscribe_url=links.unsubscribe(token),
        unsubscribe_mailto=f"{mailto}?subject=unsubscribe-{token}" if mailto else None,
        archive_url=f"{links.base}/archive/",
    )


def sender(config: Config) -> Address:
    return Address(config.mail.from_, config.mail.from_name)


def to_header(email: str, name: str | None) -> bytes:
    """The reader's To line(s), built by hand (`mail.headers`): the name cleaned, quoted or
    encoded as literal text, never decoded; an address no header can carry raises ValueError
    (the caller fails that one row)."""
    return as_bytes(address_header("To", [(email, name)]))


@dataclass(frozen=True)
class Slot:
    start: int
    end: int
    cuts: tuple[int, ...]  # token offsets where the encoder put a soft line break


class MessageTemplate:
    """One choice's serialised message, with the slots where a reader's token goes."""

    def __init__(self, data: bytes, placeholder: str) -> None:
        assert len(placeholder) == LINK_TOKEN_LENGTH
        pattern = b"(?:=\r\n)?".join(re.escape(bytes([c])) for c in placeholder.encode("ascii"))
        self.pieces: list[bytes] = []
        self.slots: list[tuple[int, ...]] = []
        position = 0
        for found in re.finditer(pattern, data):
            self.pieces.append(data[position : found.start()])
            text = found.group()
            cuts, offset, index = [], 0, 0
            while index < len(text):
                if text.startswith(_SOFT_BREAK, index):
                    cuts.append(offset)
                    index += len(_SOFT_BREAK)
                else:
                    offset += 1
                    index += 1
            self.slots.append(tuple(cuts))
            position = found.end()
        self.pieces.append(data[position:])
        if not self.slots:
            raise DeliveryError("the rendered bulletin has no unsubscribe link in it")

        # The same pieces with SMTP's dot-stuffing done once (a line that starts with "."
        # gets another); a token part that starts a line is stuffed as it is filled in.
        self.stuffed = [_stuff(piece, first=index == 0) for index, piece in enumerate(self.pieces)]
        self._line_start = [piece.endswith(b"\n") for piece in self.pieces]

    def fill(self, token: str, *, stuffed: bool = False) -> list[bytes]:
        raw = token.encode("ascii")
        if len(raw) != LINK_TOKEN_LENGTH:
            raise ValueError("a token of the wrong length")
        pieces = self.stuffed if stuffed else self.pieces
        parts = [pieces[0]]
        for index, (cuts, piece) in enumerate(zip(self.slots, pieces[1:], strict=True)):
            bounds = [0, *cuts, len(raw)]
            chunks = [raw[a:b] for a, b in itertools.pairwise(bounds)]
            if stuffed:
                chunks = [
                    b"." + chunk
                    if chunk.startswith(b".") and (number or self._line_start[index])
                    else chunk
                    for number, chunk in enumerate(chunks)
                ]
            parts.append(_SOFT_BREAK.join(chunks))
            parts.append(piece)
        return parts


def _stuff(piece: bytes, *, first: bool) -> bytes:
    stuffed = piece.replace(b"\n.", b"\n..")
    return b"." + stuffed if first and stuffed.startswith(b".") else stuffed


@dataclass(frozen=True)
class Built:
    message_id: str
    data: bytes
    stuffed: bool = False  # line-initial dots doubled for SMTP's DATA already


class MessageFactory:
    """Builds each reader's message for one choice of strands."""

    def __init__(
        self,
        template: MessageTemplate,
        *,
        domain: str,
        bulletin_id: int,
        dkim: tuple[str, str, bytes] | None = None,
    ) -> None:
        self.template = template
        self.domain = domain
        self.bulletin_id = bulletin_id
        self.dkim = dkim
        self._date_second = -1
        self._date = b""

    def _date_header(self) -> bytes:
        now = datetime.now(UTC)
        second = int(now.timestamp())
        if second != self._date_second:
            self._date = f"Date: {format_datetime(now.replace(microsecond=0))}\r\n".encode()
            self._date_second = second
        return self._date

    def build(
        self, delivery_id: int, email: str, name: str | None, token: str, *, for_smtp: bool = False
    ) -> Built:
        """The reader's message; `for_smtp` gives it dot-stuffed, ready for DATA."""
        message_id = f"<{self.bulletin_id}.{delivery_id}.{secrets.token_hex(6)}@{self.domain}>"
        head = (
            to_header(email, name) + self._date_header() + f"Message-ID: {message_id}\r\n".encode()
        )
        if self.dkim is None:
            return Built(
                message_id, b"".join([head, *self.template.fill(token, stuffed=for_smtp)]), for_smtp
            )
        selector, domain, key = self.dkim
        data = b"".join([head, *self.template.fill(token)])
        data = dkim_signature(data, selector=selector, domain=domain, private_key=key) + data
        return Built(message_id, data)


_DROPPED = (b"to:", b"date:", b"message-id:")


def _without_reader_headers(data: bytes) -> bytes:
    """The serialised prototype minus the headers each reader's copy gets its own of."""
    head, separator, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    kept: list[bytes] = []
    skipping = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(_DROPPED)
        if not skipping:
            kept.append(line)
    return b"\r\n".join(kept) + separator + body


class Renderer:
    """Message factories for a frozen bulletin, one per distinct choice, made on first use."""

    def __init__(
        self,
        config: Config,
        frozen: FrozenCopy,
        *,
        dkim: tuple[str, str, bytes] | None = None,
        subject_prefix: str = "",
    ) -> None:
        self.config = config
        self.frozen = frozen
        self.bulletin: Bulletin = frozen.email_bulletin
        self.dkim = dkim
        self.subject_prefix = subject_prefix
        self.placeholder = secrets.token_hex(LINK_TOKEN_LENGTH)[:LINK_TOKEN_LENGTH]
        self._factories: dict[str, MessageFactory] = {}  # by copy_identity
        self._identities: dict[Choice, str] = {}
        self._lock = threading.Lock()
        self.renders = 0

    def verify(self) -> None:
        """Rendering every strand reproduces the approved HTML and text exactly, or we stop."""
        links = preview_links(self.config, self.bulletin.season.slug)
        html = render_html(self.bulletin, links, config=self.config)
        text = render_text(self.bulletin, links, config=self.config)
        if html != self.frozen.html or text != self.frozen.text:
            raise DeliveryError(
                f"bulletin {self.frozen.bulletin_id} no longer renders as approved (the "
                "templates changed since the approval?): approve it again, or restore the "
                "templates it was approved with"
            )

    def strands_of(self, choice: Choice) -> Collection[str] | None:
        return None if choice is None else sorted(choice)

    def render(self, choice: Choice) -> tuple[str, str]:
        links = SiteLinks.from_config(self.config).reader_links(
            self.bulletin.season.slug, self.placeholder
        )
        strands = self.strands_of(choice)
        html = render_html(self.bulletin, links, strands=strands, config=self.config)
        text = render_text(self.bulletin, links, strands=strands, config=self.config)
        return html, text

    def factory(self, choice: Choice) -> MessageFactory:
        """The message factory of the copy a reader who chose `choice` gets, rendered on first
        use: choices that make the same copy share it."""
        if choice is not None and set(choice) >= set(self.config.strands):
            choice = None
        identity = self._identities.get(choice)
        found = self._factories.get(identity) if identity is not None else None
        if found is not None:
            return found
        with self._lock:
            identity = self._identities.get(choice)
            if identity is None:
                identity = copy_identity(self.bulletin, self.strands_of(choice))
                self._identities[choice] = identity
            found = self._factories.get(identity)
            if found is None:
                found = self._make(choice)
                self._factories[identity] = found
            return found

    def _make(self, choice: Choice) -> MessageFactory:
        html, text = self.render(choice)
        self.renders += 1
        config = self.config
        message = build_message(
            sender=sender(config),
            to=Address("reader@invalid.example"),
            reply_to=Address(config.mail.reply_to) if config.mail.reply_to else None,
            subject=self.subject_prefix + subject(self.bulletin, self.strands_of(choice)),
            text=text,
            html=html,
            headers=reader_headers(config, self.bulletin.season.slug, self.placeholder),
        )
        data = _without_reader_headers(message.as_bytes())
        return MessageFactory(
            MessageTemplate(data, self.placeholder),
            domain=sender(config).domain,
            bulletin_id=self.frozen.bulletin_id,
            dkim=self.dkim,
        )
