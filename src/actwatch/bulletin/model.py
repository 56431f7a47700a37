"""What a bulletin is made of: plain frozen dataclasses, built by `compose` and read by templates.

The inputs (`StoredItem`, `StoredCommencement`, `EditorChoice`, `StrandActivity`) are what the
database holds, already loaded; the outputs (`Bulletin` and its parts) are what the templates
show. Nothing here touches the database, so composing is tested with plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from actwatch.bulletin.seasons import Season

# Tracker statuses, most advanced first: the order is the order of the legend.
STATUS_LABELS = {
    "in-force": "In force",
    "partly-in-force": "Partly in force",
    "piloting": "Piloting",
    "awaiting-commencement": "Awaiting commencement",
    "policy-programme": "Policy programme",
}


@dataclass(frozen=True)
class StoredItem:
    """A relevant announcement as stored (times aware UTC)."""

    id: int
    title: str
    link: str
    source: str
    published_at: datetime
    summary: str = ""
    event_type: str | None = None
    strands: tuple[str, ...] = ()
    type_hint: str | None = None


@dataclass(frozen=True)
class StoredCommencement:
    """Part of the Act an instrument brings into force, and when."""

    item_id: int
    section: str
    in_force_on: date | None
    strand: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class EditorChoice:
    """The editor's decisions about one item of a bulletin (a `bulletin_items` row)."""

    item_id: int
    included: bool = True
    strand: str | None = None
    position: int | None = None
    summary: str | None = None


@dataclass(frozen=True)
class StrandActivity:
    """What the stored announcements say about a strand up to a season's end."""

    latest_news: datetime | None = None
    pilots: int = 0


@dataclass(frozen=True)
class Entry:
    """One announcement as the bulletin shows it."""

    item_id: int
    title: str
    link: str
    source: str
    published_on: date
    summary: str
    event_type: str | None
    event_label: str | None
    strands: tuple[str, ...]  # strand names, primary first
    type_hint: str | None = None


@dataclass(frozen=True)
class Section:
    """A capped list of entries; `total` counts them all, `entries` holds those shown."""

    slug: str  # the anchor on the web archive page
    title: str
    description: str
    entries: tuple[Entry, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.entries)


@dataclass(frozen=True)
class Commencement:
    """Provisions that came (or come) into force on one day under one instrument."""

    in_force_on: date | None
    provisions: str  # 'sections 8, 9, 33 and 42'
    strands: tuple[str, ...]  # strand names
    purpose: str | None
    instrument: Entry | None
    coverage: tuple[Entry, ...] = ()  # news reporting this commencement, listed beside it


@dataclass(frozen=True)
class CommencementList:
    slug: str
    title: str
    entries: tuple[Commencement, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.entries)


@dataclass(frozen=True)
class TrackerRow:
    slug: str
    name: str
    status: str  # a key of STATUS_LABELS
    latest_news: date | None
    next_date: date | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class Act:
    name: str
    short_name: str
    citation: str
    url: str


@dataclass(frozen=True)
class Bulletin:
    season: Season
    title: str
    headline: str
    intro_md: str
    act: Act
    editor_name: str
    issued_on: date
    commenced: CommencementList
    pilots: Section
    strand_sections: tuple[Section, ...]  # only strands with news, in config order
    other: Section  # relevant news about the Act that belongs to no strand
    tracker: tuple[TrackerRow, ...]
    coming_up: CommencementList
    caveat: str
    item_count: int
    bulletin_id: int | None = None
    state: str = "draft"
    revision: int = 1
    strand_names: dict[str, str] = field(default_factory=dict)
    # The email's subject; the title without a headline; the subject pattern around
    # `{headline}`: what a reader's own copy is built from (see `bulletin.copies`).
    subject: str = ""
    season_title: str = ""
    subject_frame: str = ""
    # Per strand, the words that name it (its name, cues and programmes): which parts of the
    # introduction and headline are about which strands.
    strand_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    preheader: str = ""  # the editor's preview text; empty: `preview_text` says what is inside

    @property
    def is_empty(self) -> bool:
        return self.item_count == 0

    @property
    def preview_text(self) -> str:
        """What inboxes show after the subject (the email's hidden preheader)."""
        return self.preheader or (
            f"{self.season.label}: what came into force, pilots and news on the "
            f"{self.act.name}, strand by strand."
        )
