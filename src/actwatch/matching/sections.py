"""Sections of the Act and the strands they belong to, as config.yaml lists them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from actwatch.config.rules import SECTION_REF


@dataclass(frozen=True, slots=True)
class Provision:
    """A part of the Act as commencement instruments name it: section 42, Schedule 3, Part 2."""

    kind: str  # "section", "schedule" or "part"
    number: int
    suffix: str = ""

    @property
    def label(self) -> str:
        if self.kind == "section":
            return f"s.{self.number}{self.suffix}"
        return f"{'Sch' if self.kind == 'schedule' else 'Part'} {self.number}"


@dataclass(frozen=True, slots=True)
class _Range:
    kind: str
    low: int
    high: int

    def covers(self, provision: Provision) -> bool:
        return provision.kind == self.kind and self.low <= provision.number <= self.high


_LEADING_NUMBER = re.compile(r"(\d+)([A-Z]*)")
_KNOWN_LIMIT = 10_000  # numbers come from untrusted prose: keep the memo bounded


def provision(kind: str, reference: str) -> Provision | None:
    match = _LEADING_NUMBER.match(reference.strip())
    if not match:
        return None
    return Provision(kind, int(match[1]), match[2])


def _parse_reference(reference: str) -> _Range:
    match = SECTION_REF.match(reference.strip())
    if not match:
        raise ValueError(f"not a section reference: {reference!r}")
    if match[3]:
        kind = "schedule" if match[3] == "Sch" else "part"
        number = int(match[4])
        return _Range(kind, number, number)
    low = int(_LEADING_NUMBER.match(match[1])[1])  # type: ignore[index]
    high = int(_LEADING_NUMBER.match(match[2])[1]) if match[2] else low  # type: ignore[index]
    return _Range("section", low, high)


class SectionMap:
    """Which strand a provision belongs to; `outside` for the Act's provisions with no strand."""

    OUTSIDE = "-"

    def __init__(self, strands: Mapping[str, Sequence[str]], outside: Sequence[str]) -> None:
        self._ranges: list[tuple[_Range, str]] = []
        for slug, references in strands.items():
            self._ranges.extend((_parse_reference(reference), slug) for reference in references)
        self._ranges.extend((_parse_reference(reference), self.OUTSIDE) for reference in outside)
        # Every commencement item asks about the same few sections: answer each once.
        self._known: dict[tuple[str, int], str | None] = {}

    def strand(self, provision: Provision) -> str | None:
        """The strand slug, `SectionMap.OUTSIDE`, or None when config says nothing."""
        key = (provision.kind, provision.number)  # all a range looks at
        try:
            return self._known[key]
        except KeyError:
            pass
        if len(self._known) >= _KNOWN_LIMIT:
            self._known.clear()
        found = self._known[key] = self._lookup(provision)
        return found

    def _lookup(self, provision: Provision) -> str | None:
        # A section listed under a strand wins over the Part that contains it.
        best: tuple[int, str] | None = None
        for span, slug in self._ranges:
            if span.covers(provision):
                width = span.high - span.low
                if best is None or width < best[0]:
                    best = (width, slug)
        return best[1] if best else None
