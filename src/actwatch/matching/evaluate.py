"""Score the matcher on labelled items (the JSON-lines format of src/actwatch/matching/data/dev.jsonl).

Each line: {"id", "title", "summary", "link", "published", "source",
"expected": {"relevant": bool, "type": slug or null, "strands": [slugs]}}. Items are classified in
memory; nothing touches a database. GOV.UK titles keep their "Press release: " prefix in the
file, so it is split off exactly as the feeds stage does.
"""

from __future__ import annotations

import json
from datetime import date
from collections.abc import Iterable
from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class Scores:
    items: int
    relevance: dict[str, float]
    type_accuracy: float
    strands: dict[str, float]
    misses: list[Miss] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "relevance": self.relevance,
            "type": {"accuracy": self.type_accuracy},
            "strands": self.strands,
        }


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


def evaluate(matcher: Matcher, labelled: Iterable[LabelledItem]) -> Scores:
    """Relevance P/R/F1 (uncertain counts as not relevant), type accuracy over the items labelled
    relevant, strand micro P/R/F1 over all items (a rejected item predicts no strands)."""
    counts = {"tp": 0, "fp": 0, "fn": 0, "stp": 0, "sfp": 0, "sfn": 0, "typed": 0, "typed_ok": 0}
    misses: list[Miss] = []
    total = 0
    for entry in labelled:
        total += 1
        result = classify(matcher, entry.item)
        predicted = result.relevant
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
            counts["typed"] += 1
            if result.event_type == entry.event_type:
                counts["typed_ok"] += 1
            else:
                misses.append(
                    Miss(
                        entry.id,
                        entry.item.title,
                        "type",
                        entry.event_type,
                        result.event_type,
                        result,
                    )
                )
        got = frozenset(result.strands) if predicted else frozenset()
        counts["stp"] += len(got & entry.strands)
        counts["sfp"] += len(got - entry.strands)
        counts["sfn"] += len(entry.strands - got)
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
    return Scores(
        items=total,
        relevance=_prf(counts["tp"], counts["fp"], counts["fn"]),
        type_accuracy=round(counts["typed_ok"] / counts["typed"], 4) if counts["typed"] else 1.0,
        strands=_prf(counts["stp"], counts["sfp"], counts["sfn"]),
        misses=misses,
    )
