"""What the matcher reads (an item's words) and what it decides (a classification)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from actwatch.feeds.normalize import html_to_text
from actwatch.matching.commencement import CommencedProvision

FIELDS = ("title", "summary", "content", "meta")


@dataclass(frozen=True, slots=True)
class ItemText:
    """The parts of a stored item the rules look at; content is plain text, not HTML."""

    title: str
    summary: str = ""
    content: str = ""
    type_hint: str | None = None
    link: str = ""
    source_meta: dict[str, Any] = field(default_factory=dict)
    published: date | None = None


class StoredText(NamedTuple):
    """What the matcher reads of a stored item, as the database gives it: every query that feeds
    the matcher selects these columns (matching.store.ITEM_TEXT_COLUMNS), in this order."""

    id: int
    title: str | None
    summary: str | None
    content_html: str | None
    type_hint: str | None
    link: str | None
    source_meta: Any
    published_at: datetime | None


def item_text(row: Any) -> ItemText:
    """An item's words as the rules read them, from a row with StoredText's fields."""
    meta = row.source_meta if isinstance(row.source_meta, dict) else {}
    published = getattr(row, "published_at", None)
    return ItemText(
        title=row.title or "",
        summary=row.summary or "",
        content=html_to_text(row.content_html) if row.content_html else "",
        type_hint=row.type_hint,
        link=row.link or "",
        source_meta=meta,
        published=published.date() if isinstance(published, datetime) else None,
    )


class Evidence(NamedTuple):
    """One reason for the verdict: which cue matched where (or which rule applied).

    A named tuple rather than a frozen dataclass: items carry several of these and a frozen
    dataclass costs several times more to build, which shows in the matcher's throughput.
    """

    cue: str
    kind: str  # act, strand, programme, supporting, context, exclusion, negative, other_act,
    # type, display_type, legislation, section
    field: str  # title, summary, content, meta or instrument
    text: str
    strand: str | None = None
    event_type: str | None = None
    weight: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        # zip over the fields rather than _asdict(): the same dict, built for every piece of
        # evidence of every verdict stored.
        return {
            key: value
            for key, value in zip(_EVIDENCE_FIELDS, self, strict=False)
            if value is not None
        }


_EVIDENCE_FIELDS = Evidence._fields


@dataclass(frozen=True, slots=True)
class StrandCommencement:
    provision: CommencedProvision
    strand: str | None  # a strand slug; None for provisions outside the strands

    @property
    def section(self) -> str:
        return self.provision.provision.label

    @property
    def in_force_on(self) -> date | None:
        return self.provision.in_force_on


@dataclass(frozen=True, slots=True)
class Classification:
    state: str  # relevant, uncertain, rejected
    confidence: float
    event_type: str
    strands: tuple[str, ...]
    evidence: tuple[Evidence, ...]
    commencements: tuple[StrandCommencement, ...] = ()

    @property
    def relevant(self) -> bool:
        return self.state == "relevant"

    def evidence_dicts(self) -> list[dict[str, Any]]:
        return [entry.as_dict() for entry in self.evidence]

    def to_store(self) -> VerdictToStore:
        return VerdictToStore(
            self.state,
            self.confidence,
            self.event_type,
            self.strands,
            self.evidence_dicts(),
            self.commencements,
        )


class VerdictToStore(NamedTuple):
    """A classification as it is written to the database: the evidence already in the form
    stored. Worked out where the classification was (a worker process) and sent back in this
    form, which pickles far faster than the evidence objects."""

    state: str
    confidence: float
    event_type: str
    strands: tuple[str, ...]
    evidence: list[dict[str, Any]]
    commencements: tuple[StrandCommencement, ...]

    @property
    def relevant(self) -> bool:
        return self.state == "relevant"
