"""Render a bulletin exactly as it will be sent, and freeze it on approval.

Approval stores the HTML email, its plain-text part and the Markdown archive post, the
composed bulletin they were made from (`frozen_context`, JSON) and a SHA-256 over the three
texts. Sending and the archive read only these copies (`frozen_copy`), so what subscribers get is
byte for byte what the editor approved, whatever the feeds or templates do afterwards.
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine

from actwatch.bulletin import Bulletin, load_bulletin, preview_links
from actwatch.bulletin.render import render_html, render_markdown, render_text
from actwatch.config import Config
from actwatch.review.records import load_row
from actwatch.review.states import APPROVAL_HELD, APPROVED, ReviewError, StateError

CONTEXT_VERSION = 1


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


def _from_jsonable(kind: Any, value: Any) -> Any:
    origin = typing.get_origin(kind)
    if value is None:
        return None
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _from_jsonable(options[0], value)
    if origin is tuple:
        return tuple(_from_jsonable(typing.get_args(kind)[0], v) for v in value)
    if origin is list:
        return [_from_jsonable(typing.get_args(kind)[0], v) for v in value]
    if origin is dict:
        return {k: _from_jsonable(typing.get_args(kind)[1], v) for k, v in value.items()}
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is date:
        return date.fromisoformat(value)
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        build: Any = kind
        fields = dataclasses.fields(kind)
        return build(**{f.name: _from_jsonable(hints[f.name], value[f.name]) for f in fields})
    return value


def bulletin_from_context(data: dict[str, Any]) -> Bulletin:
    """A composed bulletin back from `to_jsonable` (delivery re-renders per reader from it)."""
    result: Bulletin = _from_jsonable(Bulletin, data)
    return result


def render_for_approval(
    engine: Engine, config: Config, bulletin_id: int, *, today: date | None = None
) -> Rendered:
    """The bulletin as approving it `today` would freeze it: marked approved, and issued on its
    issue date (the one set ahead, else `today`; see `actwatch.bulletin.store.issue_date`)."""
    with engine.connect() as connection:
        revision = load_row(connection, bulletin_id).revision
    today = today or datetime.now(config.schedule.zone).date()
    email = load_bulletin(engine, config, bulletin_id, today=today)
    archive = load_bulletin(engine, config, bulletin_id, full=True, today=today)
    if email.revision != revision or archive.revision != revision:
        raise ReviewError("the bulletin changed while it was being rendered: try again")
    email = dataclasses.replace(email, state=APPROVED)
    archive = dataclasses.replace(archive, state=APPROVED)
    links = preview_links(config, email.season.slug)
    html = render_html(email, links, config=config)
    text = render_text(email, links, config=config)
    markdown = render_markdown(archive, links, config=config)
    context = {
        "version": CONTEXT_VERSION,
        "email": to_jsonable(email),
        "archive": to_jsonable(archive),
    }
    return Rendered(html, text, markdown, context, content_hash(html, text, markdown), revision)


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

    @property
    def email_bulletin(self) -> Bulletin:
        return bulletin_from_context(self.context["email"])

    @property
    def archive_bulletin(self) -> Bulletin:
        return bulletin_from_context(self.context["archive"])


def frozen_copy(engine: Engine, bulletin_id: int) -> FrozenCopy:
    """The approved copy, checked against its hash; refused unless the approval stands."""
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
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
    )
