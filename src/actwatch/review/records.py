"""The one owner of the `bulletins` table and the audit log: reading a bulletin row, writing the
audit log, changing a row only if nobody else has, and the few questions the service and the
faces ask about bulletins (which season has one, which are due or sending)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update

from actwatch.core.clock import utc
from actwatch.core.text import one_line
from actwatch.db.schema import audit_log, bulletins
from actwatch.review.states import (
    ACTIVE,
    BLOCKED,
    SCHEDULED,
    SENDING,
    SENT,
    ConflictError,
    NotFoundError,
)

# Clearing these discards an approval: the frozen copies and everything about the approval.
APPROVAL_CLEARED: dict[str, Any] = {
    "approved_by": None,
    "approved_at": None,
    "approved_revision": None,
    "frozen_html": None,
    "frozen_text": None,
    "frozen_markdown": None,
    "frozen_context": None,
    "content_hash": None,
    "scheduled_for": None,
}


def load_row(connection: Connection, bulletin_id: int) -> Row[Any]:
    row = connection.execute(select(bulletins).where(bulletins.c.id == bulletin_id)).first()
    if row is None:
        raise NotFoundError(f"no bulletin {bulletin_id} (see `actwatch bulletins`)")
    return row


def check_revision(row: Row[Any], expected: int | None) -> None:
    if expected is not None and row.revision != expected:
        raise ConflictError(
            f"bulletin {row.id} changed since you looked at it (revision {expected}, now "
            f"{row.revision}); nothing was changed: look at the current version and try again"
        )


def compare_and_set(connection: Connection, row: Row[Any], **values: Any) -> None:
    """Update the bulletin only if its state and revision are still what `row` says."""
    result = connection.execute(
        update(bulletins)
        .where(
            bulletins.c.id == row.id,
            bulletins.c.revision == row.revision,
            bulletins.c.state == row.state,
        )
        .values(**values)
    )
    if result.rowcount != 1:
        raise ConflictError(
            f"bulletin {row.id} was changed by someone else at the same moment; "
            "nothing was changed: look at the current version and try again"
        )


def record(
    connection: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    bulletin_id: int | None,
    from_state: str | None = None,
    to_state: str | None = None,
    **detail: Any,
) -> None:
    connection.execute(
        insert(audit_log).values(
            at=at,
            actor=actor,
            action=action,
            bulletin_id=bulletin_id,
            from_state=from_state,
            to_state=to_state,
            detail=detail,
        )
    )


def audit(
    engine: Engine,
    *,
    actor: str,
    action: str,
    bulletin_id: int | None,
    at: datetime | None = None,
    **detail: Any,
) -> None:
    """Write one entry to the audit trail (for steps outside review, such as a test send)."""
    with engine.begin() as connection:
        record(
            connection,
            at=utc(at),
            actor=clean_actor(actor),
            action=action,
            bulletin_id=bulletin_id,
            **detail,
        )


def clean_actor(actor: str) -> str:
    actor = one_line(actor)
    if not actor:
        raise ValueError("say who is doing this (an editor's name)")
    return actor[:100]


def find_bulletin_id(engine_or_connection: Engine | Connection, reference: str | int) -> int:
    """A bulletin by id (`3`) or season (`autumn-2017`)."""
    text = str(reference).strip().lower()
    query = select(bulletins.c.id).where(
        bulletins.c.id == int(text) if text.isdigit() else bulletins.c.season == text
    )
    if isinstance(engine_or_connection, Engine):
        with engine_or_connection.connect() as connection:
            found = connection.execute(query).scalar()
    else:
        found = engine_or_connection.execute(query).scalar()
    if found is None:
        raise NotFoundError(f"no bulletin {reference!r} (see `actwatch bulletins`)")
    return int(found)


def bulletin_state(engine: Engine, bulletin_id: int) -> str:
    with engine.connect() as connection:
        state: str = load_row(connection, bulletin_id).state
    return state


@dataclass(frozen=True)
class SeasonBulletin:
    id: int
    state: str
    editor_notified_at: datetime | None


def season_bulletin(engine: Engine, season: str) -> SeasonBulletin | None:
    """The bulletin of a season (by its slug), if there is one yet."""
    with engine.connect() as connection:
        row = connection.execute(
            select(bulletins.c.id, bulletins.c.state, bulletins.c.editor_notified_at).where(
                bulletins.c.season == season
            )
        ).first()
    return SeasonBulletin(row.id, row.state, row.editor_notified_at) if row else None


def count_bulletins(engine: Engine) -> dict[str, int]:
    """Bulletins by state (only the states some bulletin is in)."""
    with engine.connect() as connection:
        return {
            state: int(count)
            for state, count in connection.execute(
                select(bulletins.c.state, func.count()).group_by(bulletins.c.state)
            )
        }


@dataclass(frozen=True)
class ActiveBulletin:
    id: int
    season: str
    state: str
    scheduled_for: datetime | None


def active_bulletins(engine: Engine) -> list[ActiveBulletin]:
    """Bulletins still on their way to subscribers (drafts to sending), oldest first."""
    with engine.connect() as connection:
        return [
            ActiveBulletin(row.id, row.season, row.state, row.scheduled_for)
            for row in connection.execute(
                select(
                    bulletins.c.id, bulletins.c.season, bulletins.c.state, bulletins.c.scheduled_for
                )
                .where(bulletins.c.state.in_(ACTIVE))
                .order_by(bulletins.c.id)
            )
        ]


def sent_before(engine: Engine, before: datetime) -> list[int]:
    """Bulletins sent before `before` (their delivery rows are due for deletion)."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(bulletins.c.id).where(
                    bulletins.c.state == SENT, bulletins.c.sent_at < before
                )
            ).scalars()
        )


def due_scheduled(engine: Engine, now: datetime) -> list[int]:
    """Scheduled bulletins whose time has come, the earliest first."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(bulletins.c.id)
                .where(bulletins.c.state == SCHEDULED, bulletins.c.scheduled_for <= now)
                .order_by(bulletins.c.scheduled_for, bulletins.c.id)
            ).scalars()
        )


def sending_bulletins(engine: Engine) -> list[int]:
    """Bulletins being sent, the longest-running first."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(bulletins.c.id)
                .where(bulletins.c.state == SENDING)
                .order_by(bulletins.c.send_started_at, bulletins.c.id)
            ).scalars()
        )


def note_send_problem(
    engine: Engine, bulletin_id: int, problem: str | None, now: datetime | None = None
) -> None:
    """Say why a send is held up (the mail server unreachable since ...), or that it no longer
    is (None). Kept on the bulletin so every face tells the same story."""
    values: dict[str, Any] = {"send_problem": None, "send_problem_at": None}
    if problem is not None:
        values = {"send_problem": one_line(problem)[:1000], "send_problem_at": utc(now)}
    with engine.begin() as connection:
        connection.execute(
            update(bulletins)
            .where(
                bulletins.c.id == bulletin_id,
                bulletins.c.state.in_((SCHEDULED, SENDING, BLOCKED)),
            )
            .values(**values)
        )


@dataclass(frozen=True)
class SendProblem:
    id: int
    season: str
    state: str
    problem: str | None
    problem_at: datetime | None
    scheduled_for: datetime | None
    send_started_at: datetime | None


def sends_to_watch(engine: Engine) -> list[SendProblem]:
    """Bulletins that are scheduled, sending or blocked, with what is holding them up (for
    `status`, `/readyz`, `/metrics` and the editor's pages)."""
    with engine.connect() as connection:
        return [
            _send_problem_of(row)
            for row in connection.execute(
                select(
                    bulletins.c.id,
                    bulletins.c.season,
                    bulletins.c.state,
                    bulletins.c.send_problem,
                    bulletins.c.send_problem_at,
                    bulletins.c.scheduled_for,
                    bulletins.c.send_started_at,
                )
                .where(bulletins.c.state.in_((SCHEDULED, SENDING, BLOCKED)))
                .order_by(bulletins.c.id)
            )
        ]


def send_problem(engine: Engine, bulletin_id: int) -> SendProblem:
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
    return _send_problem_of(row)


def _send_problem_of(row: Any) -> SendProblem:
    return SendProblem(
        row.id,
        row.season,
        row.state,
        row.send_problem,
        row.send_problem_at,
        row.scheduled_for,
        row.send_started_at,
    )


def claim_notification(engine: Engine, bulletin_id: int, now: datetime) -> bool:
    """Mark the editor as told about the draft, unless they were already: a compare-and-set, so
    two processes refreshing one draft send one email."""
    with engine.begin() as connection:
        claimed = connection.execute(
            update(bulletins)
            .where(bulletins.c.id == bulletin_id, bulletins.c.editor_notified_at.is_(None))
            .values(editor_notified_at=now)
        ).rowcount
    return bool(claimed)


def release_notification(engine: Engine, bulletin_id: int, claimed_at: datetime) -> None:
    """The email did not go: the next refresh tries again."""
    with engine.begin() as connection:
        connection.execute(
            update(bulletins)
            .where(bulletins.c.id == bulletin_id, bulletins.c.editor_notified_at == claimed_at)
            .values(editor_notified_at=None)
        )


# The public archive: what was sent, exactly as it was frozen.

PUBLISHED_STATES = ("sending", "blocked", "sent")


@dataclass(frozen=True)
class PublishedCopy:
    season: str
    markdown: str
    html: str
    published_at: datetime  # when sending started (or, for old rows, finished or was approved)


def published_copies(engine: Engine, season: str | None = None) -> list[PublishedCopy]:
    """Bulletins that have gone out (or are going out), newest first; one season's if given."""
    query = (
        select(
            bulletins.c.season,
            bulletins.c.frozen_markdown,
            bulletins.c.frozen_html,
            bulletins.c.send_started_at,
            bulletins.c.sent_at,
            bulletins.c.approved_at,
        )
        .where(bulletins.c.state.in_(PUBLISHED_STATES), bulletins.c.frozen_markdown.is_not(None))
        .order_by(bulletins.c.send_started_at.desc(), bulletins.c.id.desc())
    )
    if season is not None:
        query = query.where(bulletins.c.season == season)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [
        PublishedCopy(
            season=row.season,
            markdown=row.frozen_markdown,
            html=row.frozen_html or "",
            published_at=row.send_started_at or row.sent_at or row.approved_at,
        )
        for row in rows
    ]
