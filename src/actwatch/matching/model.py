"""What the matcher reads (an item's words) and what it decides (a classification)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

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
        # Built for every piece of evidence of every verdict stored: one dict from the fields,
        # with the few that may be missing (strand, event type) left out when they are.
        cue, kind, field, text, strand, event_type, weight = self
        always: tuple[object, ...] = (cue, kind, field, text, weight)
        if None in always:  # never from the matcher; kept as before for anything else
            return {
                key: value
                for key, value in zip(_EVIDENCE_FIELDS, self, strict=True)
                if value is not None
            }
        found: dict[str, Any] = {"cue": cue, "kind": kind, "field": field, "text": text}
        if strand is not None:
            found["strand"] = strand
        if event_type is not None:
            found["event_type"] = event_type
        found["weight"] = weight
        return found


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
