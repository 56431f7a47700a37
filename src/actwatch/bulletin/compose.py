"""Compose a season's bulletin from stored announcements and the editor's choices (no I/O).

Everything a bulletin says about the state of the Act is as of its issue date: "Coming up" lists
the dates after it, the tracker shows each strand on that day, and what was published up to the
end of that day is known (an instrument made later is not "coming up" yet).

Where each announcement goes, so that none is shown twice:
- a commencement instrument's provisions go to "What came into force" (dates from the season's
  start up to the issue date, of instruments made by the season's end) or "Coming up" (dates
  after the issue date);
- only an instrument or an official notice (an announcement from `bulletin.official_hosts`)
  makes a "came into force" row: an official notice of a commencement with no instrument behind
  it is listed under its own date. News of a commencement is listed beside the row it reports
  (`Commencement.coverage`: the nearest date within COVERAGE_DAYS, on a strand they share);
  press news of a commencement no row matches is ordinary news in its strand's section;
- pilots and early adopters go to "Pilots and early adopters";
- everything else goes to the section of its home strand (or the editor's chosen strand), and
  news about the Act that belongs to no strand to "Other news about the Act". The home strand of
  an item on several strands is the most specific one: a strand tied to provisions of the Act
  (corporate parenting, care leavers) before a strand that is a policy programme with no
  provisions of its own (mixed economy, sector-led improvement); then the config's order. So
  the Care Leaver Covenant, news for care leavers and for the mixed economy alike, is filed
  under care leavers.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from actwatch.bulletin.model import (
    Act,
    Bulletin,
    Commencement,
    CommencementList,
    EditorChoice,
    Entry,
    Section,
    StoredCommencement,
    StoredItem,
    StrandActivity,
    TrackerRow,
)
from actwatch.bulletin.seasons import (
    Season,
    bulletin_subject,
    bulletin_title,
    local_midnight,
    subject_frame,
    window,
)
from actwatch.config import Config
from actwatch.core import provisions
from actwatch.core.provisions import Provision, ProvisionMap

OTHER_SLUG = "other-news"
# News of a commencement is matched to a row dated at most this far from its publication.
COVERAGE_DAYS = 31
_GroupKey = tuple[date | None, int, str]  # in force on, instrument, purpose
# Short enough for a phone screen, long enough for the gist of a GOV.UK summary.
SUMMARY_CHARS = 320
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]?\s+(?=[\"'“‘(]?[A-Z0-9£])")
_ABBREVIATION_END = re.compile(
    r"\b(?:No|Nos|s|ss|Sch|para|paras|reg|regs|art|Pt|c|e\.g|i\.e|Mr|Mrs|Ms|Dr|St|cf)\.$",
    re.IGNORECASE,
)
_LIMITED_PURPOSE = re.compile(r"purpose|partly|partial|so far as|regulations", re.IGNORECASE)
# "so far as not already in force" finishes a commencement rather than limiting it.
_FULL_PURPOSE = re.compile(r"not already in force|all (?:remaining )?purposes", re.IGNORECASE)
_WORDPRESS_FOOTER = re.compile(r"\s*The post .{1,400}? appeared first on .{1,120}?\.?$")
_ELLIPSIS_END = re.compile(r"\s*\[(?:…|\.\.\.|&hellip;)\]$")


def summarise(text: str, sentences: int = 2, limit: int = SUMMARY_CHARS) -> str:
    """The first one or two sentences of a plain-text summary, cut at a word if still long."""
    text = " ".join(text.split())
    # WordPress excerpts end "[…] The post TITLE appeared first on SITE."
    text = _WORDPRESS_FOOTER.sub("", text)
    text = _ELLIPSIS_END.sub("…", text).replace(".…", ".").replace("?…", "?").replace("!…", "!")
    if not text:
        return ""
    parts: list[str] = []
    for part in _SENTENCE_END.split(text):
        # "No. 2", "s. 16", "Sch. 3": an abbreviation does not end a sentence.
        if parts and _ABBREVIATION_END.search(parts[-1]):
            parts[-1] = f"{parts[-1]} {part}"
        else:
            parts.append(part)
    summary = parts[0]
    for part in parts[1:sentences]:
        if len(summary) + 1 + len(part) > limit:
            break
        summary = f"{summary} {part}"
    if len(summary) > limit:
        cut = summary[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-–— ")
        summary = f"{cut}…"
    return summary


@dataclass(frozen=True)
class _Placed:
    item: StoredItem
    choice: EditorChoice | None
    order: int
    as_news: bool = False  # news of a commencement filed as news: its label says so


def strand_activity(items: Iterable[StoredItem], until: datetime) -> dict[str, StrandActivity]:
    """The tracker's view of stored items (what `store` computes in SQL for large databases)."""
    latest: dict[str, datetime] = {}
    pilots: dict[str, int] = defaultdict(int)
    for item in items:
        if item.published_at >= until:
            continue
        for strand in item.strands:
            if strand not in latest or item.published_at > latest[strand]:
                latest[strand] = item.published_at
            if item.event_type == "pilot":
                pilots[strand] += 1
    return {
        strand: StrandActivity(latest_news=latest[strand], pilots=pilots[strand])
        for strand in latest
    }


class _Composer:
    def __init__(self, config: Config, season: Season) -> None:
        self.config = config
        self.season = season
        self.zone = config.schedule.zone
        self.start, self.end = window(config, season)
        self.strand_order = {slug: index for index, slug in enumerate(config.strands)}
        self.owners = ProvisionMap(
            {slug: strand.sections for slug, strand in config.strands.items()},
            config.matching.outside_strands,
        )
        self.strand_sections = {slug: self.owners.claimed(slug) for slug in config.strands}
        self.official_hosts = tuple(
            host.lower().strip(".") for host in config.bulletin.official_hosts
        )

    def strand_name(self, slug: str) -> str:
        strand = self.config.strands.get(slug)
        return strand.name if strand else slug

    def known_strands(self, slugs: Iterable[str]) -> list[str]:
        return sorted(
            {s for s in slugs if s in self.strand_order}, key=lambda slug: self.strand_order[slug]
        )

    def home_first(self, slugs: Iterable[str]) -> list[str]:
        """The item's strands, the most specific first: those with provisions of the Act before
        policy programmes with none, then in the config's order."""
        return sorted(self.known_strands(slugs), key=self._specificity)

    def _specificity(self, slug: str) -> tuple[int, int]:
        return (0 if self.strand_sections.get(slug) else 1, self.strand_order[slug])

    def is_official(self, item: StoredItem) -> bool:
        host = (urlsplit(item.link).hostname or "").lower().rstrip(".")
        return any(
            host == official or host.endswith("." + official) for official in self.official_hosts
        )

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def entry(
        self, item: StoredItem, choice: EditorChoice | None = None, *, as_news: bool = False
    ) -> Entry:
        strands = self.home_first(item.strands)
        if choice and choice.strand in self.strand_order:
            strands = [choice.strand, *(s for s in strands if s != choice.strand)]
        # The section already says an item is a pilot or a commencement; "other" says nothing.
        # News of a commencement filed in a strand's section (`as_news`) says what it is.
        hidden = ("other", "pilot") if as_news else ("other", "pilot", "commencement")
        shown_type = item.event_type is not None and item.event_type not in hidden
        event = self.config.event_types.get(item.event_type or "") if shown_type else None
        summary = choice.summary if choice and choice.summary else summarise(item.summary)
        return Entry(
            item_id=item.id,
            title=" ".join(item.title.split()),
            link=item.link,
            source=item.source,
            published_on=self.local_date(item.published_at),
            summary=" ".join(summary.split()),
            event_type=item.event_type,
            event_label=event.name if event else None,
            strands=tuple(self.strand_name(s) for s in strands),
            type_hint=item.type_hint,
        )

    def strands_of_provisions(self, rows: Iterable[StoredCommencement]) -> list[str]:
        slugs = set()
        for row in rows:
            if row.strand:
                slugs.add(row.strand)
            slugs.update(self.owners.strands_of(_provisions(row)))
        return self.known_strands(slugs)

    def strand_labels(self, rows: Sequence[StoredCommencement]) -> tuple[str, ...]:
        """'Corporate parenting (section 1)' where a strand has only some of the provisions."""
        everything = {provision for row in rows for provision in _provisions(row)}
        labels = []
        for slug in self.strands_of_provisions(rows):
            own = {
                provision
                for row in rows
                for provision in _provisions(row)
                if row.strand == slug or provision in self.strand_sections[slug]
            }
            name = self.strand_name(slug)
            partial = own and own != everything
            labels.append(f"{name} ({provisions.describe(own)})" if partial else name)
        return tuple(labels)

    def commencement_list(
        self,
        slug: str,
        title: str,
        groups: Mapping[_GroupKey, Sequence[StoredCommencement]],
        instruments: Mapping[int, Entry],
        extra: Sequence[Commencement] = (),
        coverage: Mapping[_GroupKey, Sequence[Entry]] | None = None,
    ) -> CommencementList:
        coverage = coverage or {}
        entries = [
            Commencement(
                in_force_on=day,
                provisions=provisions.describe(p for r in group for p in _provisions(r)),
                strands=self.strand_labels(group),
                purpose=purpose or None,
                instrument=instruments.get(item_id),
                coverage=tuple(coverage.get((day, item_id, purpose), ())),
            )
            for (day, item_id, purpose), group in groups.items()
        ]
        entries.extend(extra)
        entries.sort(key=lambda c: (c.in_force_on or date.max, c.provisions))
        return CommencementList(slug, title, tuple(entries), len(entries))

    def reported_row(
        self, item: StoredItem, groups: Mapping[_GroupKey, Sequence[StoredCommencement]]
    ) -> _GroupKey | None:
        """The commencement row that news of a commencement reports, if any: one on a strand
        the news is about (or, for news on no strand, one on no strand), dated nearest to the
        news (within COVERAGE_DAYS; an earlier date wins a tie)."""
        published = self.local_date(item.published_at)
        about = set(self.known_strands(item.strands))
        best: tuple[int, int] | None = None
        found: _GroupKey | None = None
        for key, rows in groups.items():
            day = key[0]
            if day is None:
                continue
            gap = abs((day - published).days)
            if gap > COVERAGE_DAYS:
                continue
            row_strands = set(self.strands_of_provisions(rows))
            if not (about & row_strands if about else not row_strands):
                continue
            rank = (gap, 0 if day <= published else 1)
            if best is None or rank < best:
                best, found = rank, key
        return found

    def section(self, slug: str, title: str, description: str, placed: list[_Placed]) -> Section:
        placed.sort(key=_reading_order)
        entries = tuple(self.entry(p.item, p.choice, as_news=p.as_news) for p in placed)
        return Section(slug, title, description, entries, len(placed))

    def tracker(
        self,
        commencements: Sequence[StoredCommencement],
        activity: Mapping[str, StrandActivity],
        as_of: date,
    ) -> tuple[TrackerRow, ...]:
        # strand -> provisions fully in force
        in_force: dict[str, set[Provision]] = defaultdict(set)
        touched: set[str] = set()  # strands with any provision in force
        upcoming: dict[str, date] = {}
        for row in commencements:
            if row.in_force_on is None:
                continue
            for slug in self.strands_of_provisions([row]):
                if row.in_force_on <= as_of:
                    touched.add(slug)
                    if not _is_limited(row.purpose):
                        in_force[slug] |= _provisions(row)
                elif slug not in upcoming or row.in_force_on < upcoming[slug]:
                    upcoming[slug] = row.in_force_on
        rows = []
        for slug, strand in self.config.strands.items():
            facts = activity.get(slug, StrandActivity())
            own = self.strand_sections[slug]
            if own and slug in touched and own <= in_force[slug]:
                status = "in-force"
            elif slug in touched:
                status = "partly-in-force"
            elif facts.pilots:
                status = "piloting"
            elif own:
                status = "awaiting-commencement"
            else:
                status = "policy-programme"
            latest = facts.latest_news
            rows.append(
                TrackerRow(
                    slug=slug,
                    name=strand.name,
                    status=status,
                    latest_news=self.local_date(latest) if latest else None,
                    next_date=upcoming.get(slug),
                )
            )
        return tuple(rows)


def _group(rows: Iterable[StoredCommencement]) -> dict[_GroupKey, list[StoredCommencement]]:
    """One row per day, instrument and purpose: "for the purpose of making regulations" must
    not be read as applying to provisions commenced for all purposes."""
    groups: dict[_GroupKey, list[StoredCommencement]] = defaultdict(list)
    for row in rows:
        groups[(row.in_force_on, row.item_id, _purpose(row))].append(row)
    return groups


def _provisions(row: StoredCommencement) -> set[Provision]:
    """The provisions a stored commencement names (stored as labels: s.8, Part 2, Sch 3)."""
    try:
        return set(provisions.parse(row.section))
    except provisions.BadReference:
        return set()


def _is_limited(purpose: str | None) -> bool:
    """Whether a provision is in force only for some purposes (such as making regulations)."""
    if not purpose or _FULL_PURPOSE.search(purpose):
        return False
    return bool(_LIMITED_PURPOSE.search(purpose))


def _purpose(row: StoredCommencement) -> str:
    purpose = " ".join((row.purpose or "").split()).rstrip(".;, ")
    return "" if purpose.lower() in ("", "for all purposes", "all purposes") else purpose


def _reading_order(placed: _Placed) -> tuple[int, int, float, int]:
    # The editor's positions first, in their order; then newest first.
    position = placed.choice.position if placed.choice else None
    return (
        0 if position is not None else 1,
        position or 0,
        -placed.item.published_at.timestamp(),
        placed.order,
    )


def compose(
    config: Config,
    season: Season,
    *,
    items: Sequence[StoredItem],
    commencements: Sequence[StoredCommencement] = (),
    activity: Mapping[str, StrandActivity] | None = None,
    choices: Mapping[int, EditorChoice] | None = None,
    headline: str = "",
    intro_md: str = "",
    preheader: str = "",
    issued_on: date,
    bulletin_id: int | None = None,
    state: str = "draft",
    revision: int = 1,
) -> Bulletin:
    """Build the bulletin of `season`, issued on `issued_on`.

    `items`: the relevant announcements published in the season, plus the instruments behind
    `commencements` (any date). `commencements`: stored commencements of relevant instruments;
    those of instruments published after the issue date are ignored.
    `activity`: per strand, the latest news and pilots up to the issue date (computed from
    `items` when not given). `choices`: the editor's rows; when given, only items with a row
    that is included appear. Every section lists all its entries: the email's cap per section
    (`bulletin.section_cap`) is applied when it is rendered, so one composition serves the
    email, its plain text and the archive post alike.
    """
    composer = _Composer(config, season)
    # What was known on the issue date (to its last moment, and never less than the season).
    cutoff = max(composer.end, local_midnight(issued_on + timedelta(days=1), composer.zone))
    known = {item.id: item for item in items if item.published_at < cutoff}
    commencements = [row for row in commencements if row.item_id in known]
    in_season = [item for item in items if composer.start <= item.published_at < composer.end]
    if choices is not None:
        in_season = [item for item in in_season if item.id in choices and choices[item.id].included]
    shown_ids = {item.id for item in in_season}
    if activity is None:
        activity = strand_activity(items, cutoff)

    rows_by_item: dict[int, list[StoredCommencement]] = defaultdict(list)
    for row in commencements:
        rows_by_item[row.item_id].append(row)

    commenced_rows: list[StoredCommencement] = []
    coming_rows: list[StoredCommencement] = []
    for row in commencements:
        if row.in_force_on is None:
            continue
        if row.in_force_on > issued_on:
            coming_rows.append(row)
        elif row.in_force_on >= season.start:
            published = known[row.item_id].published_at
            if published >= composer.end:
                continue  # made after the season: news for the next bulletin, not this one
            # An instrument made in an earlier season (in its "Coming up" then) counts too; one
            # made in this season only if the editor kept it.
            if row.item_id in shown_ids or published < composer.start:
                commenced_rows.append(row)
    commenced_groups = _group(commenced_rows)
    coming_groups = _group(coming_rows)

    placed_ids = {row.item_id for row in (*commenced_rows, *coming_rows)}
    pilots: list[_Placed] = []
    by_strand: dict[str, list[_Placed]] = defaultdict(list)
    other: list[_Placed] = []
    news_of_commencement: list[Commencement] = []
    coverage: dict[_GroupKey, list[Entry]] = defaultdict(list)
    instruments: dict[int, Entry] = {}
    for order, item in enumerate(in_season):
        choice = choices.get(item.id) if choices else None
        placed = _Placed(item, choice, order)
        if item.id in placed_ids:
            instruments[item.id] = composer.entry(item, choice)
            continue
        if item.event_type == "commencement" and item.id not in rows_by_item:
            # News of a commencement: beside the row it reports, if there is one.
            reported = composer.reported_row(item, {**commenced_groups, **coming_groups})
            if reported is not None:
                coverage[reported].append(composer.entry(item, choice))
                continue
        if item.id in rows_by_item or (
            item.event_type == "commencement" and composer.is_official(item)
        ):
            entry = composer.entry(item, choice)
            news_of_commencement.append(
                Commencement(
                    in_force_on=entry.published_on,
                    provisions="",
                    strands=entry.strands,
                    purpose=None,
                    instrument=entry,
                )
            )
            continue
        if item.event_type == "pilot":
            pilots.append(placed)
            continue
        strand = choice.strand if choice and choice.strand in composer.strand_order else None
        strands = composer.home_first(item.strands)
        strand = strand or (strands[0] if strands else None)
        if item.event_type == "commencement":
            placed = _Placed(item, choice, order, as_news=True)
        (by_strand[strand] if strand else other).append(placed)
    for reports in coverage.values():
        reports.sort(key=lambda entry: (entry.published_on, entry.item_id))

    # An instrument made in an earlier season still links its dates.
    for row in (*commenced_rows, *coming_rows):
        if row.item_id not in instruments:
            instruments[row.item_id] = composer.entry(known[row.item_id])
    commenced = composer.commencement_list(
        "in-force",
        "What came into force",
        commenced_groups,
        instruments,
        news_of_commencement,
        coverage,
    )
    coming_up = composer.commencement_list(
        "coming-up", "Coming up", coming_groups, instruments, coverage=coverage
    )
    strand_sections = tuple(
        composer.section(slug, strand.name, strand.description, by_strand[slug])
        for slug, strand in config.strands.items()
        if by_strand.get(slug)
    )
    pilot_section = composer.section(
        "pilots",
        "Pilots and early adopters",
        "Where the Act's changes are being tried out first.",
        pilots,
    )
    other_section = composer.section(
        OTHER_SLUG,
        "Other news about the Act",
        "Provisions outside the strands above, such as permanence and adoption.",
        other,
    )
    act = config.act
    return Bulletin(
        season=season,
        title=bulletin_title(config, season, headline),
        headline=" ".join(headline.split()),
        intro_md=intro_md,
        act=Act(
            name=act.name,
            short_name=act.short_name,
            citation=act.citation,
            url=f"https://www.legislation.gov.uk/{act.legislation_id}/contents",
        ),
        editor_name=config.bulletin.editor.name,
        issued_on=issued_on,
        commenced=commenced,
        pilots=pilot_section,
        strand_sections=strand_sections,
        other=other_section,
        tracker=composer.tracker(commencements, activity, issued_on),
        coming_up=coming_up,
        caveat=config.bulletin.caveat,
        item_count=len(in_season),
        bulletin_id=bulletin_id,
        state=state,
        revision=revision,
        strand_names={slug: strand.name for slug, strand in config.strands.items()},
        subject=bulletin_subject(config, season, headline),
        season_title=bulletin_title(config, season),
        subject_frame=subject_frame(config, season),
        strand_terms={
            slug: tuple(dict.fromkeys([strand.name, *strand.cues, *strand.programmes]))
            for slug, strand in config.strands.items()
        },
        preheader=" ".join(preheader.split()),
    )
