"""When the service compiles a season's draft: `schedule.draft_after` after the season ends, at
`schedule.draft_at` local time, and only once a poll has finished after that moment (so the
draft holds what the feeds published up to then, even after the service was down)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from actwatch.bulletin.seasons import Season, draft_due_at, last_ended_season
from actwatch.config import Config
from actwatch.db import Engine
from actwatch.pipeline import Notified, draft_and_notify, notify_editor
from actwatch.review.records import season_bulletin
from actwatch.review.states import DRAFT


@dataclass(frozen=True)
class DraftCheck:
    season: Season
    due_at: datetime
    bulletin_id: int | None = None
    state: str | None = None
    created: bool = False
    items: int = 0
    waiting_for: str | None = None  # why nothing was done yet
    notify: bool = False  # the editor had not been told yet when this check began
    told: bool = False  # ... and was told by it
    notify_error: str | None = None  # ... or could not be (the mail server is down)


def check_draft(
    engine: Engine,
    config: Config,
    now: datetime,
    last_poll_finished: datetime | None,
    *,
    notify: bool = True,
) -> DraftCheck:
    """Compile the last ended season's draft when it is due, and tell the editor once (unless
    `notify` is false: the service is waiting to retry a failed email). Idempotent: the season's
    bulletin is unique, an existing one is left alone."""
    season = last_ended_season(config, now)
    due = draft_due_at(config, season)
    existing = season_bulletin(engine, season.slug)
    if existing is not None:
        needs_notice = (
            existing.state == DRAFT and existing.editor_notified_at is None and now >= due
        )
        notified = (
            notify_editor(engine, config, existing.id, now=now)
            if needs_notice and notify
            else Notified()
        )
        return DraftCheck(
            season,
            due,
            existing.id,
            existing.state,
            notify=needs_notice,
            told=notified.told,
            notify_error=notified.error,
        )
    if now < due:
        return DraftCheck(season, due, waiting_for="not due yet")
    if last_poll_finished is None or last_poll_finished < due:
        return DraftCheck(season, due, waiting_for="a poll that finishes after the due time")
    drafted = draft_and_notify(engine, config, season, now=now, notify=notify)
    return DraftCheck(
        season,
        due,
        drafted.draft.bulletin_id,
        DRAFT,
        created=drafted.draft.created,
        items=drafted.draft.total,
        notify=True,
        told=drafted.notified.told,
        notify_error=drafted.notified.error,
    )
