"""The editor's changes to a bulletin's content.

Every change goes through `_edit`: it refuses a bulletin that is being sent or was sent (or is
closed), refuses a stale `revision` (two tabs cannot silently overwrite each other), bumps the
revision, and when the bulletin was approved or scheduled sends it back to review and discards
the approval and its frozen copies. The change and its audit rows commit together or not at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, Select, insert, select, update
from sqlalchemy.exc import IntegrityError

from actwatch.bulletin import draft_bulletin, load_bulletin, parse_season
from actwatch.bulletin.seasons import season_containing, window
from actwatch.config import Config
from actwatch.core.clock import utc
from actwatch.core.links import canonical_link, published_link
from actwatch.core.states import MatchState
from actwatch.core.text import multiline
from actwatch.core.text import one_line as clean_line
from actwatch.db.schema import bulletin_items, bulletins, item_matches, items
from actwatch.matching.learning import Decision
from actwatch.matching.store import decided, effective_state, record_decision
from actwatch.review.records import (
    APPROVAL_CLEARED,
    check_revision,
    clean_actor,
    compare_and_set,
    load_row,
    record,
    season_bulletin,
)
from actwatch.review.states import (
    CLOSED,
    IN_REVIEW,
    LOCKED,
    STATE_LABELS,
    TRANSITIONS,
    ReviewError,
    StateError,
)

HEADLINE_CHARS = 200
PREHEADER_CHARS = 200
INTRO_CHARS = 10_000
SUMMARY_CHARS = 1_000
TITLE_CHARS = 300


@dataclass(frozen=True)
class Edit:
    """What an edit did: the new revision, and whether it discarded an approval."""

    bulletin_id: int
    revision: int
    approval_reset: bool
    state: str


def one_line(text: str, limit: int) -> str:
    text = clean_line(text)
    if len(text) > limit:
        raise ReviewError(f"too long: at most {limit} characters (this is {len(text)})")
    return text


def markdown_text(text: str, limit: int = INTRO_CHARS) -> str:
    """Markdown as typed, with line endings normalised and control characters removed.

    It stays Markdown here; the templates render it through Markdown and nh3 (raw HTML is shown
    as text, only safe links survive).
    """
    text = multiline(text)
    if len(text) > limit:
        raise ReviewError(f"too long: at most {limit:,} characters (this is {len(text):,})")
    return text


@contextmanager
def _edit(
    engine: Engine,
    bulletin_id: int,
    *,
    actor: str,
    action: str,
    revision: int | None,
    now: datetime | None,
    **detail: Any,
) -> Iterator[tuple[Connection, Any, list[Edit]]]:
    actor = clean_actor(actor)
    moment = utc(now)
    outcome: list[Edit] = []
    with engine.begin() as connection:
        row = load_row(connection, bulletin_id)
        check_revision(row, revision)
        if row.state in LOCKED:
            raise StateError(
                f"bulletin {row.id} is {STATE_LABELS[row.state].lower()}: it can no longer change"
            )
        if row.state in CLOSED:
            raise StateError(
                f"bulletin {row.id} is {STATE_LABELS[row.state].lower()}: reopen it to edit it"
            )
        reset = row.state in TRANSITIONS["reset_approval"].sources
        values: dict[str, Any] = {"revision": row.revision + 1, "updated_at": moment}
        if reset:
            values |= APPROVAL_CLEARED | {"state": IN_REVIEW}
        compare_and_set(connection, row, **values)
        if reset:
            record(
                connection,
                at=moment,
                actor=actor,
                action="reset_approval",
                bulletin_id=row.id,
                from_state=row.state,
                to_state=IN_REVIEW,
                revision=row.revision,
                because=action,
                approved_by=row.approved_by,
                approved_revision=row.approved_revision,
                content_hash=row.content_hash,
            )
        record(
            connection,
            at=moment,
            actor=actor,
            action=action,
            bulletin_id=row.id,
            revision=row.revision + 1,
            **detail,
        )
        yield connection, row, outcome
        outcome.append(
            Edit(row.id, row.revision + 1, reset, IN_REVIEW if reset else str(row.state))
        )


def _choice(connection: Connection, bulletin_id: int, item_id: int) -> Any:
    row = connection.execute(
        select(bulletin_items).where(
            bulletin_items.c.bulletin_id == bulletin_id, bulletin_items.c.item_id == item_id
        )
    ).first()
    if row is None:
        raise ReviewError(f"item {item_id} is not in bulletin {bulletin_id}")
    return row


def _set_choice(connection: Connection, bulletin_id: int, item_id: int, **values: Any) -> None:
    connection.execute(
        update(bulletin_items)
        .where(bulletin_items.c.bulletin_id == bulletin_id, bulletin_items.c.item_id == item_id)
        .values(**values)
    )


def set_included(
    engine: Engine,
    bulletin_id: int,
    item_id: int,
    included: bool,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    action = "include_item" if included else "exclude_item"
    with _edit(
        engine, bulletin_id, actor=actor, action=action, revision=revision, now=now, item_id=item_id
    ) as (connection, _, outcome):
        choice = _choice(connection, bulletin_id, item_id)
        if choice.included == included:
            raise ReviewError(f"item {item_id} is already {'included' if included else 'excluded'}")
        _set_choice(connection, bulletin_id, item_id, included=included)
    return outcome[0]


def move_to_strand(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    item_id: int,
    strand: str | None,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    """Show the item under `strand` (None: where the matcher put it)."""
    strand = strand or None
    if strand is not None and strand not in config.strands:
        raise ReviewError(f"unknown strand {strand!r} (use {', '.join(config.strands)})")
    with _edit(
        engine,
        bulletin_id,
        actor=actor,
        action="move_item",
        revision=revision,
        now=now,
        item_id=item_id,
        strand=strand,
    ) as (connection, _, outcome):
        _choice(connection, bulletin_id, item_id)
        _set_choice(connection, bulletin_id, item_id, strand=strand)
    return outcome[0]


def set_event_type(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    item_id: int,
    event_type: str,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    """Give an item another announcement type: a decision kept through every reclassify."""
    if event_type not in config.event_types:
        raise ReviewError(
            f"unknown announcement type {event_type!r} (use {', '.join(config.event_types)})"
        )
    with _edit(
        engine,
        bulletin_id,
        actor=actor,
        action="set_event_type",
        revision=revision,
        now=now,
        item_id=item_id,
        event_type=event_type,
    ) as (connection, _, outcome):
        _choice(connection, bulletin_id, item_id)
        record_decision(connection, item_id, event_type=event_type)
    return outcome[0]


def bulletin_decisions(engine: Engine) -> list[Decision]:
    """What the editor's bulletin edits say about items: one excluded from a bulletin the
    matcher put it in is not relevant; one moved to a strand belongs to that strand."""
    decisions = []
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                bulletin_items.c.item_id, bulletin_items.c.included, bulletin_items.c.strand
            ).order_by(bulletin_items.c.bulletin_id, bulletin_items.c.item_id)
        ).all()
    for row in rows:
        if not row.included:
            decisions.append(Decision(row.item_id, relevant=False))
        elif row.strand:
            decisions.append(Decision(row.item_id, relevant=True, strands=(row.strand,)))
    return decisions


def set_summary(
    engine: Engine,
    bulletin_id: int,
    item_id: int,
    summary: str | None,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    """The editor's own summary of an item (empty: back to the feed's summary)."""
    text = one_line(summary or "", SUMMARY_CHARS) or None
    with _edit(
        engine,
        bulletin_id,
        actor=actor,
        action="edit_summary",
        revision=revision,
        now=now,
        item_id=item_id,
        summary=text,
    ) as (connection, _, outcome):
        _choice(connection, bulletin_id, item_id)
        _set_choice(connection, bulletin_id, item_id, summary=text)
    return outcome[0]


def reorder(
    engine: Engine,
    bulletin_id: int,
    item_ids: Sequence[int],
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    """Show these items in this order (within whichever section each is in)."""
    if len(set(item_ids)) != len(item_ids) or not item_ids:
        raise ReviewError("give each item once")
    with _edit(
        engine,
        bulletin_id,
        actor=actor,
        action="reorder",
        revision=revision,
        now=now,
        item_ids=list(item_ids),
    ) as (connection, _, outcome):
        for position, item_id in enumerate(item_ids, start=1):
            _choice(connection, bulletin_id, item_id)
            _set_choice(connection, bulletin_id, item_id, position=position)
    return outcome[0]


def section_order(engine: Engine, config: Config, bulletin_id: int, item_id: int) -> list[int]:
    """The item ids of the section that shows `item_id`, in reading order."""
    composed = load_bulletin(engine, config, bulletin_id)
    for section in (composed.pilots, *composed.strand_sections, composed.other):
        ids = [entry.item_id for entry in section.entries]
        if item_id in ids:
            return ids
    raise ReviewError(f"item {item_id} is not shown in a section of bulletin {bulletin_id}")


def move_item(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    item_id: int,
    offset: int,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    """Move an item up (-1) or down (+1) within its section."""
    ids = section_order(engine, config, bulletin_id, item_id)
    index = ids.index(item_id)
    target = index + offset
    if not 0 <= target < len(ids):
        raise ReviewError(f"item {item_id} is already {'first' if offset < 0 else 'last'}")
    ids.insert(target, ids.pop(index))
    return reorder(engine, bulletin_id, ids, actor=actor, revision=revision, now=now)


def set_headline(
    engine: Engine,
    bulletin_id: int,
    headline: str,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    text = one_line(headline, HEADLINE_CHARS)
    return _set_bulletin_text(
        engine,
        bulletin_id,
        "headline",
        text,
        "edit_headline",
        actor=actor,
        revision=revision,
        now=now,
        headline=text,
    )


def set_intro(
    engine: Engine,
    bulletin_id: int,
    intro_md: str,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    text = markdown_text(intro_md)
    return _set_bulletin_text(
        engine,
        bulletin_id,
        "intro_md",
        text,
        "edit_intro",
        actor=actor,
        revision=revision,
        now=now,
        characters=len(text),
    )


def set_preheader(
    engine: Engine,
    bulletin_id: int,
    preheader: str,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    """The preview text inboxes show after the subject ("" brings back the default)."""
    text = one_line(preheader, PREHEADER_CHARS)
    return _set_bulletin_text(
        engine,
        bulletin_id,
        "preheader",
        text,
        "edit_preheader",
        actor=actor,
        revision=revision,
        now=now,
        preheader=text,
    )


def _set_bulletin_text(
    engine: Engine,
    bulletin_id: int,
    column: str,
    text: str,
    action: str,
    *,
    actor: str,
    revision: int | None,
    now: datetime | None,
    **detail: Any,
) -> Edit:
    """One of the bulletin's own texts (headline, introduction, preview text), as an edit."""
    with _edit(
        engine, bulletin_id, actor=actor, action=action, revision=revision, now=now, **detail
    ) as (connection, row, outcome):
        _set_bulletin(connection, row.id, **{column: text})
    return outcome[0]


def _set_bulletin(connection: Connection, bulletin_id: int, **values: str) -> None:
    connection.execute(update(bulletins).where(bulletins.c.id == bulletin_id).values(**values))


def _season_bounds(config: Config, connection: Connection, bulletin_id: int) -> Any:
    row = load_row(connection, bulletin_id)
    return window(config, parse_season(config, row.season))


def uncertain_items() -> Select[Any]:
    """Items whose verdict (the editor's, else the matcher's) is uncertain, for the queues."""
    return (
        select(
            items.c.id,
            items.c.title,
            items.c.link,
            items.c.summary,
            items.c.published_at,
            items.c.date_source,
            item_matches.c.confidence,
            item_matches.c.event_type,
        )
        .join(item_matches, item_matches.c.item_id == items.c.id)
        .where(decided(MatchState.UNCERTAIN))
    )


def uncertain_in_season(
    connection: Connection, config: Config, bulletin_id: int, limit: int = 200
) -> list[Any]:
    """Items of the bulletin's season the matcher was unsure about, not yet in the bulletin."""
    start, end = _season_bounds(config, connection, bulletin_id)
    in_bulletin = select(bulletin_items.c.item_id).where(
        bulletin_items.c.bulletin_id == bulletin_id
    )
    return list(
        connection.execute(
            uncertain_items()
            .where(
                items.c.published_at >= start.astimezone(UTC),
                items.c.published_at < end.astimezone(UTC),
                items.c.id.not_in(in_bulletin),
            )
            .order_by(item_matches.c.confidence.desc(), items.c.published_at.desc())
            .limit(limit)
        )
    )


def pick_uncertain(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    item_id: int,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Edit:
    """Take an item from the uncertain queue into the bulletin (the editor says: relevant)."""
    moment = utc(now)
    with _edit(
        engine,
        bulletin_id,
        actor=actor,
        action="pick_uncertain",
        revision=revision,
        now=moment,
        item_id=item_id,
    ) as (connection, _, outcome):
        queue = {row.id for row in uncertain_in_season(connection, config, bulletin_id, 10_000)}
        if item_id not in queue:
            raise ReviewError(
                f"item {item_id} is not in this season's uncertain queue (or already in the "
                "bulletin)"
            )
        _take(connection, bulletin_id, item_id, moment)
    return outcome[0]


def _take(connection: Connection, bulletin_id: int, item_id: int, moment: datetime) -> None:
    """The editor says the item is relevant (a decision every reclassify keeps), and it joins
    the bulletin."""
    record_decision(connection, item_id, state=MatchState.RELEVANT)
    connection.execute(
        insert(bulletin_items).values(
            bulletin_id=bulletin_id,
            item_id=item_id,
            included=True,
            added_by="editor",
            added_at=moment,
        )
    )


@dataclass(frozen=True)
class Included:
    """How `include_item` put an item in: "back" (it had been left out), "queue" (from the
    season's uncertain queue) or "overruled" (the matcher had not put it in: it judged it not
    relevant, or the draft stopped being refreshed before the item arrived)."""

    edit: Edit
    how: str
    verdict: str | None = None  # the verdict the editor overruled


def include_item(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    item_id: int,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> Included:
    """Put an item into the bulletin whatever the matcher said: an excluded one back, an
    uncertain one from the queue, one the matcher rejected (the editor's verdict then stands
    through every reclassify). Refused, saying what to do instead, for an item of another
    season or one not matched yet."""
    with engine.connect() as connection:
        in_bulletin = connection.execute(
            select(bulletin_items.c.included).where(
                bulletin_items.c.bulletin_id == bulletin_id, bulletin_items.c.item_id == item_id
            )
        ).first()
    if in_bulletin is not None:
        edit = set_included(
            engine, bulletin_id, item_id, True, actor=actor, revision=revision, now=now
        )
        return Included(edit, "back")
    verdict = _verdict_in_season(engine, config, bulletin_id, item_id)
    if verdict == "uncertain":
        edit = pick_uncertain(
            engine, config, bulletin_id, item_id, actor=actor, revision=revision, now=now
        )
        return Included(edit, "queue", verdict)
    moment = utc(now)
    with _edit(
        engine,
        bulletin_id,
        actor=actor,
        action="include_item",
        revision=revision,
        now=moment,
        item_id=item_id,
        overruled=verdict,
    ) as (connection, _, outcome):
        _take(connection, bulletin_id, item_id, moment)
    return Included(outcome[0], "overruled", verdict)


def _verdict_in_season(engine: Engine, config: Config, bulletin_id: int, item_id: int) -> str:
    """The verdict on an item that may join the bulletin: one published in its season and
    matched already (else ReviewError, saying what to do)."""
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
        found = connection.execute(
            select(items.c.published_at, effective_state.label("verdict"))
            .select_from(items.outerjoin(item_matches, item_matches.c.item_id == items.c.id))
            .where(items.c.id == item_id)
        ).first()
    if found is None:
        raise ReviewError(
            f"there is no item {item_id} (`actwatch items` lists them with their ids)"
        )
    season = parse_season(config, row.season)
    published = found.published_at.astimezone(config.schedule.zone).date()
    if not season.start <= published <= season.last_day:
        other = season_containing(config, published)
        raise ReviewError(
            f"item {item_id} was published on {published:%d %B %Y}, in {other.label}, and bulletin "
            f"{bulletin_id} is {season.label} ({season.start:%d %B %Y} to "
            f"{season.last_day:%d %B %Y}): include it in the {other.slug} bulletin "
            f"(`actwatch draft {other.slug}` creates it), or add its news to this one by hand "
            f"(`actwatch add {row.season} LINK --title TITLE --date DATE`)"
        )
    if found.verdict is None:
        raise ReviewError(
            f"item {item_id} has not been matched yet: run `actwatch reclassify`, then include "
            "it again"
        )
    return str(found.verdict)


@dataclass(frozen=True)
class Picked:
    """Where `pick_for_season` put an item: its season's bulletin, drafted just now or not."""

    bulletin_id: int
    season: str
    drafted: bool


def pick_for_season(
    engine: Engine, config: Config, item_id: int, *, actor: str, now: datetime | None = None
) -> Picked:
    """Take an uncertain item into its own season's bulletin (the dashboard's queue spans every
    season). A season without a bulletin yet is drafted: the editor's verdict makes the item
    news of that season, so the new draft holds it (and whatever else the season has)."""
    moment = utc(now)
    with engine.connect() as connection:
        found = connection.execute(
            uncertain_items().where(items.c.id == item_id).with_only_columns(items.c.published_at)
        ).first()
    if found is None:
        raise ReviewError(f"item {item_id} is not in the uncertain queue")
    season = season_containing(config, found.published_at.astimezone(config.schedule.zone).date())
    existing = season_bulletin(engine, season.slug)
    if existing is not None:
        pick_uncertain(engine, config, existing.id, item_id, actor=actor, now=moment)
        return Picked(existing.id, season.slug, drafted=False)
    actor = clean_actor(actor)
    with engine.begin() as connection:
        taken = connection.execute(
            update(item_matches)
            .where(item_matches.c.item_id == item_id, effective_state == MatchState.UNCERTAIN)
            .values(editor_state=MatchState.RELEVANT)
        ).rowcount
        if taken != 1:
            raise ReviewError(f"item {item_id} left the uncertain queue a moment ago")
        record(
            connection,
            at=moment,
            actor=actor,
            action="pick_uncertain",
            bulletin_id=None,
            item_id=item_id,
            season=season.slug,
        )
    drafted = draft_bulletin(engine, config, season, moment)
    return Picked(drafted.bulletin_id, season.slug, drafted=drafted.created)


def dismiss_uncertain(
    engine: Engine, item_id: int, *, actor: str, now: datetime | None = None
) -> None:
    """The editor says an uncertain item is not about the Act: it leaves the queue for good."""
    actor = clean_actor(actor)
    moment = utc(now)
    with engine.begin() as connection:
        result = connection.execute(
            update(item_matches)
            .where(item_matches.c.item_id == item_id, effective_state == MatchState.UNCERTAIN)
            .values(editor_state=MatchState.REJECTED)
        )
        if result.rowcount != 1:
            raise ReviewError(f"item {item_id} is not in the uncertain queue")
        record(
            connection,
            at=moment,
            actor=actor,
            action="dismiss_uncertain",
            bulletin_id=None,
            item_id=item_id,
        )


@dataclass(frozen=True)
class ManualItem:
    link: str
    title: str
    summary: str = ""
    strand: str | None = None
    event_type: str = "other"
    published_on: date | None = None


def add_manual_item(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    manual: ManualItem,
    *,
    actor: str,
    revision: int | None = None,
    now: datetime | None = None,
) -> tuple[Edit, int]:
    """Add news that came by other means (a link and text); returns the edit and the item id."""
    moment = utc(now)
    typed = (manual.link or "").strip()
    parts = urlsplit(typed)
    unsafe = any(char in typed for char in ' <>"')
    if parts.scheme not in ("http", "https") or not parts.hostname or unsafe:
        raise ReviewError("the link must be a full http(s) address")
    # The one canonical identity feed items use (core/links), so a feed carrying the story
    # later joins this item as another source instead of becoming a second item.
    link = canonical_link(typed)
    if link is None:
        raise ReviewError("the link must be a full http(s) address")
    title = one_line(manual.title, TITLE_CHARS)
    if not title:
        raise ReviewError("give the item a title")
    summary = one_line(manual.summary, SUMMARY_CHARS)
    if manual.strand and manual.strand not in config.strands:
        raise ReviewError(f"unknown strand {manual.strand!r}")
    if manual.event_type not in config.event_types:
        raise ReviewError(f"unknown announcement type {manual.event_type!r}")
    zone = config.schedule.zone
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
    season = parse_season(config, row.season)
    day = manual.published_on or min(moment.astimezone(zone).date(), season.last_day)
    if not season.start <= day <= season.last_day:
        raise ReviewError(
            f"the date must fall in {season.label} ({season.start} to {season.last_day})"
        )
    published = datetime.combine(day, time(12), tzinfo=zone).astimezone(UTC)
    with _edit(
        engine,
        bulletin_id,
        actor=actor,
        action="add_manual_item",
        revision=revision,
        now=moment,
        link=link,
        title=title,
    ) as (connection, _, outcome):
        existing = connection.execute(
            select(items.c.id).where(items.c.canonical_link == link)
        ).scalar()
        if existing is not None:
            raise ReviewError(
                f"that link is already item {existing}: include it or pick it from the queue"
            )
        try:
            with connection.begin_nested():
                item_id = connection.execute(
                    insert(items)
                    .values(
                        canonical_link=link,
                        link=published_link(typed) or link,  # what readers get: as typed
                        title=title,
                        summary=summary,
                        published_at=published,
                        first_seen_at=moment,
                        content_hash=_hash(link, title, summary),
                        source_meta={"added_by": clean_actor(actor)},
                        manual=True,
                    )
                    .returning(items.c.id)
                ).scalar_one()
        except IntegrityError:
            raise ReviewError("that link was added a moment ago by someone else") from None
        # The editor's type and strand are decisions: every poll and reclassify keeps them, and
        # `actwatch learn` learns from them. The matcher's own verdict is filled in beside them
        # at the next pass (rules_hash "manual" matches no matcher).
        connection.execute(
            insert(item_matches).values(
                item_id=item_id,
                state=MatchState.RELEVANT,
                relevant=True,
                event_type=manual.event_type,
                confidence=1.0,
                evidence=[{"manual": clean_actor(actor)}],
                rules_hash="manual",
                classified_at=moment,
            )
        )
        record_decision(
            connection,
            item_id,
            state=MatchState.RELEVANT,
            event_type=manual.event_type,
            strands=[manual.strand] if manual.strand else None,
        )
        connection.execute(
            insert(bulletin_items).values(
                bulletin_id=bulletin_id,
                item_id=item_id,
                included=True,
                added_by="editor",
                added_at=moment,
            )
        )
    return outcome[0], item_id


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
