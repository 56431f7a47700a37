"""The bulletin's database side: load a season's inputs, keep one draft per season, list them.

`draft_bulletin` is idempotent: the first run creates the season's row, later runs add the
season's newly relevant items and never touch what the editor already decided. A unique
constraint (one row per bulletin and item) makes a second, concurrent refresh harmless.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from actwatch.bulletin.compose import compose
from actwatch.bulletin.model import (
    Bulletin,
    EditorChoice,
    StoredCommencement,
    StoredItem,
    StrandActivity,
)
from actwatch.bulletin.seasons import (
    Season,
    bulletin_title,
    local_midnight,
    parse_season,
    seasons_between,
    window,
)
from actwatch.config import Config
from actwatch.core import clock
from actwatch.core.states import BulletinState, MatchState
from actwatch.db.schema import (
    audit_log,
    bulletin_items,
    bulletins,
    commencements,
    feeds,
    item_matches,
    item_sources,
    item_strands,
    items,
)
from actwatch.matching.store import decided

REFRESHABLE_STATES = (BulletinState.DRAFT,)


class BulletinError(Exception):
    """A bulletin command that cannot go ahead, with a reason an editor can act on."""


class NothingToDraft(BulletinError):
    """No draft is made for a season that has not started or has no relevant news yet."""


@dataclass(frozen=True)
class DraftResult:
    bulletin_id: int
    season: Season
    created: bool
    added: int
    total: int
    issued_on: date | None = None  # the issue date set ahead, if any


@dataclass(frozen=True)
class BulletinSummary:
    id: int
    season: str
    state: str
    title: str
    items: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "season": self.season,
            "state": self.state,
            "title": self.title,
            "items": self.items,
        }


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _relevant_in(start: datetime, end: datetime) -> Any:
    return and_(
        decided(MatchState.RELEVANT),
        items.c.published_at >= _utc(start),
        items.c.published_at < _utc(end),
    )


def _source_titles(
    connection: Connection, config: Config, item_ids: Sequence[int]
) -> dict[int, str]:
    configured = {feed.name: feed.source_title for feed in config.feeds}
    titles: dict[int, str] = {}
    rows = connection.execute(
        select(item_sources.c.item_id, feeds.c.name, feeds.c.feed_title)
        .join(feeds, feeds.c.id == item_sources.c.feed_id)
        .where(item_sources.c.item_id.in_(item_ids))
        .order_by(item_sources.c.first_seen_at, item_sources.c.id)
    )
    for item_id, name, feed_title in rows:
        titles.setdefault(item_id, configured.get(name) or feed_title or name)
    return titles


def _host(link: str) -> str:
    host = urlsplit(link).hostname or ""
    return host.removeprefix("www.")


def load_items(connection: Connection, config: Config, where: Any) -> list[StoredItem]:
    rows = connection.execute(
        select(
            items.c.id,
            items.c.title,
            items.c.link,
            items.c.published_at,
            items.c.summary,
            items.c.type_hint,
            item_matches.c.event_type,
        )
        .join(item_matches, item_matches.c.item_id == items.c.id)
        .where(where)
        .order_by(items.c.published_at, items.c.id)
    ).all()
    ids = [row.id for row in rows]
    strands: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(ids):
        for item_id, strand in connection.execute(
            select(item_strands.c.item_id, item_strands.c.strand).where(
                item_strands.c.item_id.in_(chunk)
            )
        ):
            strands[item_id].append(strand)
    sources: dict[int, str] = {}
    for chunk in _chunks(ids):
        sources.update(_source_titles(connection, config, chunk))
    return [
        StoredItem(
            id=row.id,
            title=row.title,
            link=row.link,
            source=sources.get(row.id) or _host(row.link),
            published_at=row.published_at,
            summary=row.summary or "",
            event_type=row.event_type,
            strands=tuple(strands[row.id]),
            type_hint=row.type_hint,
        )
        for row in rows
    ]


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def load_commencements(connection: Connection, before: datetime) -> list[StoredCommencement]:
    """Commencements of relevant instruments published before `before`."""
    rows = connection.execute(
        select(
            commencements.c.item_id,
            commencements.c.section,
            commencements.c.in_force_on,
            commencements.c.strand,
            commencements.c.purpose,
        )
        .join(items, items.c.id == commencements.c.item_id)
        .join(item_matches, item_matches.c.item_id == items.c.id)
        .where(decided(MatchState.RELEVANT), items.c.published_at < _utc(before))
        .order_by(commencements.c.in_force_on, commencements.c.id)
    )
    return [
        StoredCommencement(
            item_id=row.item_id,
            section=row.section,
            in_force_on=row.in_force_on,
            strand=row.strand,
            purpose=row.purpose,
        )
        for row in rows
    ]


def load_activity(connection: Connection, before: datetime) -> dict[str, StrandActivity]:
    """Per strand: the latest relevant news and how many pilots, up to `before` (one query)."""
    rows = connection.execute(
        select(
            item_strands.c.strand,
            func.max(items.c.published_at).label("latest"),
            func.sum(case((item_matches.c.event_type == "pilot", 1), else_=0)).label("pilots"),
        )
        .join(items, items.c.id == item_strands.c.item_id)
        .join(item_matches, item_matches.c.item_id == items.c.id)
        .where(decided(MatchState.RELEVANT), items.c.published_at < _utc(before))
        .group_by(item_strands.c.strand)
    )
    activity = {}
    for strand, latest, pilots in rows:
        if isinstance(latest, str):  # SQLite's max() hands back the stored text
            latest = datetime.fromisoformat(latest)
        if latest is not None and latest.tzinfo is None:
            latest = latest.replace(tzinfo=UTC)
        activity[strand] = StrandActivity(latest_news=latest, pilots=int(pilots or 0))
    return activity


def _bulletin_row(connection: Connection, reference: int | str | Season) -> Any:
    query = select(bulletins)
    if isinstance(reference, Season):
        query = query.where(bulletins.c.season == reference.slug)
    elif isinstance(reference, int) or reference.isdigit():
        query = query.where(bulletins.c.id == int(reference))
    else:
        query = query.where(bulletins.c.season == reference.strip().lower())
    return connection.execute(query).first()


def draft_bulletin(
    engine: Engine,
    config: Config,
    season: Season,
    now: datetime,
    *,
    issued_on: date | None = None,
) -> DraftResult:
    """Create the season's draft, or add the season's newly relevant items to it.

    Raises NothingToDraft, creating nothing, for a season that has not started by `now` or has
    no relevant news yet (an existing draft is still refreshed). `issued_on`: the date a new
    draft is to be issued on, set ahead (a season drafted after the fact); by default it is
    issued on the day it is approved.
    """
    start, end = window(config, season)
    created = False
    with engine.begin() as connection:
        row = _bulletin_row(connection, season)
        if row is None:
            today = now.astimezone(config.schedule.zone).date()
            if season.start > today:
                raise NothingToDraft(
                    f"{season.slug} has not started yet (it starts on {_long_date(season.start)})"
                    ": there is nothing to draft"
                )
            news = connection.execute(
                select(func.count())
                .select_from(items)
                .join(item_matches, item_matches.c.item_id == items.c.id)
                .where(_relevant_in(start, end))
            ).scalar_one()
            if not news:
                raise NothingToDraft(
                    f"{season.slug} has no relevant announcements yet: there is nothing to "
                    "draft (poll and match first; a draft is made once there is news)"
                )
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(bulletins).values(
                            season=season.slug,
                            state=BulletinState.DRAFT,
                            headline="",
                            intro_md="",
                            created_at=now,
                            updated_at=now,
                            revision=1,
                            issue_date=issued_on,
                        )
                    )
                created = True
            except IntegrityError:
                pass  # another process created it a moment ago: refresh that one
            row = _bulletin_row(connection, season)
        if row.state not in REFRESHABLE_STATES:
            raise BulletinError(
                f"the {season.slug} bulletin is {row.state}: only a draft can be refreshed"
            )
        already = exists().where(
            bulletin_items.c.bulletin_id == row.id, bulletin_items.c.item_id == items.c.id
        )
        new_items = (
            select(
                literal(row.id).label("bulletin_id"),
                items.c.id,
                literal(True).label("included"),
                literal("matcher").label("added_by"),
                literal(now, type_=bulletin_items.c.added_at.type).label("added_at"),
            )
            .join(item_matches, item_matches.c.item_id == items.c.id)
            .where(_relevant_in(start, end), ~already)
        )
        count = select(func.count()).where(bulletin_items.c.bulletin_id == row.id)
        before = connection.execute(count).scalar_one()
        connection.execute(
            insert(bulletin_items).from_select(
                ["bulletin_id", "item_id", "included", "added_by", "added_at"], new_items
            )
        )
        # Counted, not taken from rowcount: drivers disagree on INSERT ... SELECT.
        total = connection.execute(count).scalar_one()
        added = total - before
        changes: dict[str, Any] = {"refreshed_at": now}
        if added and not created:
            changes |= {"updated_at": now, "revision": bulletins.c.revision + 1}
        connection.execute(update(bulletins).where(bulletins.c.id == row.id).values(**changes))
        connection.execute(
            insert(audit_log).values(
                at=now,
                actor="actwatch draft",
                action="create_draft" if created else "refresh_draft",
                bulletin_id=row.id,
                from_state=None if created else row.state,
                to_state=BulletinState.DRAFT,
                detail={"season": season.slug, "added": added, "items": total},
            )
        )
    return DraftResult(row.id, season, created, added, total, row.issue_date)


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def list_bulletins(engine: Engine, config: Config) -> list[BulletinSummary]:
    """Every bulletin, in the order of their seasons (the oldest first)."""
    counts = (
        select(bulletin_items.c.bulletin_id, func.count().label("item_count"))
        .where(bulletin_items.c.included.is_(True))
        .group_by(bulletin_items.c.bulletin_id)
        .subquery()
    )
    summaries = []
    with engine.connect() as connection:
        rows = connection.execute(
            select(bulletins, func.coalesce(counts.c.item_count, 0).label("item_count"))
            .outerjoin(counts, counts.c.bulletin_id == bulletins.c.id)
            .order_by(bulletins.c.id)
        )
        for row in rows:
            try:
                title = bulletin_title(config, parse_season(config, row.season), row.headline)
            except ValueError:
                title = row.season  # a season the config no longer defines
            summaries.append(BulletinSummary(row.id, row.season, row.state, title, row.item_count))
    return sorted(
        summaries, key=lambda summary: (_season_start(config, summary.season), summary.id)
    )


def _season_start(config: Config, slug: str) -> date:
    try:
        return parse_season(config, slug).start
    except ValueError:
        return date.max  # a season the config no longer defines: last


def issue_date(config: Config, row: Any, today: date | None = None) -> date:
    """The date a stored bulletin is issued on, one rule for the preview, `show`, the approved
    copy and the archive: the date set ahead (`issue_date`) if any; else, once approved, the
    day of the approval (the approved copy is frozen with it); else today, the day approving it
    would issue it."""
    if row.issue_date is not None:
        return row.issue_date  # type: ignore[no-any-return]
    if row.approved_at is not None:
        return row.approved_at.astimezone(config.schedule.zone).date()  # type: ignore[no-any-return]
    return today or clock.now().astimezone(config.schedule.zone).date()


def load_bulletin(
    engine: Engine, config: Config, reference: int | str, *, today: date | None = None
) -> Bulletin:
    """Compose a stored bulletin (by id or season name) with the editor's choices, as of its
    issue date (`issue_date`; `today` stands for the current date): every section whole
    (rendering the email caps them)."""
    with engine.connect() as connection:
        row = _bulletin_row(connection, reference)
        if row is None:
            raise BulletinError(f"no bulletin {reference!r} (see `actwatch bulletins`)")
        season = parse_season(config, row.season)
        issued_on = issue_date(config, row, today)
        choices = {
            choice.item_id: EditorChoice(
                item_id=choice.item_id,
                included=choice.included,
                strand=choice.strand,
                position=choice.position,
                summary=choice.summary,
            )
            for choice in connection.execute(
                select(bulletin_items).where(bulletin_items.c.bulletin_id == row.id)
            )
        }
        stored = compose_inputs(connection, config, season, issued_on)
        return compose(
            config,
            season,
            items=stored.items,
            commencements=stored.commencements,
            activity=stored.activity,
            choices=choices,
            headline=row.headline,
            intro_md=row.intro_md,
            preheader=row.preheader,
            issued_on=issued_on,
            bulletin_id=row.id,
            state=row.state,
            revision=row.revision,
        )


@dataclass(frozen=True)
class SeasonInputs:
    items: list[StoredItem]
    commencements: list[StoredCommencement]
    activity: dict[str, StrandActivity]


def known_until(config: Config, season: Season, issued_on: date | None = None) -> datetime:
    """The end of what a bulletin issued on `issued_on` knows: the end of that day, and never
    before the end of its season."""
    _, end = window(config, season)
    if issued_on is None:
        return end
    return max(end, local_midnight(issued_on + timedelta(days=1), config.schedule.zone))


def compose_inputs(
    connection: Connection, config: Config, season: Season, issued_on: date | None = None
) -> SeasonInputs:
    """What `compose` needs for a season: its items, and the commencements and strand activity
    known on its issue date (by the season's end when no date is given)."""
    start, end = window(config, season)
    until = known_until(config, season, issued_on)
    known = load_commencements(connection, until)
    season_items = load_items(connection, config, _relevant_in(start, end))
    have = {item.id for item in season_items}
    missing = sorted({row.item_id for row in known} - have)
    instruments = load_items(connection, config, items.c.id.in_(missing)) if missing else []
    return SeasonInputs(season_items + instruments, known, load_activity(connection, until))


def seasons_with_news(engine: Engine, config: Config) -> list[tuple[Season, int]]:
    """Every season with relevant news and how many items, oldest first.

    Counted by the database, one bucket per season between the oldest and the newest item
    (a season holds what was published from its first local midnight to its end's): reading
    every relevant item's date here cost the dashboard a second per 100,000 stored items."""
    with engine.connect() as connection:
        first, last = connection.execute(
            select(func.min(items.c.published_at), func.max(items.c.published_at))
        ).one()
        if first is None:
            return []
        zone = config.schedule.zone
        seasons = seasons_between(
            config,
            _stored_moment(first).astimezone(zone).date(),
            _stored_moment(last).astimezone(zone).date(),
        )
        bucket = case(
            *(
                (items.c.published_at < _utc(window(config, season)[1]), index)
                for index, season in enumerate(seasons)
            ),
            else_=len(seasons),
        ).label("season")
        counted = connection.execute(
            select(bucket, func.count())
            .select_from(items.join(item_matches, item_matches.c.item_id == items.c.id))
            .where(decided(MatchState.RELEVANT))
            .group_by(bucket)
        ).all()
    return sorted(
        (seasons[index], int(many)) for index, many in counted if index < len(seasons) and many
    )


def _stored_moment(value: datetime | str) -> datetime:
    # SQLite's min() and max() hand back the stored text, not the column's type.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
