"""`classify(matcher, item)`: is an item about the Act, what kind of announcement, which strands.

Pure: no I/O, no clock. `read()` applies the editor's rules and keeps every reason as evidence;
`classify()` adds the learned scorer when the matcher has one (`actwatch.matching.learned`),
which turns the rules' readings (as features) and the item's words into one calibrated confidence.
How the rules read an item, so the editor can follow the evidence:
- Relevance adds up independent signals (noisy-OR): the Act's name (0.95), a strand's own cue or
  programme (0.85), a publisher that is itself a strand's body (0.85), a supporting cue (0.3),
  the field's context words (0.15, only beside other evidence). A signal in the summary counts
  0.85 of its weight, in the body 0.4.
- Negative cues, other Acts and other jurisdictions then cut it: in the title they reject the item
  unless it names the Act; an instrument whose title (or enabling Act) names another Act is
  rejected outright; a link to another jurisdiction's government or legislation weighs most.
- The announcement type is what the item announces, not any word it contains: a cue in the title
  weighs most, then the summary's first sentence, then the rest; a cue after a subordinating word
  ("following", "which") weighs less, one after a future or modal word ("will", "set to") counts
  as planned news, one after a negation ("not") not at all, and one in a sentence of complaint
  ("shortfall") little. A GOV.UK display type decides when there is one; an instrument of the
  Act takes a `legislation` type; `other` is the fallback.
- Strands come from the strands' cues, from the publisher, and from references to sections,
  Parts and Schedules of the Act anywhere (core/provisions); for a commencement instrument whose
  sections are known, from the sections (the statute is more precise than the prose).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from operator import attrgetter
from typing import Any
from urllib.parse import urlsplit

from actwatch.core import provisions
from actwatch.core.provisions import ProvisionMap
from actwatch.matching.commencement import CommencedProvision, extract
from actwatch.matching.cues import Match, Tokens
from actwatch.matching.matcher import Matcher
from actwatch.matching.model import Classification, Evidence, ItemText, StrandCommencement

FIELD_FACTOR = {"title": 1.0, "summary": 0.85, "content": 0.4}
KIND_WEIGHT = {
    "act": 0.95,
    "strand": 0.85,
    "programme": 0.85,
    "publisher": 0.85,
    "section": 0.3,
    "supporting": 0.3,
    "context": 0.15,
}
CONTEXT_LIMIT = 2
SUBJECT_KINDS = frozenset({"act", "strand", "programme"})
PASSING_FACTOR = 0.75
STRAND_KIND_WEIGHT = {"strand": 1.0, "programme": 1.0, "publisher": 1.0, "section": 1.0}
STRAND_KIND_WEIGHT["supporting"] = 0.5
STRAND_FIELD = {"title": 1.0, "summary": 0.8, "content": 0.35, "link": 1.0}
STRAND_MIN = 0.45  # one supporting cue in the title, two in the summary
# Where a type cue sits: the title is the headline; the summary's first sentence says what the
# item announces; later sentences and the body add detail.
TYPE_TITLE = 3.0
TYPE_LEAD = 1.5
TYPE_LATER = 0.9
TYPE_CONTENT = 0.3
SUBORDINATE_FACTOR = 0.4
FUTURE_FACTOR = 0.3
COMPLAINT_FACTOR = 0.25
SENSE_FACTOR = {
    "subordinate": SUBORDINATE_FACTOR,
    "future": FUTURE_FACTOR,
    "complaint": COMPLAINT_FACTOR,
}
MODAL_WINDOW = 45  # characters before a cue where "will" or "not" govern it
DISPLAY_TYPE_WEIGHT = 10.0
LEGISLATION_WEIGHT = 5.0
TYPE_MIN = 0.9
FALLBACK_TYPE = "other"
OTHER_ACT_NEWS_FACTOR = 0.7
NEGATIVE_FACTOR = {"title": 0.5, "summary": 0.5, "content": 0.8}
NEGATIVE_TITLE_CAP = 0.1
OTHER_ACT_CAP = 0.05
JURISDICTION_LINK_FACTOR = 0.15
JURISDICTION_TITLE_CAP = 0.1
JURISDICTION_NAMED_FACTOR = 0.6
JURISDICTION_SUMMARY_FACTOR = 0.6
MAX_CONTENT = 20_000
MAX_EVIDENCE = 60

_RELEVANCE_WEIGHT = {
    field: {kind: weight * factor for kind, weight in KIND_WEIGHT.items()}
    for field, factor in FIELD_FACTOR.items()
}
_RELEVANCE_WEIGHT["link"] = dict(KIND_WEIGHT)
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
    r"\((?:[^()]*\b)?Commencement\b|\b(?:Regulations|Order|Rules|Scheme)\s+\d{4}\b", re.IGNORECASE
)
# "Regulations made under the Children Act 1989", "in exercise of the powers conferred by
# section 183 of the Policing and Crime Act 2017": the Act an instrument is made under.
_ENABLING_ACT = re.compile(
    r"\b(?:made\s+under|in\s+exercise\s+of|conferred\s+by|under)\b[^.;]{0,80}?"
    r"\b(?:the\s+)?([A-Z][\w'’()]*\s+(?:(?:[A-Z][\w'’()]*|and|of|for|&)\s+){0,8}?"
    r"(?:Act|Measure)\s+\d{4})"
)
_INSTRUMENT_PATH = re.compile(r"^/(?:id/)?(?:uksi|ukdsi|ssi|sdsi|wsi|nisr|ukmo)/\d{4}/\d+")
_LEGISLATION_TYPE = re.compile(r"^/(?:id/)?([a-z]{2,6})/\d{4}/")
_TITLE_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z ]{1,45}?)\s*:\s+\S")
# Where sentences and clauses end: a stop, semicolon, colon or dash followed by a space.
# Not after an initial or an abbreviation ("S. 16E", "No. 3", "s. 4"), nor before lower case.
# The stop comes first and the lookbehinds include it, so the engine jumps from stop to stop.
_STOP_CHECKS = r"(?<![A-Z].)(?<!\bNo.)(?<!\bss.)(?<!\bs.)(?<!\bSch.)(?<!\breg.)(?<!\bc.)"
_SENTENCE_END = r"[.!?]" + _STOP_CHECKS + r"\s+(?=[^a-z0-9])"
# Every break (stop, semicolon or colon, spaced dash) written as one character class then what
# follows it: `re` skips ahead to that class instead of trying three branches at every position.
# Without a dash in the text the class leaves out spaces, which are everywhere.
_SENTENCE_BREAK = re.compile(
    r"[.!?;:\s](?:(?<=[.!?])" + _STOP_CHECKS + r"\s+(?=[^a-z0-9])|(?<=[;:])\s+"
    r"|(?<=\s)[\u2013\u2014-]\s)"
)
_SENTENCE_BREAK_NO_DASH = re.compile(
    r"[.!?;:](?:(?<=[.!?])" + _STOP_CHECKS + r"\s+(?=[^a-z0-9])|(?<=[;:])\s+)"
)
# The first sentence: what the summary announces (a colon or dash only elaborates it).
_FIRST_SENTENCE = re.compile(_SENTENCE_END)

LEGISLATION_HOSTS = frozenset({"www.legislation.gov.uk", "legislation.gov.uk"})


@dataclass(slots=True)
class Reading:
    """What the rules found in an item: their classification and the signals behind it.

    `signals` are the rules' readings as numbers (named, stable across rule edits): the learned
    scorer's rule features.
    """

    classification: Classification
    signals: dict[str, float] = dataclass_field(default_factory=dict)
    type_scores: dict[str, float] = dataclass_field(default_factory=dict)
    strand_scores: dict[str, float] = dataclass_field(default_factory=dict)
    rejected_by_rule: bool = False  # an absolute rule (another Act's instrument) said no


def classify(
    matcher: Matcher, item: ItemText, instrument_text: str | None = None
) -> Classification:
    """The verdict: the rules' alone, or the learned scorer's over the rules' reading."""
    reading = read(matcher, item, instrument_text)
    if matcher.model is None:
        return reading.classification
    return matcher.model.decide(matcher, item, reading)


def classify_many(matcher: Matcher, items: Sequence[ItemText]) -> list[Classification]:
    """Classify a batch: the rules item by item, the learned scorer in one product."""
    readings = [read(matcher, item) for item in items]
    if matcher.model is None:
        return [reading.classification for reading in readings]
    return matcher.model.decide_many(matcher, items, readings)


def read(matcher: Matcher, item: ItemText, instrument_text: str | None = None) -> Reading:
    fields = (
        ("title", item.title),
        ("summary", item.summary),
        ("content", item.content[:MAX_CONTENT]),
    )
    evidence: dict[tuple[str, str, str, str | None], Evidence] = {}
    signals: dict[str, float] = {}

    def note(entry: Evidence) -> None:
        key = (entry.kind, entry.cue, entry.field, entry.strand or entry.event_type)
        if key not in evidence or evidence[key].weight < entry.weight:
            evidence[key] = entry

    def signal(name: str, value: float = 1.0) -> None:
        signals[name] = signals.get(name, 0.0) + value

    scanned = [(field, text, matcher.lexicon.scan(Tokens(text))) for field, text in fields if text]
    masks = _exclusion_masks(scanned, note)
    sentences: dict[str, _Sentences] = {}
    relevance: dict[str, float] = {}
    context: dict[str, float] = {}
    strand_cues: dict[tuple[str, str], tuple[float, str]] = {}
    negatives: dict[str, float] = {}
    jurisdictions: dict[str, set[str]] = {}
    act_in_title: list[tuple[int, int]] = []
    act_fields: set[str] = set()
    matched: dict[tuple[str, str, str, str | None], tuple[str, float]] = {}

    title_has_subject = False
    for field, text, matches in scanned:
        kind_weight = _RELEVANCE_WEIGHT[field]
        strand_kind_weight = _STRAND_WEIGHT[field]
        passing: list[tuple[int, int]] | None = None
        for group, roles, start, end in matches:
            if group == "jurisdiction":
                for cue in roles:
                    assert cue.target is not None
                    if _masked(masks, f"@{cue.target}", field, start, end):
                        continue
                    jurisdictions.setdefault(field, set()).add(cue.target)
                    if cue.target != "home":
                        note(Evidence(cue.text, "jurisdiction", field, text[start:end], cue.target))
                continue
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
                if field == "title" and kind in SUBJECT_KINDS:
                    title_has_subject = True
                elif (
                    field == "summary"
                    and kind in SUBJECT_KINDS
                    and not title_has_subject
                    and _in_spans(
                        passing := passing
                        if passing is not None
                        else _passing_spans(_sentences(sentences, field, text), matches),
                        start,
                    )
                ):
                    # Named in passing (a later sentence, a subordinate clause) under a title
                    # about something else: weaker evidence that the item is about it.
                    weight *= PASSING_FACTOR
                    signal(f"passing:{kind}")
                # signal(), written out: this runs for every cue of every item.
                name = f"{kind}:{field}"
                signals[name] = signals.get(name, 0.0) + 1.0
                if kind == "context":
                    context[cue_text] = max(context.get(cue_text, 0.0), weight)
                else:
                    relevance[cue_text] = max(relevance.get(cue_text, 0.0), weight)
                if kind == "act":
                    act_fields.add(field)
                    if field == "title":
                        act_in_title.append((start, end))
                if target is not None:
                    strand_weight = strand_kind_weight[kind]
                    key = (target, cue_text)
                    if strand_cues.get(key, (0.0, ""))[0] < strand_weight:
                        strand_cues[key] = (strand_weight, field)
                    name = f"strand:{target}:{field}"
                    signals[name] = signals.get(name, 0.0) + strand_weight
                seen = (kind, cue_text, field, target)
                if seen not in matched or matched[seen][1] < weight:
                    matched[seen] = (snippet, weight)

    host = _host(item.link)
    # The publisher: its own news is evidence of its strands.
    publishers = (
        {matcher.domain_publishers.get(suffix) for suffix in _suffixes(host)} if host else set()
    )
    publishers.discard(None)
    for name, (_, strands) in matcher.publishers.items() if publishers else ():
        if name in publishers:
            for slug in strands:
                key = (slug, f"publisher {name}")
                strand_cues[key] = (_STRAND_WEIGHT["link"]["publisher"], "link")
                relevance[f"publisher {name}"] = KIND_WEIGHT["publisher"]
                signal(f"strand:{slug}:link")
                signal("publisher:link")
                note(
                    Evidence(name, "publisher", "link", host, slug, None, KIND_WEIGHT["publisher"])
                )

    # References to sections, Parts and Schedules: the Act's own, or unattributed ones in an item
    # that names the Act and no other.
    names = matcher.act_names
    other_acts = _other_acts(item.title, act_in_title)
    other_acts_in_summary = _other_acts(item.summary, [])
    other_act_named = bool(other_acts or other_acts_in_summary)
    for field, text in fields[:2]:
        for reference in provisions.find(text, names):
            if reference.owner == "other" or (
                reference.owner is None and (not act_fields or other_act_named)
            ):
                continue
            for slug in matcher.sections.strands_of(reference.provisions):
                key = (slug, f"section {provisions.describe(reference.provisions)}")
                weight = _STRAND_WEIGHT[field]["section"]
                if strand_cues.get(key, (0.0, ""))[0] < weight:
                    strand_cues[key] = (weight, field)
                signal(f"strand:{slug}:{field}", weight)
                note(
                    Evidence(
                        provisions.describe(reference.provisions),
                        "section",
                        field,
                        text[reference.start : reference.end],
                        slug,
                    )
                )
            signal(f"reference:{field}")
            if reference.owner == "ours":
                relevance[f"reference {field}"] = _RELEVANCE_WEIGHT[field]["section"]

    for seen, (snippet, _) in matched.items():
        kind, cue_text, field, target = seen
        evidence[seen] = Evidence(
            cue_text, kind, field, snippet, target, None, _SHOWN_WEIGHT[field][kind]
        )

    weights = list(relevance.values())
    if weights:
        weights.extend(sorted(context.values(), reverse=True)[:CONTEXT_LIMIT])
    confidence = _noisy_or(weights)
    signals["rules:positive"] = _logit(confidence)
    act_named = bool(act_fields)

    instrument = _is_instrument(item)
    instrument_title = instrument or bool(_INSTRUMENT_TITLE.search(item.title))
    rejected_by_rule = False
    if not other_acts and instrument_title and not act_in_title:
        enabling = _enabling_acts(item.summary, names)
        if enabling:
            other_acts = enabling
            signal("other_act:enabling")
    if other_acts:
        note(Evidence("another Act", "other_act", "title", "; ".join(other_acts)))
        signal("other_act:title")
        if instrument_title and matcher.reject_other_acts and not act_in_title:
            confidence = min(confidence, OTHER_ACT_CAP)
            rejected_by_rule = True
            signal("other_act:instrument")
        elif not act_in_title:
            confidence *= OTHER_ACT_NEWS_FACTOR
    elif other_acts_in_summary and not act_named:
        signal("other_act:summary")
    for field in negatives:
        signal(f"negative:{field}")
        if field == "title" and not act_in_title:
            confidence = min(confidence, NEGATIVE_TITLE_CAP)
        else:
            confidence *= NEGATIVE_FACTOR[field]

    # Another jurisdiction: its government's link or legislation, its names in the title, in
    # the summary. An item naming the Act is only weakened (the Act has provisions on Scotland).
    place = _jurisdiction_of_link(matcher, host, item.link)
    if place:
        note(Evidence(place, "jurisdiction", "link", host or item.link, place))
        signal("jurisdiction:link")
        confidence *= JURISDICTION_NAMED_FACTOR if act_in_title else JURISDICTION_LINK_FACTOR
    # Another place named beside England ("English councils ... Scottish secure units") is not
    # the item's subject on its own.
    elsewhere = {
        field: places - {"home"}
        for field, places in jurisdictions.items()
        if places - {"home"} and "home" not in places
    }
    beside_home = {
        field for field, places in jurisdictions.items() if "home" in places and len(places) > 1
    }
    if "title" in elsewhere:
        signal("jurisdiction:title")
        if act_named:
            confidence *= JURISDICTION_NAMED_FACTOR
        else:
            confidence = min(confidence, JURISDICTION_TITLE_CAP)
    if "summary" in elsewhere or "title" in beside_home:
        signal("jurisdiction:summary")
        if not act_named:
            confidence *= JURISDICTION_SUMMARY_FACTOR
    if "content" in elsewhere:
        signal("jurisdiction:content")
    if jurisdictions and any("home" in places for places in jurisdictions.values()):
        signal("jurisdiction:home")

    introduced = matcher.introduced
    if introduced is not None and item.published is not None and item.published < introduced:
        years = (introduced - item.published).days / 365.25
        signal("published:before_act")
        signal("published:years_before_act", min(years, 10.0) / 5)
        note(
            Evidence(
                "published before the Bill",
                "date",
                "meta",
                item.published.isoformat(),
            )
        )

    # Whether the item is about the Act's own provisions: it names the Act or one of its
    # sections, or a strand the Act provides for (one with sections).
    statutory = (
        act_named
        or any(slug in matcher.statutory_strands for slug, _ in strand_cues)
        or bool(signals.get("reference:title") or signals.get("reference:summary"))
    )
    type_scores = _type_scores(
        matcher, item, scanned, instrument and bool(act_in_title), note, statutory, sentences
    )
    for slug, score in type_scores.items():
        if score:
            signals[f"type:{slug}"] = math.log1p(score)
    event_type = _best_type(matcher, type_scores, instrument and bool(act_in_title), note, item)

    strand_scores = _strand_scores(strand_cues)
    for slug, score in strand_scores.items():
        signals[f"strand:{slug}"] = score
    strands = _strands(matcher, strand_scores)
    commencements: tuple[StrandCommencement, ...] = ()
    if event_type in matcher.legislation_types and instrument_title:
        commencements = _commencements(matcher, item, instrument_text)
        by_section = [entry.strand for entry in commencements if entry.strand is not None]
        if commencements:
            signal("commenced:provisions", min(len(commencements), 5) / 5)
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
    if act_in_title:
        signal("act:in_title")
    if instrument:
        signal("instrument")
        if act_in_title:
            signal("instrument:of_act")

    signals["rules:confidence"] = _logit(confidence)
    if confidence >= matcher.relevant_threshold:
        state = "relevant"
    elif confidence >= matcher.uncertain_threshold:
        state = "uncertain"
    else:
        state = "rejected"
    ordered = sorted(evidence.values(), key=_weight, reverse=True)[:MAX_EVIDENCE]
    classification = Classification(
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
    return Reading(classification, signals, type_scores, strand_scores, rejected_by_rule)


_weight = attrgetter("weight")


def _logit(probability: float) -> float:
    clamped = min(max(probability, 0.01), 0.99)
    return math.log(clamped / (1 - clamped))


def _noisy_or(weights: Iterable[float]) -> float:
    miss = 1.0
    for weight in weights:
        miss *= 1.0 - weight
    return 1.0 - miss


# A link whose host is plain letters, digits, dots and hyphens, right after the scheme and
# before the path: its host is what urlsplit would say, without urlsplit's work.
_PLAIN_HOST = re.compile(r"https?://([A-Za-z0-9.\-]+)(?=[/?#]|\Z)")


def _host(link: str) -> str:
    if not link:
        return ""
    plain = _PLAIN_HOST.match(link)
    if plain is not None and "\t" not in link and "\n" not in link and "\r" not in link:
        # urlsplit drops tabs and line breaks anywhere in a link first: those go its way.
        return plain[1].lower().rstrip(".")
    try:
        return (urlsplit(link).hostname or "").lower().rstrip(".")
    except ValueError:
        return ""


def _suffixes(host: str) -> list[str]:
    """www.gov.wales -> [www.gov.wales, gov.wales, wales]: each domain the host is under."""
    if not host:
        return []
    labels = host.split(".")
    return [".".join(labels[index:]) for index in range(len(labels))]


def _jurisdiction_of_link(matcher: Matcher, host: str, link: str) -> str | None:
    if not host:
        return None
    for suffix in _suffixes(host):
        place = matcher.domain_places.get(suffix)
        if place is not None:
            return place
    for place, (_, legislation) in matcher.jurisdictions.items():
        if legislation and "legislation" in host:
            kind = _LEGISLATION_TYPE.match(urlsplit(link).path)
            if kind and kind[1] in legislation:
                return place
    return None


def _exclusion_masks(
    scanned: Iterable[tuple[str, str, list[Match]]], note: Any
) -> dict[str, list[tuple[str, int, int]]]:
    masks: dict[str, list[tuple[str, int, int]]] = {}
    for field, text, matches in scanned:
        for match in matches:
            if match.group not in ("exclusion", "shared"):
                continue
            for cue in match.roles:
                assert cue.target is not None
                target = cue.target if match.group == "exclusion" else f"@{cue.target}"
                masks.setdefault(target, []).append((field, match.start, match.end))
                if match.group == "exclusion":
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


def _enabling_acts(summary: str, names: tuple[str, ...]) -> list[str]:
    """The other Acts an instrument's summary says it is made under."""
    if "Act" not in summary:
        return []
    ours = {" ".join(name.replace("*", "").split()).lower() for name in names}
    found = []
    for match in _ENABLING_ACT.finditer(summary[:1000]):
        act = " ".join(match[1].split())
        named = act.lower().removeprefix("the ")
        # "made under the Children and Social Work Act 2017" is ours, however much was captured.
        if not any(name.endswith(named) or named.endswith(name) for name in ours if name):
            found.append(act)
    return found


def _passing_spans(sentences: _Sentences, matches: list[Match]) -> list[tuple[int, int]]:
    """Where a summary only mentions things in passing: after its first sentence, and inside
    subordinate clauses ("following", "which", "including"); merged, in order."""
    text = sentences.text
    lead_end = sentences.lead_end
    spans: list[tuple[int, int]] = []
    starts: list[int] | None = None
    for match in matches:
        if match.group != "modality" or match.start >= lead_end:
            continue
        if not any(cue.kind == "subordinate" for cue in match.roles):
            continue
        if starts is None:
            starts = sentences.starts()
        end = next((start for start in starts if start > match.start), lead_end)
        end = min(end, lead_end)
        if spans and match.start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((match.start, end))
    if sentences.has_lead:
        spans.append((lead_end, len(text)))
    return spans


def _sentences(cache: dict[str, _Sentences], field: str, text: str) -> _Sentences:
    found = cache.get(field)
    if found is None:
        found = cache[field] = _Sentences(text)
    return found


def _in_spans(spans: list[tuple[int, int]], position: int) -> bool:
    for start, end in spans:
        if position < start:
            return False
        if position < end:
            return True
    return False


def _clauses(text: str) -> list[int]:
    """Where each sentence or clause of a text starts (0 first)."""
    dashed = "-" in text or "\u2013" in text or "\u2014" in text
    pattern = _SENTENCE_BREAK if dashed else _SENTENCE_BREAK_NO_DASH
    return [0, *(match.end() for match in pattern.finditer(text))]


class _Sentences:
    """Where a text's first sentence ends and its clauses start, found once for the rules that
    ask (the passing mentions and the types)."""

    __slots__ = ("_starts", "has_lead", "lead_end", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        lead = _FIRST_SENTENCE.search(text)
        self.has_lead = lead is not None
        self.lead_end = lead.end() if lead else len(text)
        self._starts: list[int] | None = None

    def starts(self) -> list[int]:
        if self._starts is None:
            self._starts = _clauses(self.text)
        return self._starts


def _type_scores(
    matcher: Matcher,
    item: ItemText,
    scanned: Iterable[tuple[str, str, list[Match]]],
    instrument_of_act: bool,
    note: Any,
    statutory: bool = True,
    sentences: dict[str, _Sentences] | None = None,
) -> dict[str, float]:
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
    # The strongest cue per type and clause: "£2.4 million" is one mention of money, not two.
    best_cue: dict[tuple[str, str, int], tuple[float, str, str, str]] = {}
    headline: dict[str, str] = {}  # the sense of each type's cue in the title
    if sentences is None:
        sentences = {}
    for field, text, matches in scanned:
        starts: list[int] | None = None
        lead_end = len(text)
        markers: list[tuple[int, int, set[str]]] | None = None
        for group, roles, start, end in matches:
            if group != "type":
                continue
            if starts is None or markers is None:
                found = _sentences(sentences, field, text)
                starts = found.starts()
                lead_end = found.lead_end
                # Each marker's kinds once per text, not once per type cue it may govern.
                markers = [
                    (match.start, match.end, {cue.kind for cue in match.roles})
                    for match in matches
                    if match.group == "modality"
                ]
            clause = _clause_start(starts, start)
            if field == "title":
                weight = TYPE_TITLE
            elif field == "content":
                weight = TYPE_CONTENT
            elif start < lead_end:
                weight = TYPE_LEAD
            else:
                weight = TYPE_LATER
            sense = _sense(markers, clause, start, end, text)
            if sense == "future" or sense == "complaint":
                slugs = {cue.target for cue in roles}
                if sense == "future" and not slugs & matcher.tense_sensitive:
                    sense = "main"  # "will receive £12m" is still money announced
                if sense == "complaint" and not slugs & matcher.complaint_sensitive:
                    sense = "main"
            for cue in roles:
                assert cue.target is not None
                slug = cue.target
                cue_sense = sense
                if field == "title":
                    headline.setdefault(slug, sense)
                elif headline.get(slug) in ("complaint", "negated") and sense == "main":
                    cue_sense = headline[slug]  # the headline's sense carries to the summary
                if cue_sense == "negated" or cue_sense == "complaint":
                    # Denied, or complained of ("a funding shortfall"): not what is announced.
                    note(Evidence(cue.text, cue_sense, field, text[start:end], None, slug))
                    continue
                cue_weight = weight * SENSE_FACTOR.get(cue_sense, 1.0)
                if slug in matcher.statutory_types and not statutory:
                    # Only the Act's own provisions come into force: a trust "taking over"
                    # services is not a commencement.
                    cue_weight *= FUTURE_FACTOR
                    cue_sense = "not statutory"
                key = (slug, field, clause)
                if best_cue.get(key, (0.0, "", "", ""))[0] < cue_weight:
                    best_cue[key] = (cue_weight, cue.text, text[start:end], cue_sense)
    for (slug, field, _), (weight, cue_text, snippet, sense) in best_cue.items():
        scores[slug] += weight
        kind = "type" if sense == "main" else f"type ({sense})"
        note(Evidence(cue_text, kind, field, snippet, None, slug, round(weight, 3)))
    return scores


def _clause_start(starts: list[int], position: int) -> int:
    """The start of the clause holding `position`: starts are ascending and begin with 0."""
    return starts[bisect_right(starts, position) - 1]


def _sense(
    markers: list[tuple[int, int, set[str]]], clause: int, start: int, end: int, text: str
) -> str:
    """How a cue is meant: main (announced), subordinate, future, negated or complaint."""
    # "to become law", "set to come into force": an infinitive names an event not yet done.
    preceding = text[max(0, start - 4) : start].rstrip().lower()
    infinitive = preceding.endswith("to") and (len(preceding) == 2 or not preceding[-3].isalnum())
    sense = "future" if infinitive else "main"
    sentence_end = -1  # found when a complaint word asks for it: most cues have none near
    for marker_start, marker_end, kinds in markers:
        before = clause <= marker_start and marker_end <= start
        near = before and start - marker_end <= MODAL_WINDOW
        if near and "negation" in kinds:
            return "negated"
        if near and "future" in kinds:
            sense = "future"
        elif before and "subordinate" in kinds and sense == "main":
            sense = "subordinate"
        elif "complaint" in kinds and clause <= marker_start and sense in ("main", "subordinate"):
            if sentence_end < 0:
                sentence_end = text.find(". ", end)
                sentence_end = len(text) if sentence_end < 0 else sentence_end
            if marker_start < sentence_end:
                sense = "complaint"
    return sense


def _best_type(
    matcher: Matcher,
    scores: dict[str, float],
    instrument_of_act: bool,
    note: Any,
    item: ItemText,
) -> str:
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

    # Every type competes, the fallback's own cues (a speech, a report) included; the fallback
    # also wins when no type has enough evidence.
    best = max(matcher.type_order, key=scores.__getitem__)
    if scores[best] >= TYPE_MIN:
        return best
    return FALLBACK_TYPE if FALLBACK_TYPE in scores else matcher.type_order[-1]


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


def _strand_scores(strand_cues: dict[tuple[str, str], tuple[float, str]]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for (slug, _), (weight, _field) in strand_cues.items():
        scores[slug] = scores.get(slug, 0.0) + weight
    return scores


def _strands(matcher: Matcher, scores: dict[str, float]) -> tuple[str, ...]:
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
