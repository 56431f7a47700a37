"""State transitions of a bulletin, each one checked, atomic and written to the audit log.

Every function takes the `actor` (an editor's name, or the service for delivery) and an optional
`revision`: the one the caller looked at, so a decision made on a stale page is refused.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from actwatch.config import Config
from actwatch.core.clock import utc
from actwatch.core.text import one_line
from actwatch.review.freeze import FrozenCopy, copy_from_row, frozen_copy, render_for_approval
from actwatch.review.records import (
    APPROVAL_CLEARED,
    check_revision,
    clean_actor,
    compare_and_set,
    load_row,
    record,
)
from actwatch.review.states import (
    APPROVED,
    BLOCKED,
    DRAFT,
    IN_REVIEW,
    SCHEDULED,
    SENDING,
    SENT,
    ConflictError,
    ReviewError,
    StateError,
    check,
)


def _transition(
    engine: Engine,
    bulletin_id: int,
    action: str,
    *,
    actor: str,
    now: datetime | None = None,
    revision: int | None = None,
    values: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> str:
    actor = clean_actor(actor)
    moment = utc(now)
    with engine.begin() as connection:
        row = load_row(connection, bulletin_id)
        check_revision(row, revision)
        return _move(connection, row, action, actor=actor, at=moment, values=values, detail=detail)


def _move(
    connection: Connection,
    row: Any,
    action: str,
    *,
    actor: str,
    at: datetime,
    values: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> str:
    """Take `row` through `action` (compare-and-set) and audit it, in the caller's
    transaction; the state it reached."""
    target = check(action, row.state).target
    compare_and_set(connection, row, state=target, **(values or {}))
    record(
        connection,
        at=at,
        actor=actor,
        action=action,
        bulletin_id=row.id,
        from_state=row.state,
        to_state=target,
        revision=row.revision,
        **(detail or {}),
    )
    return target


def submit(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> str:
    """Draft -> in review: the editor has started on it (the draft is no longer refreshed)."""
    return _transition(engine, bulletin_id, "submit", actor=actor, now=now, revision=revision)


@dataclass(frozen=True)
class Approval:
    bulletin_id: int
    revision: int
    content_hash: str
    approved_by: str
    approved_at: datetime
    html_bytes: int


def approve(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    *,
    by: str,
    revision: int | None = None,
    expected_hash: str | None = None,
    now: datetime | None = None,
) -> Approval:
    """Freeze the bulletin as it is now and approve exactly that.

    `expected_hash`: the content hash of the preview the editor approved (or its first
    characters); when the content has changed since (an announcement updated by its feed),
    nothing is approved. The bulletin is composed and rendered once.
    A draft is submitted for review and approved in one step (both are in the audit log).
    """
    by = clean_actor(by)
    moment = utc(now)
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
    check_revision(row, revision)
    if row.state != DRAFT:
        check("approve", row.state)
    rendered = render_for_approval(
        engine, config, bulletin_id, today=moment.astimezone(config.schedule.zone).date()
    )
    if rendered.revision != row.revision:
        raise ConflictError(
            f"bulletin {bulletin_id} changed while it was being approved: look at it again"
        )
    if expected_hash is not None and not _same_content(rendered.content_hash, expected_hash):
        raise ConflictError(
            "the bulletin's content changed since you looked at it (an announcement was "
            "updated): look at the preview again before approving"
        )
    with engine.begin() as connection:
        current = load_row(connection, bulletin_id)
        if (current.revision, current.state) != (row.revision, row.state):
            raise ConflictError(
                f"bulletin {bulletin_id} changed while it was being approved: look at it again"
            )
        if current.state == DRAFT:
            record(
                connection,
                at=moment,
                actor=by,
                action="submit",
                bulletin_id=current.id,
                from_state=DRAFT,
                to_state=IN_REVIEW,
                revision=current.revision,
            )
        compare_and_set(
            connection,
            current,
            state=APPROVED,
            approved_by=by,
            approved_at=moment,
            approved_revision=current.revision,
            frozen_html=rendered.html,
            frozen_text=rendered.text,
            frozen_markdown=rendered.markdown,
            frozen_context=rendered.context,
            content_hash=rendered.content_hash,
            scheduled_for=None,
        )
        record(
            connection,
            at=moment,
            actor=by,
            action="approve",
            bulletin_id=current.id,
            from_state=IN_REVIEW,
            to_state=APPROVED,
            revision=current.revision,
            content_hash=rendered.content_hash,
        )
    return Approval(
        bulletin_id,
        row.revision,
        rendered.content_hash,
        by,
        moment,
        len(rendered.html.encode("utf-8")),
    )


def _same_content(actual: str, expected: str) -> bool:
    """The whole hash, or (typed on the command line) the start of it."""
    return actual == expected or (len(expected) < len(actual) and actual.startswith(expected))


def reject(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    reason: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> str:
    """This season's bulletin will not go out as drafted (it can be reopened)."""
    reason = one_line(reason)
    if not reason:
        raise ReviewError("say why the bulletin is rejected")
    return _transition(
        engine,
        bulletin_id,
        "reject",
        actor=actor,
        now=now,
        revision=revision,
        detail={"reason": reason[:1000]},
    )


def withdraw(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    reason: str = "",
    revision: int | None = None,
    now: datetime | None = None,
) -> str:
    """Take the bulletin out of the way to subscribers; any approval is discarded."""
    detail = {"reason": one_line(reason)[:1000]} if reason.strip() else {}
    return _transition(
        engine,
        bulletin_id,
        "withdraw",
        actor=actor,
        now=now,
        revision=revision,
        values=dict(APPROVAL_CLEARED),
        detail=detail,
    )


def reopen(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> str:
    """A rejected or withdrawn bulletin goes back to review (it needs a new approval)."""
    return _transition(engine, bulletin_id, "reopen", actor=actor, now=now, revision=revision)


def schedule(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    at: datetime,
    revision: int | None = None,
    now: datetime | None = None,
) -> str:
    """Send the approved copy at `at` (aware, in the future); rescheduling is allowed."""
    moment = utc(now)
    if at.tzinfo is None:
        raise ValueError("naive datetime: give the time zone")
    if at <= moment:
        raise ReviewError("the time to send must be in the future")
    return _transition(
        engine,
        bulletin_id,
        "schedule",
        actor=actor,
        now=moment,
        revision=revision,
        values={"scheduled_for": at.astimezone(UTC)},
        detail={"scheduled_for": at.astimezone(UTC).isoformat()},
    )


def send_now(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    revision: int | None = None,
    expected_hash: str | None = None,
    now: datetime | None = None,
) -> datetime:
    """Send the approved copy as soon as possible: it is scheduled for now, and the service's
    next check (every `schedule.send_check_interval`) starts it. Returns the time it is due.

    `expected_hash`: the approved copy the editor confirmed; refused if the approval changed."""
    moment = utc(now)
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
    if (
        expected_hash is not None
        and row.content_hash is not None
        and not _same_content(row.content_hash, expected_hash)
    ):
        raise ConflictError(
            "the approved copy changed since you looked at it: look at it again before sending"
        )
    _transition(
        engine,
        bulletin_id,
        "send_now",
        actor=actor,
        now=moment,
        revision=revision,
        values={"scheduled_for": moment},
        detail={"content_hash": row.content_hash},
    )
    return moment


def unschedule(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> str:
    """Keep the approval but send nothing until scheduled again."""
    return _transition(
        engine,
        bulletin_id,
        "unschedule",
        actor=actor,
        now=now,
        revision=revision,
        values={"scheduled_for": None},
    )


def start_sending(
    engine: Engine, bulletin_id: int, *, actor: str, now: datetime | None = None
) -> FrozenCopy:
    """Scheduled -> sending once it is due; hands delivery the checked frozen copy.

    Only one caller wins (the state change is a compare-and-set), so two schedulers never both
    start the same bulletin.
    """
    moment = utc(now)
    copy = frozen_copy(engine, bulletin_id)
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
    if row.state == SCHEDULED and (row.scheduled_for is None or row.scheduled_for > moment):
        raise StateError(f"bulletin {bulletin_id} is not due until {row.scheduled_for}")
    _transition(
        engine,
        bulletin_id,
        "start_sending",
        actor=actor,
        now=moment,
        revision=copy.approved_revision,
        values={"send_started_at": moment},
        detail={"content_hash": copy.content_hash},
    )
    return frozen_copy(engine, bulletin_id)


def finish_sending(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    now: datetime | None = None,
    **detail: Any,
) -> str:
    """Sending -> sent, when delivery has handed over every message (counts in `detail`)."""
    moment = utc(now)
    return _transition(
        engine,
        bulletin_id,
        "finish_sending",
        actor=actor,
        now=moment,
        values={"sent_at": moment},
        detail=detail,
    )


def open_for_sending(
    engine: Engine, bulletin_id: int, *, actor: str, now: datetime | None = None
) -> FrozenCopy:
    """The checked, decoded frozen copy for a send, reading the bulletin row once.

    The copy is decoded before anything changes, so a copy that cannot be read leaves the
    bulletin as it was. Approved (or scheduled and due) -> sending, and blocked -> sending (the
    operator runs the send again), each audited; a bulletin already sending or sent is handed
    over as it is. One transaction, a compare-and-set: two senders never both start it."""
    actor = clean_actor(actor)
    moment = utc(now)
    with engine.begin() as connection:
        row = load_row(connection, bulletin_id)
        copy = copy_from_row(row)
        if row.state in (SENDING, SENT):
            return copy
        if row.state == SCHEDULED and (row.scheduled_for is None or row.scheduled_for > moment):
            raise StateError(f"bulletin {bulletin_id} is not due until {row.scheduled_for}")
        action = "resume_sending" if row.state == BLOCKED else "start_sending"
        values: dict[str, Any] = {"send_problem": None, "send_problem_at": None}
        if action == "start_sending":
            values["send_started_at"] = moment
        target = _move(
            connection,
            row,
            action,
            actor=actor,
            at=moment,
            values=values,
            detail={"content_hash": copy.content_hash},
        )
    return dataclasses.replace(copy, state=target)


def block_sending(
    engine: Engine, bulletin_id: int, *, actor: str, reason: str, now: datetime | None = None
) -> str:
    """Sending -> blocked: the server refused the message itself (or the first recipients
    bounced in numbers), so nobody more is mailed until the operator resumes it. `reason` (the
    server's reply) is kept on the bulletin for the editor, `status` and `deliveries`."""
    moment = utc(now)
    reason = one_line(reason)[:1000]
    return _transition(
        engine,
        bulletin_id,
        "block",
        actor=actor,
        now=moment,
        values={"send_problem": reason, "send_problem_at": moment},
        detail={"reason": reason},
    )


def resume_sending(
    engine: Engine, bulletin_id: int, *, actor: str, now: datetime | None = None
) -> str:
    """Blocked -> sending: the operator has dealt with the cause; the next send carries on."""
    return _transition(
        engine,
        bulletin_id,
        "resume_sending",
        actor=actor,
        now=utc(now),
        values={"send_problem": None, "send_problem_at": None},
    )
