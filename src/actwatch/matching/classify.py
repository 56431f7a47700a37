"""`classify(matcher, item)`: is an item about the Act, what kind of announcement, which strands.

Pure: no I/O, no clock. How the verdict is reached, so the editor can follow the evidence:
- Relevance adds up independent signals (noisy-OR): the Act's name (0.95), a strand's own cue or
  programme (0.85), a supporting cue (0.3), the field's context words (0.15, only beside other
  evidence). A signal in the summary counts 0.85 of its weight, in the body 0.4.
- Negative cues then cut it: in the title they reject the item unless it names the Act; an
  instrument whose title names another Act is rejected outright.
- The announcement type with most weight wins: GOV.UK display type 5, a cue in the title 3, in the
  summary 1.5, in the body 0.5; an instrument of the Act takes a `legislation` type; `other` is the
  fallback.
- Strands come from the strands' cues; for a commencement instrument whose sections are known,
  from the sections (the statute is more precise than the prose).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from operator import attrgetter
from typing import Any
from urllib.parse import urlsplit

from actwatch.core.provisions import ProvisionMap
from actwatch.matching.commencement import CommencedProvision, extract
from actwatch.matching.cues import Match, Tokens
from actwatch.matching.matcher import Matcher
from actwatch.matching.model import Classification, Evidence, ItemText, StrandCommencement

FIELD_FACTOR = {"title": 1.0, "summary": 0.85, "content": 0.4}
KIND_WEIGHT = {"act": 0.95, "strand": 0.85, "programme": 0.85, "supporting": 0.3, "context": 0.15}
CONTEXT_LIMIT = 2
STRAND_KIND_WEIGHT = {"strand": 1.0, "programme": 1.0, "supporting": 0.5}
STRAND_FIELD = {"title": 1.0, "summary": 0.8, "content": 0.35}
STRAND_MIN = 0.4
TYPE_FIELD = {"title": 3.0, "summary": 1.5, "content": 0.5}
DISPLAY_TYPE_WEIGHT = 10.0
LEGISLATION_WEIGHT = 5.0
TYPE_MIN = 1.0
FALLBACK_TYPE = "other"
OTHER_ACT_NEWS_FACTOR = 0.7
NEGATIVE_FACTOR = {"title": 0.5, "summary": 0.5, "content": 0.8}
NEGATIVE_TITLE_CAP = 0.1
OTHER_ACT_CAP = 0.05
MAX_CONTENT = 20_000
MAX_EVIDENCE = 60

# The weights above by field, then kind, worked out once rather than for every cue of every item
# (the same products, so the same floats).
_RELEVANCE_WEIGHT = {
    field: {kind: weight * factor for kind, weight in KIND_WEIGHT.items()}
    for field, factor in FIELD_FACTOR.items()
}
_SHOWN_WEIGHT = {
    field: {kind: round(weight, 3) for kind, weight in weights.items()}
    for field, weights in _RELEVANCE_WEIGHT.items()
}
_STRAND_WEIGHT = {
    field: {kind: weight * factor for kind, weight in STRAND_KIND_WEIGHT.items()}
    for field, factor in STRAND_FIELD.items()
}

_ACT_YEAR = re.compile(r"\b(?:Act|Bill)\s+(?:\[HL\]\s+)?\d{4}\b")
_INSTRUMENT_TITLE = re.compile(
    r"\((?:[^()]*\b)?Commencement\b|\b(?:Regulations|Order|Rules|Scheme)\s+\d{4}\s*$", re.IGNORECASE
)
_INSTRUMENT_PATH = re.compile(r"^/(?:id/)?(?:uksi|ukdsi|ssi|sdsi|wsi|nisr|ukmo)/\d{4}/\d+")
_TITLE_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z ]{1,45}?)\s*:\s+\S")
LEGISLATION_HOSTS = frozenset({"www.legislation.gov.uk", "legislation.gov.uk"})


def classify(
    matcher: Matcher, item: ItemText, instrument_text: str | None = None
) -> Classification:
    fields = (
        ("title", item.title),
        ("summary", item.summary),
        ("content", item.content[:MAX_CONTENT]),
    )
    evidence: dict[tuple[str, str, str, str | None], Evidence] = {}

    def note(entry: Evidence) -> None:
        key = (entry.kind, entry.cue, entry.field, entry.strand)
        if key not in evidence or evidence[key].weight < entry.weight:
            evidence[key] = entry

    scanned = [(field, text, matcher.lexicon.scan(Tokens(text))) for field, text in fields if text]
    masks = _exclusion_masks(scanned, note)
    relevance: dict[str, float] = {}
    context: dict[str, float] = {}
    strand_cues: dict[tuple[str, str], tuple[float, str]] = {}
    negatives: dict[str, float] = {}
    act_in_title: list[tuple[int, int]] = []
    # Evidence objects are made once per distinct cue and field, after the scan.
    matched: dict[tuple[str, str, str, str | None], tuple[str, float]] = {}

    for field, text, matches in scanned:
        kind_weight = _RELEVANCE_WEIGHT[field]
        strand_kind_weight = _STRAND_WEIGHT[field]
        for group, roles, start, end in matches:
            if group != "relevance":
                continue
            snippet = text[start:end]
            for cue in roles:
                kind, cue_text, target = cue.kind, cue.text, cue.target
                if kind == "negative":
                    negatives[field] = 1.0
                    note(Evidence(cue_text, "negative", field, snippet))
                    continue
                if (
                    target is not None
                    and target in masks
                    and _masked(masks, target, field, start, end)
                ):
                    continue
                weight = kind_weight[kind]
                if kind == "context":
                    context[cue_text] = max(context.get(cue_text, 0.0), weight)
                else:
                    relevance[cue_text] = max(relevance.get(cue_text, 0.0), weight)
                if kind == "act" and field == "title":
                    act_in_title.append((start, end))
                if target is not None:
                    strand_weight = strand_kind_weight[kind]
                    key = (target, cue_text)
                    if strand_cues.get(key, (0.0, ""))[0] < strand_weight:
                        strand_cues[key] = (strand_weight, field)
                seen = (kind, cue_text, field, target)
                if seen not in matched or matched[seen][1] < weight:
                    matched[seen] = (snippet, weight)

    # `matched` is keyed like `evidence`, and nothing noted so far has these kinds (only exclusion
    # and negative evidence): no need to go through note().
    for seen, (snippet, _) in matched.items():
        kind, cue_text, field, target = seen
        evidence[seen] = Evidence(
            cue_text, kind, field, snippet, target, None, _SHOWN_WEIGHT[field][kind]
        )

    weights = list(relevance.values())
    if weights:
        weights.extend(sorted(context.values(), reverse=True)[:CONTEXT_LIMIT])
    confidence = _noisy_or(weights)

    instrument = _is_instrument(item)
    other_acts = _other_acts(item.title, act_in_title)
    if other_acts:
        note(Evidence("another Act", "other_act", "title", "; ".join(other_acts)))
        instrument_title = instrument or bool(_INSTRUMENT_TITLE.search(item.title))
        if instrument_title and matcher.reject_other_acts and not act_in_title:
            confidence = min(confidence, OTHER_ACT_CAP)
        elif not act_in_title:
            confidence *= OTHER_ACT_NEWS_FACTOR
    for field in negatives:
        if field == "title" and not act_in_title:
            confidence = min(confidence, NEGATIVE_TITLE_CAP)
        else:
            confidence *= NEGATIVE_FACTOR[field]

    event_type = _event_type(matcher, item, scanned, instrument and bool(act_in_title), note)

    strands = _strands(matcher, strand_cues)
    commencements: tuple[StrandCommencement, ...] = ()
    if event_type in matcher.legislation_types and (
        instrument or _INSTRUMENT_TITLE.search(item.title)
    ):
        commencements = _commencements(matcher, item, instrument_text)
        by_section = [entry.strand for entry in commencements if entry.strand is not None]
        if commencements:
            for entry in commencements:
                note(
                    Evidence(
                        entry.section,
                        "section",
                        entry.provision.source,
                        _describe(entry.provision),
                        entry.strand if entry.strand != ProvisionMap.OUTSIDE else None,
                    )
                )
            strands = tuple(slug for slug in matcher.strand_order if slug in by_section)

    if confidence >= matcher.relevant_threshold:
        state = "relevant"
    elif confidence >= matcher.uncertain_threshold:
        state = "uncertain"
    else:
        state = "rejected"
    # reverse=True keeps entries of equal weight in the order they were noted.
    ordered = sorted(evidence.values(), key=_weight, reverse=True)[:MAX_EVIDENCE]
    return Classification(
        state=state,
        confidence=round(confidence, 3),
        event_type=event_type,
        strands=strands,
        evidence=tuple(ordered),
        commencements=tuple(
            StrandCommencement(entry.provision, entry.strand)
            if entry.strand != ProvisionMap.OUTSIDE
            else StrandCommencement(entry.provision, None)
            for entry in commencements
        ),
    )


_weight = attrgetter("weight")


def _noisy_or(weights: Iterable[float]) -> float:
    miss = 1.0
    for weight in weights:
        miss *= 1.0 - weight
    return 1.0 - miss


def _exclusion_masks(
    scanned: Iterable[tuple[str, str, list[Match]]], note: Any
) -> dict[str, list[tuple[str, int, int]]]:
    masks: dict[str, list[tuple[str, int, int]]] = {}
    for field, text, matches in scanned:
        for match in matches:
            if match.group != "exclusion":
                continue
            for cue in match.roles:
                assert cue.target is not None
                masks.setdefault(cue.target, []).append((field, match.start, match.end))
                note(
                    Evidence(
                        cue.text, "exclusion", field, text[match.start : match.end], cue.target
                    )
                )
    return masks


def _masked(
    masks: dict[str, list[tuple[str, int, int]]], strand: str, field: str, start: int, end: int
) -> bool:
    return any(
        where == field and start < mask_end and mask_start < end
        for where, mask_start, mask_end in masks.get(strand, ())
    )


def _is_instrument(item: ItemText) -> bool:
    if isinstance(item.source_meta.get("legislation"), dict):
        return True
    if "legislation.gov.uk" not in item.link:
        return False
    parts = urlsplit(item.link)
    return (parts.hostname or "") in LEGISLATION_HOSTS and bool(_INSTRUMENT_PATH.match(parts.path))


def _other_acts(title: str, ours: list[tuple[int, int]]) -> list[str]:
    """Acts (or Bills) named in the title that are not this Act."""
    found: list[str] = []
    if "Act" not in title and "Bill" not in title:
        return found  # the pattern is case-sensitive: most titles name no Act at all
    for match in _ACT_YEAR.finditer(title):
        if not any(start <= match.start() <= end for start, end in ours):
            found.append(title[max(0, match.start() - 60) : match.end()].strip())
    return found


def _event_type(
    matcher: Matcher,
    item: ItemText,
    scanned: Iterable[tuple[str, str, list[Match]]],
    instrument_of_act: bool,
    note: Any,
) -> str:
    scores = dict.fromkeys(matcher.type_order, 0.0)
    display = item.type_hint or item.source_meta.get("display_type")
    if not isinstance(display, str):
        # A GOV.UK title whose prefix the feeds stage left on (a link off www.gov.uk).
        prefix = _TITLE_PREFIX.match(item.title)
        display = prefix[1] if prefix and prefix[1].lower() in matcher.display_types else None
    if isinstance(display, str):
        slug = matcher.display_types.get(display.strip().lower())
        if slug is not None:
            scores[slug] += DISPLAY_TYPE_WEIGHT
            note(
                Evidence(display, "display_type", "meta", display, None, slug, DISPLAY_TYPE_WEIGHT)
            )
    best_cue: dict[tuple[str, str], tuple[float, str, str]] = {}
    for field, text, matches in scanned:
        weight = TYPE_FIELD[field]
        for group, roles, start, end in matches:
            if group != "type":
                continue
            for cue in roles:
                assert cue.target is not None
                key = (cue.target, cue.text)
                if best_cue.get(key, (0.0, "", ""))[0] < weight:
                    best_cue[key] = (weight, field, text[start:end])
    for (slug, cue_text), (weight, field, snippet) in best_cue.items():
        scores[slug] += weight
        note(Evidence(cue_text, "type", field, snippet, None, slug, weight))

    if instrument_of_act and matcher.legislation_types:
        series = _alternative_number(item.source_meta)
        if series and (slug := matcher.alternative_numbers.get(series)) in scores:
            scores[slug] += LEGISLATION_WEIGHT
            note(Evidence(f"{series}. number", "legislation", "meta", series, None, slug, 5.0))
        candidates = matcher.legislation_types
        best = max(candidates, key=scores.__getitem__)
        if scores[best] <= 0:
            best = candidates[-1]
            note(Evidence("instrument of the Act", "legislation", "meta", item.title, None, best))
        return best

    contenders = _contenders(matcher.type_order)
    if contenders:
        best = max(contenders, key=scores.__getitem__)
        if scores[best] >= TYPE_MIN:
            return best
    return FALLBACK_TYPE if FALLBACK_TYPE in scores else matcher.type_order[-1]


@lru_cache(maxsize=16)
def _contenders(type_order: tuple[str, ...]) -> tuple[str, ...]:
    """The types a cue can win (the same for every item of one set of rules)."""
    return tuple(slug for slug in type_order if slug != FALLBACK_TYPE)


def _alternative_number(meta: dict[str, Any]) -> str | None:
    legislation = meta.get("legislation")
    if not isinstance(legislation, dict):
        return None
    alternative = legislation.get("alternative_number")
    if isinstance(alternative, dict):
        category = alternative.get("category")
        if isinstance(category, str) and category.strip():
            return category.strip().upper().rstrip(".")
    return None


def _strands(
    matcher: Matcher, strand_cues: dict[tuple[str, str], tuple[float, str]]
) -> tuple[str, ...]:
    scores: dict[str, float] = {}
    for (slug, _), (weight, _field) in strand_cues.items():
        scores[slug] = scores.get(slug, 0.0) + weight
    # Most items score a strand or two: order those, rather than look up every strand.
    strong = {slug for slug, score in scores.items() if score >= STRAND_MIN}
    chosen = [slug for slug in matcher.strand_order if slug in strong] if strong else []
    if not chosen and scores:
        # Evidence only in the body: name the strongest strand rather than none.
        top = max(scores, key=scores.__getitem__)
        if scores[top] >= STRAND_FIELD["content"]:
            chosen = [top]
    return tuple(chosen)


def _commencements(
    matcher: Matcher, item: ItemText, instrument_text: str | None
) -> tuple[StrandCommencement, ...]:
    names = matcher.act_names
    found: list[CommencedProvision] = []
    if instrument_text:
        found = extract(instrument_text, "instrument", names)
    if not found:
        found = extract(item.summary, "summary", names) or extract(
            item.content[:MAX_CONTENT], "content", names
        )
    return tuple(
        StrandCommencement(provision, matcher.sections.strand(provision.provision))
        for provision in found
    )


def _describe(provision: CommencedProvision) -> str:
    parts = [provision.provision.label]
    if provision.in_force_on:
        parts.append(f"in force {provision.in_force_on.isoformat()}")
    if provision.purpose:
        parts.append(provision.purpose)
    return ", ".join(parts)
