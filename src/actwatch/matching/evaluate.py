"""Score the matcher on labelled items (JSON lines, like actwatch/matching/data/dev.jsonl).

Each line: {"id", "title", "summary", "link", "published", "source",
"expected": {"relevant": bool, "type": slug or null, "strands": [slugs]}}. Items are classified in
memory; nothing touches a database. GOV.UK titles keep their "Press release: " prefix in the
file, so it is split off exactly as the feeds stage does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from actwatch.feeds.normalize import split_display_type
from actwatch.matching.classify import classify
from actwatch.matching.matcher import Matcher
from actwatch.matching.model import Classification, ItemText

GOVUK_SOURCES = frozenset({"gov.uk", "www.gov.uk", "govuk"})
GOVUK_HOME = "https://www.gov.uk/"


class LabelError(ValueError):
    """A line of a labelled file that cannot be scored."""


@dataclass(frozen=True, slots=True)
class LabelledItem:
    id: str
    item: ItemText
    relevant: bool
    event_type: str | None
    strands: frozenset[str]


@dataclass(frozen=True, slots=True)
class Miss:
    id: str
    title: str
    what: str  # relevance, type, strands
    expected: Any
    got: Any
    classification: Classification

    def as_dict(self) -> dict[str, Any]:
        result = self.classification
        return {
            "id": self.id,
            "title": self.title,
            "what": self.what,
            "expected": self.expected,
            "got": self.got,
            "state": result.state,
            "confidence": result.confidence,
            "type": result.event_type,
            "strands": list(result.strands),
            "evidence": result.evidence_dicts(),
        }


@dataclass(frozen=True, slots=True)
class Scores:
    items: int
    relevance: dict[str, float]
    type_accuracy: float
    strands: dict[str, float]
    misses: list[Miss] = field(default_factory=list)
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # expected -> got -> n
    type_recall: dict[str, dict[str, float]] = field(default_factory=dict)
    per_strand: dict[str, dict[str, float]] = field(default_factory=dict)
    uncertain: dict[str, Any] = field(default_factory=dict)
    folds: int | None = None

    def as_dict(self, *, misses: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "items": self.items,
            "relevance": self.relevance,
            "type": {
                "accuracy": self.type_accuracy,
                "recall": self.type_recall,
                "confusion": self.confusion,
            },
            "strands": {**self.strands, "per_strand": self.per_strand},
            "uncertain": self.uncertain,
        }
        if self.folds:
            data["folds"] = self.folds
        if misses:
            data["misses"] = [miss.as_dict() for miss in self.misses]
        return data


def item_from_labelled(record: dict[str, Any]) -> ItemText:
    link = str(record.get("link") or "")
    # Items from GOV.UK feeds carry the display-type prefix even when they link elsewhere
    # (consult.education.gov.uk): the labelled source says where the title came from.
    from_govuk = str(record.get("source") or "").lower() in GOVUK_SOURCES
    title, type_hint = split_display_type(
        str(record.get("title") or ""), GOVUK_HOME if from_govuk else (link or None)
    )
    meta: dict[str, Any] = {}
    if isinstance(record.get("source_meta"), dict):
        meta = dict(record["source_meta"])
    if type_hint:
        meta.setdefault("display_type", type_hint)
    return ItemText(
        title=title,
        summary=str(record.get("summary") or ""),
        content=str(record.get("content") or ""),
        type_hint=type_hint,
        link=link,
        source_meta=meta,
        published=_date(record.get("published")),
    )


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def load_labelled(
    path: Path, known_strands: Iterable[str], known_types: Iterable[str]
) -> list[LabelledItem]:
    strands_known = set(known_strands)
    types_known = set(known_types)
    labelled: list[LabelledItem] = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                record = json.loads(line)
                expected = record["expected"]
                relevant = bool(expected["relevant"])
                event_type = expected.get("type")
                strands = frozenset(expected.get("strands") or ())
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
                raise LabelError(f"{where}: not a labelled item ({exc})") from None
            if event_type is not None and event_type not in types_known:
                raise LabelError(f"{where}: unknown type {event_type!r}")
            if unknown := sorted(strands - strands_known):
                raise LabelError(f"{where}: unknown strand(s) {', '.join(unknown)}")
            labelled.append(
                LabelledItem(
                    id=str(record.get("id") or number),
                    item=item_from_labelled(record),
                    relevant=relevant,
                    event_type=event_type,
                    strands=strands,
                )
            )
    return labelled


def _prf(true_positive: int, false_positive: int, false_negative: int) -> dict[str, float]:
    precision = (
        true_positive / (true_positive + false_positive) if true_positive + false_positive else 1.0
    )
    recall = (
        true_positive / (true_positive + false_negative) if true_positive + false_negative else 1.0
    )
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


# Commencement and pilot news are the product's reason to exist: their recall is shown first.
FIRST_TYPES = ("commencement", "pilot")


def evaluate(matcher: Matcher, labelled: Iterable[LabelledItem]) -> Scores:
    """Classify each item with the matcher as it is and score the verdicts."""
    return score([(entry, classify(matcher, entry.item)) for entry in labelled])


def score(
    results: Sequence[tuple[LabelledItem, Classification]], folds: int | None = None
) -> Scores:
    """Relevance P/R/F1 (uncertain counts as not relevant), type accuracy, confusion and recall
    over the items labelled relevant, strand micro and per-strand P/R/F1 over all items (a
    rejected item predicts no strands), the uncertain queue, and every miss."""
    counts = {"tp": 0, "fp": 0, "fn": 0, "stp": 0, "sfp": 0, "sfn": 0, "typed": 0, "typed_ok": 0}
    confusion: dict[str, dict[str, int]] = {}
    per_strand: dict[str, list[int]] = {}
    queue = {"relevant": 0, "irrelevant": 0}
    labelled_relevant = 0
    misses: list[Miss] = []
    for entry, result in results:
        predicted = result.relevant
        labelled_relevant += entry.relevant
        if result.state == "uncertain":
            queue["relevant" if entry.relevant else "irrelevant"] += 1
        if predicted and entry.relevant:
            counts["tp"] += 1
        elif predicted:
            counts["fp"] += 1
        elif entry.relevant:
            counts["fn"] += 1
        if predicted != entry.relevant:
            misses.append(
                Miss(entry.id, entry.item.title, "relevance", entry.relevant, result.state, result)
            )
        if entry.relevant:
            expected_type = entry.event_type or "other"
            counts["typed"] += 1
            row = confusion.setdefault(expected_type, {})
            row[result.event_type] = row.get(result.event_type, 0) + 1
            if result.event_type == expected_type:
                counts["typed_ok"] += 1
            else:
                misses.append(
                    Miss(
                        entry.id, entry.item.title, "type", expected_type, result.event_type, result
                    )
                )
        got = frozenset(result.strands) if predicted else frozenset()
        counts["stp"] += len(got & entry.strands)
        counts["sfp"] += len(got - entry.strands)
        counts["sfn"] += len(entry.strands - got)
        for slug in got | entry.strands:
            tally = per_strand.setdefault(slug, [0, 0, 0])
            tally[0 if slug in got and slug in entry.strands else 1 if slug in got else 2] += 1
        if got != entry.strands:
            misses.append(
                Miss(
                    entry.id,
                    entry.item.title,
                    "strands",
                    sorted(entry.strands),
                    sorted(got),
                    result,
                )
            )
    total = len(results)
    irrelevant = total - labelled_relevant
    type_recall = {}
    for slug in sorted(
        confusion,
        key=lambda s: (s not in FIRST_TYPES, FIRST_TYPES.index(s) if s in FIRST_TYPES else 0, s),
    ):
        row = confusion[slug]
        support = sum(row.values())
        type_recall[slug] = {"recall": round(row.get(slug, 0) / support, 4), "support": support}
    return Scores(
        items=total,
        relevance=_prf(counts["tp"], counts["fp"], counts["fn"]),
        type_accuracy=round(counts["typed_ok"] / counts["typed"], 4) if counts["typed"] else 1.0,
        strands=_prf(counts["stp"], counts["sfp"], counts["sfn"]),
        misses=misses,
        confusion=confusion,
        type_recall=type_recall,
        per_strand={
            slug: {**_prf(*per_strand[slug]), "support": per_strand[slug][0] + per_strand[slug][2]}
            for slug in sorted(per_strand)
        },
        uncertain={
            "relevant": queue["relevant"],
            "irrelevant": queue["irrelevant"],
            "share_of_relevant": round(queue["relevant"] / labelled_relevant, 4)
            if labelled_relevant
            else 0.0,
            "share_of_irrelevant": round(queue["irrelevant"] / irrelevant, 4)
            if irrelevant
            else 0.0,
        },
        folds=folds,
    )


def fold_of(entry: LabelledItem, folds: int) -> int:
    """A fixed fold per item (by a hash of its id), so runs are repeatable."""
    digest = hashlib.sha256(entry.id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % folds


def assign_folds(labelled: Sequence[LabelledItem], folds: int) -> list[int]:
    """Folds stratified by label (relevance and type), in a fixed order within each label."""
    strata: dict[tuple[bool, str | None], list[int]] = {}
    for index, entry in enumerate(labelled):
        strata.setdefault((entry.relevant, entry.event_type), []).append(index)
    assigned = [0] * len(labelled)
    offset = 0
    for key in sorted(strata, key=lambda k: (k[0], k[1] or "")):
        members = sorted(
            strata[key], key=lambda i: hashlib.sha256(labelled[i].id.encode()).hexdigest()
        )
        for position, index in enumerate(members):
            assigned[index] = (offset + position) % folds
        offset += len(members)
    return assigned


def cross_validated(
    matcher: Matcher,
    labelled: Sequence[LabelledItem],
    folds: int,
    extra: Sequence[Any] = (),
    weights: Sequence[float] | None = None,
) -> list[tuple[LabelledItem, Classification]]:
    """k-fold cross-validation: each item is classified by a scorer trained without it.

    Each fold's scorer trains on the other folds plus `extra` examples (shipped data that is
    not in the file, the editor's decisions); the rules are the same throughout.
    """
    from actwatch.matching.learned import examples_from, train, with_model

    if folds < 2:
        raise ValueError("cross-validation needs at least 2 folds")
    rules = with_model(matcher, None)
    assigned = assign_folds(labelled, folds)
    examples = examples_from(labelled, weights)
    results: list[tuple[LabelledItem, Classification] | None] = [None] * len(labelled)
    for fold in range(folds):
        training = [*extra, *(e for e, f in zip(examples, assigned, strict=True) if f != fold)]
        fitted = with_model(rules, train(rules, training))
        for index, entry in enumerate(labelled):
            if assigned[index] == fold:
                results[index] = (entry, classify(fitted, entry.item))
    return [pair for pair in results if pair is not None]


def cross_validate(
    matcher: Matcher,
    labelled: Sequence[LabelledItem],
    folds: int,
    extra: Sequence[Any] = (),
) -> Scores:
    return score(cross_validated(matcher, labelled, folds, extra), folds=folds)


def without(examples: Sequence[Any], labelled: Sequence[LabelledItem]) -> list[Any]:
    """The examples that are not among the labelled items (same id, or same title and link)."""
    ids = {entry.id for entry in labelled}
    seen = {(entry.item.title.strip().lower(), entry.item.link) for entry in labelled}
    return [
        example
        for example in examples
        if example.id not in ids
        and (example.item.title.strip().lower(), example.item.link) not in seen
    ]
