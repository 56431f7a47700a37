"""The audit trail in words: each row of the audit log as a sentence an editor reads at a
glance ("Scheduled it for 5 December 2017 at 09:00 GMT", "Left out “Care leavers…” (item 12)"),
for the web editor and `actwatch audit` alike. The rows themselves stay as they were written:
`--json` and the database keep the machine's view."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from actwatch.config import Config
from actwatch.core.text import one_line
from actwatch.core.words import count
from actwatch.db.schema import audit_log, bulletins, items
from actwatch.review.states import STATE_LABELS

TITLE_CHARS = 80


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    bulletin_id: int | None
    season: str | None
    what: str  # one sentence
    from_state: str | None
    to_state: str | None
    detail: dict[str, Any]  # as recorded

    @property
    def state_change(self) -> str:
        """'In review → Approved', or '' when the state did not change."""
        if not self.to_state or self.from_state == self.to_state:
            return ""
        target = STATE_LABELS.get(self.to_state, self.to_state)
        if not self.from_state:
            return target
        return f"{STATE_LABELS.get(self.from_state, self.from_state)} → {target}"


def audit_entries(
    engine: Engine, config: Config, bulletin_id: int | None = None, limit: int = 500
) -> list[AuditEntry]:
    """The audit trail (of one bulletin, or of everything), newest first, in words."""
    query = (
        select(audit_log, bulletins.c.season)
        .select_from(audit_log.outerjoin(bulletins, bulletins.c.id == audit_log.c.bulletin_id))
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(limit)
    )
    if bulletin_id is not None:
        query = query.where(audit_log.c.bulletin_id == bulletin_id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        ids = {
            int(value)
            for row in rows
            for key, value in (row.detail or {}).items()
            if key == "item_id" and isinstance(value, int)
        }
        titles: dict[int, str] = {}
        if ids:
            query_titles = select(items.c.id, items.c.title).where(items.c.id.in_(ids))
            titles = {found.id: found.title for found in connection.execute(query_titles)}
    words = _Words(config, titles)
    return [
        AuditEntry(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            bulletin_id=row.bulletin_id,
            season=row.season,
            what=words.describe(row.action, dict(row.detail or {})),
            from_state=row.from_state,
            to_state=row.to_state,
            detail=dict(row.detail or {}),
        )
        for row in rows
    ]


class _Words:
    def __init__(self, config: Config, titles: Mapping[int, str]) -> None:
        self.zone: ZoneInfo = config.schedule.zone
        self.strands = {slug: strand.name for slug, strand in config.strands.items()}
        self.titles = titles

    def describe(self, action: str, detail: dict[str, Any]) -> str:
        describe = _SENTENCES.get(action)
        if describe is not None:
            try:
                return describe(self, detail)
            except (KeyError, TypeError, ValueError):
                pass  # a row written by an older version: say it the generic way
        return self.generic(action, detail)

    def item(self, detail: Mapping[str, Any]) -> str:
        item_id = detail.get("item_id")
        title = self.titles.get(item_id) if isinstance(item_id, int) else None
        if title:
            return f"“{_short(title)}” (item {item_id})"
        return f"item {item_id}"

    def when(self, value: Any) -> str:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        local = moment.astimezone(self.zone)
        return f"{local.day} {local:%B %Y at %H:%M %Z}"

    def value(self, value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None:
            return "none"
        if isinstance(value, list | tuple):
            return ", ".join(self.value(v) for v in value) or "none"
        if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
            try:
                return self.when(value)
            except ValueError:
                pass
        if (
            isinstance(value, str)
            and len(value) == 64
            and all(c in "0123456789abcdef" for c in value)
        ):
            return value[:12]  # a content hash: its start identifies it
        return _short(str(value), 200)

    def generic(self, action: str, detail: Mapping[str, Any]) -> str:
        said = action.replace("_", " ").capitalize()
        parts = [
            f"{key.replace('_', ' ')}: {self.value(value)}"
            for key, value in detail.items()
            if key not in ("revision", "message_id")
        ]
        return f"{said} ({'; '.join(parts)})." if parts else f"{said}."


def _short(text: str, limit: int = TITLE_CHARS) -> str:
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _hash(detail: Mapping[str, Any]) -> str:
    value = detail.get("content_hash")
    return f" (content hash {str(value)[:12]})" if value else ""


def _finished(words: _Words, detail: dict[str, Any]) -> str:
    parts = [count(int(detail.get("sent", 0)), "message") + " sent"]
    for key, label in (
        ("bounced", "bounced"),
        ("failed", "failed"),
        ("suppressed", "not sent (the reader had left)"),
        ("possibly_sent", "possibly sent (in flight when a sender stopped)"),
    ):
        if detail.get(key):
            parts.append(f"{int(detail[key]):,} {label}")
    return "Finished sending: " + ", ".join(parts) + "."


def _test_send(words: _Words, detail: dict[str, Any]) -> str:
    if "frozen" in detail:
        copy = "the approved copy" if detail["frozen"] else "the draft as it stood"
    else:
        copy = "a copy"
    strands = detail.get("strands")
    chosen = "" if strands in (None, "all") else f" (strands: {words.value(strands)})"
    return f"Sent {copy} as a test to {detail['to']}{chosen}."


def _moved(words: _Words, detail: dict[str, Any]) -> str:
    strand = detail.get("strand")
    where = words.strands.get(strand, strand) if strand else "the strand the matcher chose"
    return f"Moved {words.item(detail)} under {where}."


def _include(words: _Words, detail: dict[str, Any]) -> str:
    overruled = detail.get("overruled")
    if overruled:
        verdict = {"rejected": "not relevant", "relevant": "relevant but not drafted"}.get(
            overruled, overruled
        )
        return f"Included {words.item(detail)}, overruling the matcher ({verdict})."
    return f"Put {words.item(detail)} back in."


def _reset(words: _Words, detail: dict[str, Any]) -> str:
    by = detail.get("approved_by")
    because = str(detail.get("because", "an edit")).replace("_", " ")
    whose = f" given by {by}" if by else ""
    return f"Discarded the approval{whose}: the bulletin changed ({because})."


def _with_reason(verb: str) -> Callable[[_Words, dict[str, Any]], str]:
    def describe(words: _Words, detail: dict[str, Any]) -> str:
        reason = detail.get("reason")
        return f"{verb}: “{_short(str(reason), 200)}”." if reason else f"{verb}."

    return describe


_SENTENCES: dict[str, Callable[[_Words, dict[str, Any]], str]] = {
    "create_draft": lambda w, d: f"Created the draft with {count(int(d['items']), 'item')}.",
    "refresh_draft": lambda w, d: (
        f"Refreshed the draft: {count(int(d['added']), 'new item')}, {int(d['items']):,} in all."
    ),
    "submit": lambda w, d: "Marked it as in review.",
    "approve": lambda w, d: f"Approved this copy{_hash(d)}.",
    "reject": _with_reason("Rejected the draft"),
    "withdraw": _with_reason("Withdrew it"),
    "reopen": lambda w, d: "Reopened it for review.",
    "schedule": lambda w, d: f"Scheduled it to be sent on {w.when(d['scheduled_for'])}.",
    "send_now": lambda w, d: "Asked for it to be sent now.",
    "unschedule": lambda w, d: "Unscheduled it; the approval stands.",
    "start_sending": lambda w, d: f"Started sending{_hash(d)}.",
    "finish_sending": _finished,
    "reset_approval": _reset,
    "include_item": _include,
    "exclude_item": lambda w, d: f"Left out {w.item(d)}.",
    "move_item": _moved,
    "edit_summary": lambda w, d: (
        f"Rewrote the summary of {w.item(d)}."
        if d.get("summary")
        else f"Brought back the feed's own summary of {w.item(d)}."
    ),
    "reorder": lambda w, d: f"Changed the order of {count(len(d['item_ids']), 'item')}.",
    "edit_headline": lambda w, d: (
        f"Set the headline to “{_short(d['headline'], 200)}”."
        if d.get("headline")
        else "Removed the headline."
    ),
    "edit_intro": lambda w, d: (
        f"Rewrote the introduction ({count(int(d['characters']), 'character')})."
    ),
    "edit_preheader": lambda w, d: (
        f"Set the preview text to “{_short(d['preheader'], 200)}”."
        if d.get("preheader")
        else "Brought back the default preview text."
    ),
    "pick_uncertain": lambda w, d: f"Took {w.item(d)} from the uncertain queue.",
    "dismiss_uncertain": lambda w, d: f"Marked {w.item(d)} not relevant.",
    "add_manual_item": lambda w, d: f"Added “{_short(d['title'])}” by hand ({d['link']}).",
    "test_send": _test_send,
    # Subscribers, changed by an editor: by number, never by address (an erased person must not
    # stay in the log).
    "add_subscriber": lambda w, d: (
        f"Confirmed subscriber #{d['subscriber_id']}, who had signed up on the web, by hand."
        if d.get("confirmed_pending")
        else f"Added subscriber #{d['subscriber_id']} by hand."
    ),
    "remove_subscriber": lambda w, d: f"Unsubscribed subscriber #{d['subscriber_id']} by hand.",
    "import_subscribers": lambda w, d: (
        f"Imported {d['file']}: {count(int(d['rows']), 'row')}, {int(d['added']):,} added, "
        f"{int(d['confirmed']):,} confirmed, {int(d['unchanged']):,} already subscribed, "
        f"{int(d['rejected']):,} rejected."
    ),
}
