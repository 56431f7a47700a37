"""Parts of the Act (sections, Parts, Schedules) and which strand owns each: defined once.

Editors write references in config.yaml ("1", "12-32", "s.4-7", "Sch 3", "Part 2", "sections 58
and 59"); announcements and instruments write them in prose ("bring into force sections 8, 9,
33 and 42", "ss. 16, 70(2)", "Review Part 2 of the Act"). Both are read here, so that matching
(strands and commencements) and the bulletin (what came into force, the tracker) agree on what a
reference means and on which strand it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

SECTION = "section"
PART = "part"
SCHEDULE = "schedule"
_KIND_ORDER = {SECTION: 0, PART: 1, SCHEDULE: 2}
MAX_RANGE = 80  # "sections 1 to 3000" in untrusted prose is not a range worth expanding


@dataclass(frozen=True, slots=True)
class Provision:
    """One section ("16A"), Part or Schedule of the Act."""

    kind: str  # SECTION, PART or SCHEDULE
    number: int
    suffix: str = ""  # the capital letters of an inserted section: 16A

    @property
    def label(self) -> str:
        """How commencements are stored and shown: s.16A, Part 2, Sch 3."""
        if self.kind == SECTION:
            return f"s.{self.number}{self.suffix}"
        return f"{'Sch' if self.kind == SCHEDULE else 'Part'} {self.number}"

    @property
    def sort_key(self) -> tuple[int, int, str]:
        return (_KIND_ORDER[self.kind], self.number, self.suffix)


@dataclass(frozen=True, slots=True)
class Span:
    """A run of provisions of one kind as an editor writes it ("12-32" is sections 12 to 32)."""

    kind: str
    low: int
    high: int

    @property
    def width(self) -> int:
        return self.high - self.low

    def covers(self, provision: Provision) -> bool:
        return provision.kind == self.kind and self.low <= provision.number <= self.high

    def provisions(self) -> list[Provision]:
        return [Provision(self.kind, number) for number in range(self.low, self.high + 1)]


class BadReference(ValueError):
    """A reference an editor wrote that names no part of the Act."""


_DIGIT = re.compile(r"\d")
_NUMBER = r"\d+[A-Z]{0,2}(?:\(\d+[a-z]?\))*"
_LETTERED = re.compile(r"(\d+)([A-Z]{0,2})")
_KIND_WORD = r"(?P<kind>sections?|ss?\.?|Schedules?|Sch\.?|Parts?|Pt\.?)"
# A list of numbers after a kind word: "8, 9, 33 and 42", "1 to 3", "16-23", "58 and 59".
_LIST = rf"{_NUMBER}(?:\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s+to\s+|\s*[-\u2013]\s*){_NUMBER})*"
_IN_PROSE = re.compile(rf"\b{_KIND_WORD}\s*(?P<list>{_LIST})", re.IGNORECASE)
_LIST_ITEM = re.compile(rf"({_NUMBER})(?:\s*(?:\s+to\s+|[-\u2013])\s*({_NUMBER}))?", re.IGNORECASE)
# An editor's reference: a bare list ("1", "12-32") or one with its kind ("Sch 3", "s.4-7").
_EDITOR = re.compile(rf"^\s*(?:{_KIND_WORD}\s*)?(?P<list>{_LIST})\s*$", re.IGNORECASE)


def _kind_of(word: str | None) -> str:
    if not word:
        return SECTION
    lowered = word.lower().rstrip(".")
    if lowered.startswith("sch"):
        return SCHEDULE
    if lowered.startswith(("part", "pt")):
        return PART
    return SECTION


def _split(number: str) -> tuple[int, str]:
    match = _LETTERED.match(number)
    assert match is not None
    return int(match[1]), match[2]


def _expand(kind: str, listing: str) -> tuple[list[Provision], list[Span]]:
    """The provisions a list names, and the ranges it names (for ownership by width)."""
    provisions: list[Provision] = []
    spans: list[Span] = []
    for item in _LIST_ITEM.finditer(listing):
        low, low_suffix = _split(item[1])
        if item[2]:
            high, high_suffix = _split(item[2])
            if not low_suffix and not high_suffix and 0 <= high - low <= MAX_RANGE:
                span = Span(kind, low, high)
                spans.append(span)
                provisions.extend(span.provisions())
                continue
            # "16A-16Q": the lettered ends only (the letters between are not numbers).
            provisions.append(Provision(kind, low, low_suffix))
            provisions.append(Provision(kind, high, high_suffix))
            spans.extend((Span(kind, low, low), Span(kind, high, high)))
            continue
        provisions.append(Provision(kind, low, low_suffix))
        spans.append(Span(kind, low, low))
    return provisions, spans


@lru_cache(maxsize=1024)
def parse_spans(reference: str) -> tuple[Span, ...]:
    """An editor's reference as ranges: '12-32' -> sections 12..32; 'Part 2' -> Part 2."""
    match = _EDITOR.match(reference)
    if not match:
        raise BadReference(
            f"{reference!r} is not a section reference (use e.g. 1, 12-32, Sch 3, Part 2)"
        )
    _, spans = _expand(_kind_of(match["kind"]), match["list"])
    if not spans:
        raise BadReference(f"{reference!r} names no section")
    return tuple(spans)


def parse(reference: str) -> list[Provision]:
    """Every provision an editor's (or a stored) reference names: 's.4-7' -> ss.4, 5, 6, 7.

    Raises BadReference for text that names no part of the Act.
    """
    match = _EDITOR.match(reference)
    if not match:
        raise BadReference(
            f"{reference!r} is not a section reference (use e.g. 1, 12-32, Sch 3, Part 2)"
        )
    provisions, _ = _expand(_kind_of(match["kind"]), match["list"])
    return provisions


def is_reference(reference: str) -> bool:
    return bool(_EDITOR.match(reference))


def parse_all(references: Iterable[str]) -> set[Provision]:
    found: set[Provision] = set()
    for reference in references:
        found.update(parse(reference))
    return found


# --- references in prose ---------------------------------------------------------------------

# Whose provisions a reference names: "of the Children Act 2004", "of that Act", "of the 2004
# Act" are another Act's; "of the Act", "of this Act" and the Act's own names are ours.
_OF_OTHER_ACT = re.compile(
    r"^\s*(?:\([^)]*\)\s*)?(?:of|in|to)\s+"
    r"(?:the\s+(?!Act\b)[\w'’ ()]*?(?:Act|Bill|Order|Regulations|Measure)\s+\d{4}"
    r"|that\s+Act|the\s+\d{4}\s+Act)",
    re.IGNORECASE,
)
_OF_OUR_ACT = re.compile(r"^\s*(?:of|in)\s+(?:the|this)\s+(?:Act|Bill)\b", re.IGNORECASE)
_THE_YEAR_ACT = re.compile(r"^\s*(?:of|in|to)\s+the\s+(\d{4})\s+Act\b", re.IGNORECASE)
_CHAPTER_OF = re.compile(r"Chapter\s+\d+\s+of\s+$", re.IGNORECASE)
_OF_SCHEDULE = re.compile(r"^\s+of\s+Schedule\b", re.IGNORECASE)


class Reference(NamedTuple):
    start: int
    end: int
    provisions: tuple[Provision, ...]
    owner: str | None  # "ours", "other" (another Act's), None (the text does not say)


@lru_cache(maxsize=32)
def _names_pattern(act_names: tuple[str, ...]) -> re.Pattern[str] | None:
    """ "of the Children and Social Work Act 2017": the text names our Act in full."""
    names = sorted(
        {name.replace("*", "").strip() for name in act_names if name.replace("*", "").strip()},
        key=len,
        reverse=True,
    )
    if not names:
        return None
    alternatives = "|".join(r"\s+".join(map(re.escape, name.split())) for name in names)
    return re.compile(rf"^\s*(?:\([^)]*\)\s*)?(?:of|in)\s+(?:the\s+)?(?:{alternatives})\b", re.I)


@lru_cache(maxsize=32)
def _years(act_names: tuple[str, ...]) -> frozenset[str]:
    """The years in the Act's names: "the 2017 Act" is ours."""
    return frozenset(year for name in act_names for year in re.findall(r"\b(\d{4})\b", name))


def find(text: str, act_names: Sequence[str] = ()) -> list[Reference]:
    """Every reference to sections, Parts or Schedules in prose, with whose Act it names."""
    if _DIGIT.search(text) is None:
        return []  # most titles and summaries name no provision at all
    ours = _names_pattern(tuple(act_names))
    found: list[Reference] = []
    for match in _IN_PROSE.finditer(text):
        kind = _kind_of(match["kind"])
        word = match["kind"].lower()
        if kind == SECTION and word in ("s", "ss"):
            continue  # a bare "s 4" is too easily something else; "s.4" and "ss. 4" are fine
        if kind != SECTION and not match["kind"][0].isupper():
            continue  # "part 2 of the plan", "on schedule": Parts and Schedules have capitals
        before = text[: match.start()]
        after = text[match.end() :]
        if kind == PART and _CHAPTER_OF.search(before):
            continue  # "Chapter 2 of Part 1": a part of the Part, not all of it
        if kind == PART and _OF_SCHEDULE.match(after):
            continue  # "Part 1 of Schedule 2" is a part of the Schedule
        provisions, _ = _expand(kind, match["list"])
        if not provisions:
            continue
        owner: str | None = None
        year = _THE_YEAR_ACT.match(after)
        if (ours and ours.match(after)) or _OF_OUR_ACT.match(after):
            owner = "ours"
        elif year:
            owner = "ours" if year[1] in _years(tuple(act_names)) else "other"
        elif _OF_OTHER_ACT.match(after):
            owner = "other"
        found.append(Reference(match.start(), match.end(), tuple(provisions), owner))
    return found


# --- which strand owns a provision -------------------------------------------------------------


class ProvisionMap:
    """Which strand owns each provision, from the strands' `sections` in config.yaml.

    The narrowest reference wins where references overlap (a strand naming s.42 owns it even
    though another names ss.36-58); strands whose references are equally narrow share it.
    Provisions listed in `outside` are the Act's own with no strand (OUTSIDE).
    """

    OUTSIDE = "-"

    def __init__(self, strands: Mapping[str, Sequence[str]], outside: Sequence[str] = ()) -> None:
        self._spans: list[tuple[Span, str]] = []
        for slug, references in strands.items():
            for reference in references:
                self._spans.extend((span, slug) for span in parse_spans(reference))
        for reference in outside:
            self._spans.extend((span, self.OUTSIDE) for span in parse_spans(reference))
        self._strand_order = {slug: index for index, slug in enumerate(strands)}
        self._known: dict[tuple[str, int], tuple[str, ...]] = {}

    def owners(self, provision: Provision) -> tuple[str, ...]:
        """The strands that own a provision (config order), (OUTSIDE,), or () if none says."""
        key = (provision.kind, provision.number)  # all a span looks at
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= 10_000:  # numbers come from untrusted prose
                self._known.clear()
            found = self._known[key] = self._lookup(provision)
        return found

    def strand(self, provision: Provision) -> str | None:
        """The first owning strand, OUTSIDE for the Act's provisions with no strand, or None."""
        owners = self.owners(provision)
        return owners[0] if owners else None

    def claimed(self, slug: str) -> set[Provision]:
        """Every provision the strand owns (ranges expanded; Parts and Schedules as themselves)."""
        claimed: set[Provision] = set()
        for span, owner in self._spans:
            if owner == slug:
                claimed.update(p for p in span.provisions() if slug in self.owners(p))
        return claimed

    def strands_of(self, provisions: Iterable[Provision]) -> list[str]:
        """The strands owning any of the provisions, in config order (OUTSIDE left out)."""
        slugs = {slug for p in provisions for slug in self.owners(p) if slug != self.OUTSIDE}
        return sorted(slugs, key=self._strand_order.__getitem__)

    def _lookup(self, provision: Provision) -> tuple[str, ...]:
        width: int | None = None
        owners: list[str] = []
        for span, slug in self._spans:
            if not span.covers(provision):
                continue
            if width is None or span.width < width:
                width, owners = span.width, [slug]
            elif span.width == width and slug not in owners:
                owners.append(slug)
        if self.OUTSIDE in owners and len(owners) > 1:
            owners.remove(self.OUTSIDE)
        return tuple(owners)


# --- describing provisions -----------------------------------------------------------------------


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _runs(numbers: list[int]) -> list[str]:
    """[12, 13, 14, 20] -> ['12-14', '20']: long lists of sections read as ranges."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return [f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs]


def describe(provisions: Iterable[Provision]) -> str:
    """{s.8, s.9, s.33, s.42} -> 'sections 8, 9, 33 and 42'; Sch 3 -> 'Schedule 3'."""
    ordered = sorted(set(provisions), key=lambda p: p.sort_key)
    plain = [p.number for p in ordered if p.kind == SECTION and not p.suffix]
    lettered = [f"{p.number}{p.suffix}" for p in ordered if p.kind == SECTION and p.suffix]
    parts = [f"Part {p.number}" for p in ordered if p.kind == PART]
    schedules = [str(p.number) for p in ordered if p.kind == SCHEDULE]
    phrases = []
    sections = [*_runs(plain), *lettered]
    if sections:
        words = ", ".join(sections).split(", ")
        many = len(plain) + len(lettered) > 1
        phrases.append(("sections " if many else "section ") + _join(words))
    phrases.extend(parts)
    if schedules:
        phrases.append(("Schedules " if len(schedules) > 1 else "Schedule ") + _join(schedules))
    return ", ".join(phrases)
