"""When the service compiles a season's draft: `schedule.draft_after` after the season ends, at
`schedule.draft_at` local time, and only once a poll has finished after that moment (so the
draft holds what the feeds published up to then, even after the service was down)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from actwatch.bulletin.seasons import Season, draft_due_at, last_ended_season
from actwatch.bulletin.store import draft_bulletin
from actwatch.config import Config
from actwatch.db.schema import bulletins
from actwatch.review.states import DRAFT

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DraftCheck:
    season: Season
    due_at: datetime
    bulletin_id: int | None = None
    state: str | None = None
    created: bool = False
    items: int = 0
    waiting_for: str | None = None  # why nothing was done yet
    notify: bool = False  # the editor has not been told yet


def check_draft(
    engine: Engine, config: Config, now: datetime, last_poll_finished: datetime | None
) -> DraftCheck:
    """Compile the last ended season's draft when it is due; say whether the editor still needs
    telling. Idempotent: the season's bulletin is unique, an existing one is left alone."""
    season = last_ended_season(config, now)
    due = draft_due_at(config, season)
    with engine.connect() as connection:
        row = connection.execute(
            select(bulletins.c.id, bulletins.c.state, bulletins.c.editor_notified_at).where(
                bulletins.c.season == season.slug
            )
        ).first()
    if row is not None:
        return DraftCheck(
            season,
            due,
            row.id,
            row.state,
            notify=row.state == DRAFT and row.editor_notified_at is None and now >= due,
        )
    if now < due:
        return DraftCheck(season, due, waiting_for="not due yet")
    if last_poll_finished is None or last_poll_finished < due:
        return DraftCheck(season, due, waiting_for="a poll that finishes after the due time")
    result = draft_bulletin(engine, config, season, now)
    return DraftCheck(
        season,
        due,
        result.bulletin_id,
        DRAFT,
        created=result.created,
        items=result.total,
        notify=True,
    )
