"""Render a bulletin exactly as it will be sent, and freeze it on approval.

Approval stores the HTML email, its plain-text part and the Markdown archive post, the
composed bulletin they were made from (`frozen_context`, JSON) and a SHA-256 over the three
texts. Sending and the archive read only these copies (`frozen_copy`), so what subscribers get is
byte for byte what the editor approved, whatever the feeds or templates do afterwards.

The composed bulletin is written and read with pydantic (`encode_bulletin`, `decode_frozen`):
a field added to the model later with a default, or one removed, does not make an approved
bulletin that is waiting to be sent unreadable. `frozen_copy` decodes it before returning, so
anything that uses the copy to change a bulletin's state (starting to send it) fails first.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine, Row

from actwatch.bulletin import Bulletin, load_bulletin, preview_links
from actwatch.bulletin.render import render_html, render_markdown, render_text
from actwatch.config import Config
from actwatch.core.words import count
from actwatch.review.records import bulletin_state, load_row
from actwatch.review.states import APPROVAL_HELD, APPROVED, StateError

CONTEXT_VERSION = 2


@dataclass(frozen=True)
class Rendered:
    html: str
    text: str
    markdown: str
    context: dict[str, Any]
    content_hash: str
    revision: int


def content_hash(html: str, text: str, markdown: str) -> str:
    """SHA-256 over the three texts, each length-prefixed so no two sets can collide by shifting."""
    digest = hashlib.sha256()
    for part in (html, text, markdown):
        data = part.encode("utf-8")
        digest.update(f"{len(data)}:".encode())
        digest.update(data)
    return digest.hexdigest()


def to_jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


_BULLETIN: TypeAdapter[Bulletin] = TypeAdapter(Bulletin)


class FrozenCopyError(StateError):
    """The stored composed bulletin of an approval cannot be read back."""


def encode_bulletin(bulletin: Bulletin) -> dict[str, Any]:
    """A composed bulletin as JSON-ready data (what `frozen_context` keeps)."""
    data: dict[str, Any] = _BULLETIN.dump_python(bulletin, mode="json")
    return data


def bulletin_from_context(data: Mapping[str, Any]) -> Bulletin:
    """A composed bulletin back from `encode_bulletin` (or from an older copy).

    Tolerant by design: a field added to the model since the copy was stored takes its default,
    and a field removed since is ignored, so an approved bulletin waiting to be sent survives an
    upgrade. Raises FrozenCopyError when the data cannot be a bulletin at all.
    """
    try:
        return _BULLETIN.validate_python(data)
    except ValidationError as exc:
        raise FrozenCopyError(
            f"the approved copy cannot be read back ({count(exc.error_count(), 'problem')}, first: "
            f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}): approve the bulletin again"
        ) from None


@dataclass(frozen=True)
class FrozenBulletin:
    """The composed bulletin of an approval: the email renders from `email` (capping each
    section), the archive post from `archive` (everything)."""

    email: Bulletin
    archive: Bulletin


def decode_frozen(context: Mapping[str, Any]) -> FrozenBulletin:
    """Read a stored `frozen_context` back, whatever version wrote it.

    Version 2 keeps the one composed bulletin; version 1 kept the email's (already capped) and
    the archive's separately. Raises FrozenCopyError for anything else.
    """
    version = context.get("version") if isinstance(context, Mapping) else None
    if version == CONTEXT_VERSION:
        bulletin = bulletin_from_context(context["bulletin"])
        return FrozenBulletin(bulletin, bulletin)
    if version == 1:
        return FrozenBulletin(
            bulletin_from_context(context["email"]), bulletin_from_context(context["archive"])
        )
    raise FrozenCopyError(
        f"the approved copy has an unknown format (version {version!r}): approve it again"
    )


def render_bulletin(config: Config, composed: Bulletin) -> Rendered:
    """The three texts approving `composed` would freeze (no database: the caller composed it
    once, as of its issue date)."""
    bulletin = dataclasses.replace(composed, state=APPROVED)
    links = preview_links(config, bulletin.season.slug)
    html = render_html(bulletin, links, config=config)
    text = render_text(bulletin, links, config=config)
    markdown = render_markdown(bulletin, links, config=config)
    context = {"version": CONTEXT_VERSION, "bulletin": encode_bulletin(bulletin)}
    return Rendered(
        html, text, markdown, context, content_hash(html, text, markdown), composed.revision
    )


def render_for_approval(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    *,
    today: date | None = None,
    composed: Bulletin | None = None,
) -> Rendered:
    """The bulletin as approving it `today` would freeze it: marked approved, and issued on its
    issue date (the one set ahead, else `today`; see `actwatch.bulletin.store.issue_date`).

    Composes it once (or uses `composed`, already made for this request).
    """
    if composed is None:
        composed = load_bulletin(engine, config, bulletin_id, today=today)
    return render_bulletin(config, composed)


@dataclass(frozen=True)
class FrozenCopy:
    bulletin_id: int
    state: str
    html: str
    text: str
    markdown: str
    context: dict[str, Any]
    content_hash: str
    approved_by: str
    approved_at: datetime
    approved_revision: int
    bulletins: FrozenBulletin

    @property
    def email_bulletin(self) -> Bulletin:
        return self.bulletins.email

    @property
    def archive_bulletin(self) -> Bulletin:
        return self.bulletins.archive


def frozen_copy(engine: Engine, bulletin_id: int) -> FrozenCopy:
    """The approved copy, checked against its hash and decoded; refused (StateError, or its
    FrozenCopyError) unless the approval stands and the copy can be read back."""
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
    return copy_from_row(row)


def copy_from_row(row: Row[Any]) -> FrozenCopy:
    """`frozen_copy` of a bulletin row already read (a send reads the row once)."""
    bulletin_id = row.id
    if row.state not in APPROVAL_HELD or row.frozen_html is None:
        raise StateError(f"bulletin {bulletin_id} is {row.state}: it has no approved copy")
    if row.approved_revision != row.revision:
        raise StateError(
            f"bulletin {bulletin_id} changed after its approval (revision {row.revision}, "
            f"approved {row.approved_revision}): it needs a new approval"
        )
    actual = content_hash(row.frozen_html, row.frozen_text, row.frozen_markdown)
    if actual != row.content_hash:
        raise StateError(
            f"bulletin {bulletin_id}'s approved copy does not match its hash: refusing to use it"
        )
    return FrozenCopy(
        bulletin_id=row.id,
        state=row.state,
        html=row.frozen_html,
        text=row.frozen_text,
        markdown=row.frozen_markdown,
        context=row.frozen_context,
        content_hash=row.content_hash,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        approved_revision=row.approved_revision,
        bulletins=decode_frozen(row.frozen_context or {}),
    )


def preview_copy(engine: Engine, config: Config, bulletin_id: int) -> Rendered | FrozenCopy:
    """What the editor previews: the approved copy while the approval stands, else the bulletin
    as approving it now would freeze it."""
    if bulletin_state(engine, bulletin_id) in APPROVAL_HELD:
        return frozen_copy(engine, bulletin_id)
    return render_for_approval(engine, config, bulletin_id)
