"""Everything an editor looks at to review a bulletin: its sections item by item, what was left
out, the season's uncertain queue, failing feeds and warnings. Used by `actwatch review` and the
web editor alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select

from actwatch.bulletin import (
    HTML_BUDGET,
    Bulletin,
    RenderError,
    list_bulletins,
    load_bulletin,
    parse_season,
)
from actwatch.bulletin.model import Entry
from actwatch.bulletin.render import section_cap
from actwatch.bulletin.seasons import bulletin_title, season_containing
from actwatch.bulletin.store import BulletinSummary, seasons_with_news
from actwatch.config import Config
from actwatch.core.clock import utc
from actwatch.core.states import DateSource
from actwatch.core.text import one_line
from actwatch.core.words import count
from actwatch.db.schema import bulletin_items, items
from actwatch.feeds.store import failing_feeds
from actwatch.review.editing import uncertain_in_season
from actwatch.review.freeze import Rendered, render_for_approval
from actwatch.review.records import load_row
from actwatch.review.states import EDITABLE, LOCKED, STATE_LABELS, actions_from


@dataclass(frozen=True)
class ItemView:
    item_id: int
    title: str
    link: str
    source: str
    published_on: date | None
    summary: str  # as the bulletin shows it
    own_summary: str | None  # the editor's, if any
    strand: str | None  # the editor's choice of strand, if any
    strand_names: tuple[str, ...]
    event_label: str | None
    added_by: str
    manual: bool
    can_move: bool = True  # commencements and coming-up dates are placed by their dates
    undated: bool = False  # the feed gave no usable date: published_on is when it was first seen


@dataclass(frozen=True)
class SectionView:
    slug: str
    title: str
    items: tuple[ItemView, ...]
    in_email: int  # how many the email shows; the rest are on the web archive only


@dataclass(frozen=True)
class QueueItem:
    item_id: int
    title: str
    link: str
    summary: str
    published_on: date
    confidence: float
    event_type: str | None
    season: str = ""  # the slug of the season it was published in
    undated: bool = False  # the feed gave no usable date: published_on is when it was first seen


@dataclass(frozen=True)
class FeedProblem:
    name: str
    status: str
    error: str
    failures: int
    last_ok_at: datetime | None


@dataclass(frozen=True)
class ReviewView:
    id: int
    season: str
    season_label: str
    title: str
    headline: str
    intro_md: str
    state: str
    revision: int
    approved_by: str | None
    approved_at: datetime | None
    approved_revision: int | None
    content_hash: str | None
    scheduled_for: datetime | None
    sent_at: datetime | None
    updated_at: datetime
    editor_notified_at: datetime | None
    sections: tuple[SectionView, ...]
    excluded: tuple[ItemView, ...]
    uncertain: tuple[QueueItem, ...]
    feed_problems: tuple[FeedProblem, ...]
    warnings: tuple[str, ...]
    item_count: int
    html_bytes: int | None = None
    strands: dict[str, str] = field(default_factory=dict)
    subject: str = ""  # the email's subject line
    preheader: str = ""  # the editor's preview text ("" for the default)
    preview_text: str = ""  # what inboxes show after the subject: the preheader or the default

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def actions(self) -> list[str]:
        return actions_from(self.state)

    @property
    def approved(self) -> bool:
        return self.content_hash is not None


def feed_problems(engine: Engine) -> tuple[FeedProblem, ...]:
    """Feeds failing now: the news they carry may be missing from the bulletin."""
    return tuple(
        FeedProblem(feed.name, feed.status, feed.error or "", feed.failures, feed.last_ok_at)
        for feed in failing_feeds(engine)
    )


def _item_view(entry: Entry, choice: Any, *, can_move: bool = True) -> ItemView:
    return ItemView(
        item_id=entry.item_id,
        title=entry.title,
        link=entry.link,
        source=entry.source,
        published_on=entry.published_on,
        summary=entry.summary,
        own_summary=choice.summary if choice is not None else None,
        strand=choice.strand if choice is not None else None,
        strand_names=entry.strands,
        event_label=entry.event_label,
        added_by=choice.added_by if choice is not None else "matcher",
        manual=bool(choice.manual) if choice is not None else False,
        can_move=can_move,
        undated=choice is not None and choice.date_source == DateSource.FIRST_SEEN,
    )


def _sections(full: Bulletin, choices: dict[int, Any], cap: int | None) -> list[SectionView]:
    sections: list[SectionView] = []
    seen: set[int] = set()

    def instruments(listing: Any) -> list[ItemView]:
        views = []
        for commencement in listing.entries:
            entry = commencement.instrument
            if entry is None or entry.item_id in seen or entry.item_id not in choices:
                continue
            seen.add(entry.item_id)
            views.append(_item_view(entry, choices[entry.item_id], can_move=False))
        return views

    commenced = instruments(full.commenced)
    if commenced:
        sections.append(SectionView("in-force", full.commenced.title, tuple(commenced), 0))
    for section in (full.pilots, *full.strand_sections, full.other):
        views = []
        for entry in section.entries:
            seen.add(entry.item_id)
            views.append(_item_view(entry, choices.get(entry.item_id)))
        if views:
            shown = len(section.entries) if cap is None else min(cap, len(section.entries))
            sections.append(SectionView(section.slug, section.title, tuple(views), shown))
    coming = instruments(full.coming_up)
    if coming:
        sections.append(SectionView("coming-up", "Coming up", tuple(coming), 0))
    return sections


def build_review(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    *,
    composed: Bulletin | None = None,
    rendered: Rendered | None = None,
    render_error: str | None = None,
    now: datetime | None = None,
) -> ReviewView:
    """What the editor reviews. `composed`: the bulletin already composed for this request
    (else it is composed here, once)."""
    now = utc(now)
    full = composed if composed is not None else load_bulletin(engine, config, bulletin_id)
    with engine.connect() as connection:
        row = load_row(connection, bulletin_id)
        choice_rows = connection.execute(
            select(
                bulletin_items,
                items.c.title,
                items.c.link,
                items.c.summary.label("feed_summary"),
                items.c.published_at,
                items.c.date_source,
                items.c.manual,
            )
            .join(items, items.c.id == bulletin_items.c.item_id)
            .where(bulletin_items.c.bulletin_id == bulletin_id)
            .order_by(items.c.published_at.desc())
        ).all()
        uncertain = uncertain_in_season(connection, config, bulletin_id)
    problems = feed_problems(engine)
    zone = config.schedule.zone
    choices = {choice.item_id: choice for choice in choice_rows if choice.included}
    sections = _sections(full, choices, section_cap(config))
    excluded = tuple(
        ItemView(
            item_id=choice.item_id,
            title=one_line(choice.title),
            link=choice.link,
            source="",
            published_on=choice.published_at.astimezone(zone).date(),
            summary=choice.summary or choice.feed_summary or "",
            own_summary=choice.summary,
            strand=choice.strand,
            strand_names=(),
            event_label=None,
            added_by=choice.added_by,
            manual=bool(choice.manual),
            undated=choice.date_source == DateSource.FIRST_SEEN,
        )
        for choice in choice_rows
        if not choice.included
    )
    season = parse_season(config, row.season)
    warnings = _warnings(
        config, row, full, sections, uncertain, problems, rendered, render_error, now
    )
    return ReviewView(
        id=row.id,
        season=row.season,
        season_label=season.label,
        title=bulletin_title(config, season, row.headline),
        headline=row.headline,
        intro_md=row.intro_md,
        state=row.state,
        revision=row.revision,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
        approved_revision=row.approved_revision,
        content_hash=row.content_hash,
        scheduled_for=row.scheduled_for,
        sent_at=row.sent_at,
        updated_at=row.updated_at,
        editor_notified_at=row.editor_notified_at,
        sections=tuple(sections),
        excluded=excluded,
        uncertain=tuple(
            QueueItem(
                item_id=item.id,
                title=one_line(item.title),
                link=item.link,
                summary=item.summary or "",
                published_on=item.published_at.astimezone(zone).date(),
                confidence=item.confidence,
                event_type=item.event_type,
                undated=item.date_source == DateSource.FIRST_SEEN,
            )
            for item in uncertain
        ),
        feed_problems=problems,
        warnings=tuple(warnings),
        item_count=full.item_count,
        html_bytes=len(rendered.html.encode("utf-8")) if rendered else None,
        strands={slug: strand.name for slug, strand in config.strands.items()},
        subject=full.subject or full.title,
        preheader=row.preheader,
        preview_text=full.preview_text,
    )


def review_with_preview(
    engine: Engine, config: Config, bulletin_id: int, *, now: datetime | None = None
) -> tuple[ReviewView, Rendered | None]:
    """The review and the copy approving it now would freeze, from one composition of the
    bulletin (the editor's page and `actwatch review`). A bulletin that cannot be rendered
    still has its review, with the reason among its warnings."""
    composed = load_bulletin(engine, config, bulletin_id)
    rendered, error = None, None
    try:
        rendered = render_for_approval(engine, config, bulletin_id, composed=composed)
    except RenderError as exc:
        error = str(exc)
    view = build_review(
        engine,
        config,
        bulletin_id,
        composed=composed,
        rendered=rendered,
        render_error=error,
        now=now,
    )
    return view, rendered


def _warnings(
    config: Config,
    row: Any,
    full: Bulletin,
    sections: list[SectionView],
    uncertain: list[Any],
    problems: tuple[FeedProblem, ...],
    rendered: Rendered | None,
    render_error: str | None,
    now: datetime,
) -> list[str]:
    warnings: list[str] = []
    if row.state in LOCKED:
        return warnings  # sent (or being sent): nothing left to check
    if render_error:
        warnings.append(f"The bulletin cannot be rendered: {render_error}")
    if full.is_empty:
        warnings.append("The bulletin has no announcements.")
    season = parse_season(config, row.season)
    if now.astimezone(config.schedule.zone).date() <= season.last_day:
        warnings.append(
            f"{season.label} is not over until {season.last_day:%d %B %Y}: later news will be "
            "missing."
        )
    if not row.headline.strip():
        warnings.append("No headline yet: the subject line is the season's title alone.")
    if not row.intro_md.strip():
        warnings.append("No introduction yet.")
    no_summary = sum(1 for s in sections for item in s.items if not item.summary)
    if no_summary:
        warnings.append(f"{count(no_summary, 'item')} have no summary.")
    for section in sections:
        hidden = len(section.items) - section.in_email
        if section.in_email and hidden > 0:
            warnings.append(
                f"{section.title}: {hidden} of {len(section.items)} items appear only on the web "
                f"archive (the email shows {config.bulletin.section_cap} per section)."
            )
    if uncertain:
        waits = "waits" if len(uncertain) == 1 else "wait"
        warnings.append(
            f"{count(len(uncertain), 'uncertain item')} from this season {waits} for a decision."
        )
    if problems:
        names = ", ".join(problem.name for problem in problems)
        warnings.append(f"{count(len(problems), 'feed')} failing, news may be missing: {names}.")
    if rendered is not None:
        size = len(rendered.html.encode("utf-8"))
        if size > HTML_BUDGET * 0.8:
            warnings.append(
                f"The HTML email is {size:,} bytes, close to the {HTML_BUDGET:,} byte budget."
            )
    return warnings


def audit_trail(engine: Engine, bulletin_id: int | None = None, limit: int = 500) -> list[Any]:
    from actwatch.db.schema import audit_log

    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if bulletin_id is not None:
        query = query.where(audit_log.c.bulletin_id == bulletin_id)
    with engine.connect() as connection:
        return list(connection.execute(query))


def uncertain_everywhere(engine: Engine, config: Config, limit: int = 50) -> list[QueueItem]:
    """The newest uncertain items across all seasons (the dashboard's queue)."""
    from actwatch.review.editing import uncertain_items

    zone = config.schedule.zone
    with engine.connect() as connection:
        rows = connection.execute(
            uncertain_items().order_by(items.c.published_at.desc()).limit(limit)
        ).all()
    found = []
    for row in rows:
        day = row.published_at.astimezone(zone).date()
        found.append(
            QueueItem(
                item_id=row.id,
                title=one_line(row.title),
                link=row.link,
                summary=row.summary or "",
                published_on=day,
                confidence=row.confidence,
                event_type=row.event_type,
                undated=row.date_source == DateSource.FIRST_SEEN,
                season=season_containing(config, day).slug,
            )
        )
    return found


@dataclass(frozen=True)
class SeasonQueue:
    """A season's uncertain items on the dashboard, with the season's bulletin if it has one."""

    season: str
    label: str
    bulletin: BulletinSummary | None
    items: tuple[QueueItem, ...]

    @property
    def can_pick(self) -> bool:
        """Items can join the bulletin: it is still being edited, or there is none yet."""
        return self.bulletin is None or self.bulletin.state in EDITABLE


@dataclass(frozen=True)
class SeasonToDraft:
    season: str
    label: str
    items: int  # relevant announcements


@dataclass(frozen=True)
class Dashboard:
    bulletins: tuple[BulletinSummary, ...]  # the newest season first
    to_draft: tuple[SeasonToDraft, ...]  # seasons with news and no bulletin yet
    uncertain: tuple[SeasonQueue, ...]  # the newest season first
    feed_problems: tuple[FeedProblem, ...]


def dashboard(engine: Engine, config: Config, *, now: datetime | None = None) -> Dashboard:
    """The editor's front page: every bulletin by season, the seasons with news but no draft
    (begun ones only), the uncertain queue season by season, failing feeds."""
    today = utc(now).astimezone(config.schedule.zone).date()
    summaries = list(reversed(list_bulletins(engine, config)))
    by_season = {summary.season: summary for summary in summaries}
    to_draft = tuple(
        SeasonToDraft(season.slug, season.label, count)
        for season, count in reversed(seasons_with_news(engine, config))
        if season.slug not in by_season and season.start <= today
    )
    queues: dict[str, list[QueueItem]] = {}
    for entry in uncertain_everywhere(engine, config):
        queues.setdefault(entry.season, []).append(entry)
    uncertain = tuple(
        SeasonQueue(
            slug,
            parse_season(config, slug).label,
            by_season.get(slug),
            tuple(entries),
        )
        for slug, entries in sorted(
            queues.items(), key=lambda pair: parse_season(config, pair[0]).start, reverse=True
        )
    )
    return Dashboard(tuple(summaries), to_draft, uncertain, feed_problems(engine))
