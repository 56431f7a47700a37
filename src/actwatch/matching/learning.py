"""`actwatch learn`: the editor's decisions become labelled examples for the learned scorer.

A decision is what the editor said about an item: relevant or not (picked from or dismissed in
the uncertain queue, added by hand, excluded from a bulletin), its type, its strands. `learn`
takes them in (`learned_examples`, a snapshot of the item's words and the labels), retrains the
scorer on the shipped data plus these examples, reclassifies the stored items, and reports
cross-validated scores before and after:
- on the training data as a whole (shipped sets and decisions);
- on the decisions alone: before, the matcher as it was (which never saw them); after, each
  decision judged by a scorer trained on the others (k-fold), so agreement is not memorised.
Approved bulletins never change: they are frozen copies (review), and `learn` writes only the
matching stage's tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from actwatch.config import Config
from actwatch.db.schema import item_matches, item_strands, items, learned_examples
from actwatch.matching.evaluate import LabelledItem, Scores, cross_validated, evaluate, score
from actwatch.matching.instruments import InstrumentFetcher
from actwatch.matching.learned import Example
from actwatch.matching.matcher import compile_rules
from actwatch.matching.store import (
    ClassifyReport,
    learned,
    load_matcher,
    reclassify,
    shipped_examples,
)

DEFAULT_FOLDS = 5
# An installation's own editor knows its readers: their decisions count more than one shipped
# example each.
EDITOR_WEIGHT = 3.0


@dataclass(frozen=True, slots=True)
class Decision:
    """An editor's word on an item; None leaves that part to what is stored."""

    item_id: int
    relevant: bool
    event_type: str | None = None
    strands: tuple[str, ...] | None = None


@dataclass(frozen=True)
class LearnReport:
    decisions: int
    examples_before: int
    examples_after: int
    before: Scores  # cross-validated over shipped data plus the examples learned earlier
    after: Scores  # cross-validated over shipped data plus every decision
    decisions_before: Scores | None  # the matcher as it was, on the decisions
    decisions_after: Scores | None  # each decision judged by a scorer trained without it
    reclassified: ClassifyReport

    def as_dict(self) -> dict[str, Any]:
        def brief(scores: Scores | None) -> dict[str, Any] | None:
            if scores is None:
                return None
            return scores.as_dict(misses=False)

        return {
            "decisions": self.decisions,
            "examples_before": self.examples_before,
            "examples_after": self.examples_after,
            "before": brief(self.before),
            "after": brief(self.after),
            "decisions_before": brief(self.decisions_before),
            "decisions_after": brief(self.decisions_after),
            "reclassified": self.reclassified.as_dict(),
        }


def stored_decisions(connection: Connection) -> list[Decision]:
    """The decisions kept beside the matcher's verdicts (queue picks and dismissals, manual
    items, type and strand changes)."""
    rows = connection.execute(
        select(
            item_matches.c.item_id,
            item_matches.c.editor_state,
            item_matches.c.editor_event_type,
            item_matches.c.editor_strands,
        ).where(
            (item_matches.c.editor_state.is_not(None))
            | (item_matches.c.editor_event_type.is_not(None))
            | (item_matches.c.editor_strands.is_not(None))
        )
    ).all()
    found = []
    for row in rows:
        relevant = row.editor_state != "rejected"
        strands = row.editor_strands if isinstance(row.editor_strands, list) else None
        found.append(
            Decision(
                row.item_id,
                relevant,
                row.editor_event_type,
                tuple(strands) if strands is not None else None,
            )
        )
    return found


def merge(*sources: Iterable[Decision]) -> list[Decision]:
    """One decision per item; a later source fills in what an earlier one left open."""
    merged: dict[int, Decision] = {}
    for source in sources:
        for decision in source:
            earlier = merged.get(decision.item_id)
            if earlier is None:
                merged[decision.item_id] = decision
                continue
            merged[decision.item_id] = Decision(
                decision.item_id,
                earlier.relevant,
                earlier.event_type or decision.event_type,
                earlier.strands if earlier.strands is not None else decision.strands,
            )
    return [merged[item_id] for item_id in sorted(merged)]


def decision_examples(connection: Connection, decisions: Sequence[Decision]) -> list[Example]:
    """Each decision as a labelled example: the item's words, the editor's labels, and the
    stored type and strands where the editor said nothing about them."""
    if not decisions:
        return []
    ids = [decision.item_id for decision in decisions]
    rows = {
        row.id: row
        for row in connection.execute(
            select(
                items.c.id,
                items.c.title,
                items.c.summary,
                items.c.type_hint,
                items.c.link,
                items.c.published_at,
                item_matches.c.event_type,
            )
            .select_from(items.outerjoin(item_matches, item_matches.c.item_id == items.c.id))
            .where(items.c.id.in_(ids))
        )
    }
    strands: dict[int, list[str]] = {}
    for item_id, slug in connection.execute(
        select(item_strands.c.item_id, item_strands.c.strand).where(item_strands.c.item_id.in_(ids))
    ):
        strands.setdefault(item_id, []).append(slug)
    from actwatch.matching.model import ItemText

    examples = []
    for decision in decisions:
        row = rows.get(decision.item_id)
        if row is None:
            continue
        published = row.published_at
        examples.append(
            Example(
                item=ItemText(
                    title=row.title or "",
                    summary=row.summary or "",
                    type_hint=row.type_hint,
                    link=row.link or "",
                    published=published.date() if isinstance(published, datetime) else None,
                ),
                relevant=decision.relevant,
                event_type=(decision.event_type or row.event_type) if decision.relevant else None,
                strands=frozenset(
                    decision.strands
                    if decision.strands is not None
                    else strands.get(decision.item_id, ())
                )
                if decision.relevant
                else frozenset(),
                id=f"item-{decision.item_id}",
                weight=EDITOR_WEIGHT,
            )
        )
    return examples


def decisions_labelled(
    engine: Engine, bulletin_decisions: Iterable[Decision] = ()
) -> list[LabelledItem]:
    """Every editor decision as a labelled item (for `evaluate --decisions`)."""
    with engine.connect() as connection:
        decided = merge(stored_decisions(connection), bulletin_decisions)
        return _labelled(decision_examples(connection, decided))


def _labelled(examples: Sequence[Example]) -> list[LabelledItem]:
    return [
        LabelledItem(
            id=example.id or f"example-{index}",
            item=example.item,
            relevant=example.relevant,
            event_type=example.event_type,
            strands=example.strands,
        )
        for index, example in enumerate(examples)
    ]


def learn(
    engine: Engine,
    config: Config,
    bulletin_decisions: Iterable[Decision] = (),
    *,
    folds: int = DEFAULT_FOLDS,
    now: datetime,
) -> LearnReport:
    """Take in every decision, retrain, reclassify; scores before and after."""
    with engine.connect() as connection:
        decisions = merge(stored_decisions(connection), bulletin_decisions)
        examples = decision_examples(connection, decisions)
        earlier = learned(connection)
    shipped = shipped_examples(config)
    matcher_before = load_matcher(engine, config)
    rules = compile_rules(config)
    old_set = [*shipped, *earlier]
    new_set = [*shipped, *examples]
    before = score(cross_validated(rules, _labelled(old_set), folds, weights=_weights(old_set)))
    results = cross_validated(rules, _labelled(new_set), folds, weights=_weights(new_set))
    after = score(results, folds=folds)
    decided = {f"item-{decision.item_id}" for decision in decisions}
    decisions_before = evaluate(matcher_before, _labelled(examples)) if examples else None
    decisions_after = (
        score([pair for pair in results if pair[0].id in decided], folds=folds)
        if examples
        else None
    )

    with engine.begin() as connection:
        connection.execute(delete(learned_examples))
        rows = [
            {
                "item_id": int(example.id.removeprefix("item-")),
                "title": example.item.title,
                "summary": example.item.summary,
                "link": example.item.link,
                "type_hint": example.item.type_hint,
                "published_on": example.item.published,
                "relevant": example.relevant,
                "event_type": example.event_type,
                "strands": sorted(example.strands),
                "learned_at": now,
            }
            for example in examples
        ]
        if rows:
            connection.execute(insert(learned_examples), rows)
    # Stored instrument texts only: learning never reaches the network.
    fetcher = InstrumentFetcher.from_config(config, allowed_hosts=frozenset())
    try:
        report = reclassify(engine, config, matcher=load_matcher(engine, config), fetcher=fetcher)
    finally:
        fetcher.close()
    return LearnReport(
        decisions=len(decisions),
        examples_before=len(old_set),
        examples_after=len(new_set),
        before=before,
        after=after,
        decisions_before=decisions_before,
        decisions_after=decisions_after,
        reclassified=report,
    )


def _weights(examples: Sequence[Example]) -> list[float]:
    return [example.weight for example in examples]
