"""Apply the matcher to stored items: `classify_pending` after each poll, `reclassify` on demand.

Each item's verdict is replaced whole (its `item_matches` row, `item_strands` and
`commencements`) inside one transaction per batch, so running either twice changes nothing.
Verdicts are written in batches: one executemany per statement and batch, statements compiled
once (writing row by row was most of a cold poll).

An editor's decision is data the matcher respects, and the same data `actwatch learn` trains on:
- `item_matches.editor_state` (picked or dismissed), `editor_event_type` and `editor_strands`
  survive every reclassify; the stored `event_type` and `item_strands` are the editor's when the
  editor gave them, so every reader sees the decision; the matcher's own verdict is still
  refreshed beside it (`state`, `confidence`, `evidence`);
- items the editor excluded from a bulletin, or moved to another strand, are decisions too.

The learned scorer is trained from the shipped labelled sets plus the examples `learn` took in,
and cached in `matcher_models` under a key of everything it depends on.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from actwatch.config import Config
from actwatch.core.states import MatchState
from actwatch.db.schema import (
    commencements,
    item_matches,
    item_strands,
    items,
    learned_examples,
    matcher_models,
)
from actwatch.matching.classify import classify
from actwatch.matching.commencement import instrument_text
from actwatch.matching.instruments import (
    InstrumentFetcher,
    cached_texts,
    instrument_url,
    now_utc,
)
from actwatch.matching.matcher import Matcher, compile_rules
from actwatch.matching.model import ItemText, StoredText, VerdictToStore, item_text
from actwatch.matching.parallel import BatchClassifier, PendingVerdicts

if TYPE_CHECKING:
    # The learned scorer (NumPy) is imported by the functions that classify, so that reading
    # verdicts (the bulletins, the editor's pages) does not load it.
    from actwatch.matching.learned import Example, LearnedModel

log = logging.getLogger(__name__)
BATCH = 500
SHIPPED = ("train.jsonl", "dev.jsonl")
_MODELS: dict[str, LearnedModel] = {}  # trained or loaded in this process, by data key
_MODEL_MEMO = 4
KEEP_MODELS = 3  # cached in the database
# The editor's verdict on an item wins over the matcher's.
effective_state = func.coalesce(item_matches.c.editor_state, item_matches.c.state)


def decided(state: str) -> ColumnElement[bool]:
    """Verdicts that are `state`, the editor's winning: the rows `effective_state == state`
    selects, in a form the indexes on `editor_state` and `state` answer (no database can use an
    index for a comparison with coalesce(), so that form reads every verdict)."""
    return or_(
        item_matches.c.editor_state == state,
        and_(item_matches.c.editor_state.is_(None), item_matches.c.state == state),
    )


@dataclass
class ClassifyReport:
    classified: int = 0
    states: Counter[str] = field(default_factory=Counter)
    instruments_fetched: int = 0
    instrument_errors: int = 0
    seconds: float = 0.0  # the whole step: loading the matcher, classifying, storing verdicts

    @property
    def relevant(self) -> int:
        return self.states["relevant"]

    @property
    def uncertain(self) -> int:
        return self.states["uncertain"]

    @property
    def rejected(self) -> int:
        return self.states["rejected"]

    def as_dict(self) -> dict[str, int]:
        return {
            "classified": self.classified,
            "relevant": self.relevant,
            "uncertain": self.uncertain,
            "rejected": self.rejected,
            "instruments_fetched": self.instruments_fetched,
            "instrument_errors": self.instrument_errors,
        }


# --- the matcher: rules plus the learned scorer --------------------------------------------------


def shipped_examples(config: Config) -> list[Example]:
    """The labelled sets that ship with the package, read against the current rules."""
    from actwatch.matching.evaluate import item_from_labelled

    examples: list[Example] = []
    folder = resources.files("actwatch.matching") / "data"
    for name in SHIPPED:
        text = (folder / name).read_text(encoding="utf-8")
        examples.extend(_examples(config, text.splitlines(), item_from_labelled))
    return examples


def _examples(config: Config, lines: Iterable[str], reader: Any) -> list[Example]:
    from actwatch.matching.learned import Example

    examples = []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        expected = record["expected"]
        relevant = bool(expected["relevant"])
        event_type = expected.get("type")
        examples.append(
            Example(
                item=reader(record),
                relevant=relevant,
                # Labels the current rules do not know (a renamed strand) teach nothing.
                event_type=event_type if relevant and event_type in config.event_types else None,
                strands=frozenset(s for s in expected.get("strands") or () if s in config.strands)
                if relevant
                else frozenset(),
                id=str(record.get("id") or ""),
            )
        )
    return examples


def learned(connection: Connection) -> list[Example]:
    """The editor's decisions that `actwatch learn` took in."""
    from actwatch.matching.learned import Example

    rows = connection.execute(select(learned_examples).order_by(learned_examples.c.item_id)).all()
    return [
        Example(
            item=ItemText(
                title=row.title,
                summary=row.summary or "",
                type_hint=row.type_hint,
                link=row.link or "",
                published=row.published_on,
            ),
            relevant=bool(row.relevant),
            event_type=row.event_type if row.relevant else None,
            strands=frozenset(row.strands or ()) if row.relevant else frozenset(),
            id=f"item-{row.item_id}",
        )
        for row in rows
    ]


def trained_model(
    rules: Matcher, examples: Sequence[Example], connection: Connection | None = None
) -> LearnedModel:
    """The scorer for these rules and examples: from memory, the database cache, or trained."""
    from actwatch.matching.learned import LearnedModel, data_key

    key = data_key(rules, examples)
    model = _MODELS.get(key)
    cached = False
    if connection is not None:
        # The weights are read only when this process has not got them already.
        column = matcher_models.c.data_key if model is not None else matcher_models.c.body
        body = connection.execute(select(column).where(matcher_models.c.data_key == key)).scalar()
        cached = body is not None
        if model is None and isinstance(body, dict):
            try:
                model = LearnedModel.from_json(body)
            except (ValueError, KeyError, TypeError):
                cached = False  # a model of another version: train again, store anew
                connection.execute(delete(matcher_models).where(matcher_models.c.data_key == key))
    if model is None:
        model = train(rules, examples)
    if connection is not None and not cached:
        _cache_model(connection, key, model)
    if len(_MODELS) >= _MODEL_MEMO:
        _MODELS.clear()
    _MODELS[key] = model
    return model


def train(rules: Matcher, examples: Sequence[Example]) -> LearnedModel:
    """Fit the scorer (scikit-learn, imported only when a model must be trained)."""
    from actwatch.matching.learned import train as fit

    return fit(rules, examples)


def _cache_model(connection: Connection, key: str, model: LearnedModel) -> None:
    """Keep the model for the next process; only the newest few (rules change, decisions too)."""
    try:
        with connection.begin_nested():
            connection.execute(
                insert(matcher_models).values(
                    data_key=key,
                    created_at=now_utc(),
                    trained_on=model.trained_on,
                    body=model.to_json(),
                )
            )
    except IntegrityError:
        return  # another process trained the same model a moment ago: the same weights
    keep = (
        select(matcher_models.c.data_key)
        .order_by(matcher_models.c.created_at.desc(), matcher_models.c.data_key)
        .limit(KEEP_MODELS)
    )
    connection.execute(
        delete(matcher_models).where(matcher_models.c.data_key.not_in(keep.scalar_subquery()))
    )


def load_matcher(engine: Engine | None, config: Config) -> Matcher:
    """The matcher as it classifies stored items: the rules, and the learned scorer unless
    `matching.learned_scorer` is off."""
    from actwatch.matching.learned import with_model

    rules = compile_rules(config)
    if not config.matching.learned_scorer:
        return rules
    if engine is None:
        return with_model(rules, trained_model(rules, shipped_examples(config)))
    with engine.begin() as connection:
        examples = [*shipped_examples(config), *learned(connection)]
        return with_model(rules, trained_model(rules, examples, connection))


# --- classifying stored items ----------------------------------------------------------------


def classify_pending(
    engine: Engine,
    config: Config,
    *,
    fetcher: InstrumentFetcher | None = None,
    matcher: Matcher | None = None,
    executor: Executor | None = None,
    workers: int = 1,
) -> ClassifyReport:
    """Classify items never classified, classified by another matcher, or changed since.

    `executor`: worker processes (the poll's parse workers) that large batches are spread over.
    """
    return _run(engine, config, fetcher, matcher, executor, workers, everything=False)


def reclassify(
    engine: Engine,
    config: Config,
    *,
    fetcher: InstrumentFetcher | None = None,
    matcher: Matcher | None = None,
    executor: Executor | None = None,
    workers: int = 1,
) -> ClassifyReport:
    """Re-apply the current matcher to every stored item."""
    return _run(engine, config, fetcher, matcher, executor, workers, everything=True)


def _run(
    engine: Engine,
    config: Config,
    fetcher: InstrumentFetcher | None,
    matcher: Matcher | None,
    executor: Executor | None,
    workers: int,
    *,
    everything: bool,
) -> ClassifyReport:
    """Read a batch, classify it (in the workers when there are any), store the verdicts.

    While one batch is classified the previous one is stored and the next one read, so the
    workers never wait on the database. A verdict is stored only if the item still reads as it
    did when it was classified (checked in the transaction that stores it): an item a poll
    changed in between keeps its pending state and is classified again next time.
    """
    started = time.perf_counter()
    matcher = matcher or load_matcher(engine, config)
    classifier = BatchClassifier(matcher, executor, workers)
    fingerprint = matcher.fingerprint
    own_fetcher = fetcher is None and config.matching.fetch_instruments
    if own_fetcher:
        fetcher = InstrumentFetcher.from_config(config)
    report = ClassifyReport()
    in_hand: deque[tuple[Sequence[Any], PendingVerdicts]] = deque()
    try:
        last_id = 0
        exhausted = False
        while True:
            if not exhausted:
                with engine.connect() as connection:
                    rows = connection.execute(
                        _pending_query(fingerprint, last_id, everything)
                    ).all()
                if rows:
                    last_id = rows[-1].id
                    in_hand.append((rows, classifier.submit([_stored_text(row) for row in rows])))
                exhausted = len(rows) < BATCH
            if not in_hand:
                break
            if not exhausted and len(in_hand) < PIPELINE_DEPTH:
                continue
            rows, pending = in_hand.popleft()
            with engine.begin() as connection:
                now = now_utc()
                current, results = _still_current(connection, rows, pending.result())
                results = _with_instruments(connection, matcher, current, results, fetcher, now)
                _store(connection, current, results, fingerprint, now)
            report.classified += len(current)
            report.states.update(result.state for result in results)
    finally:
        for _, pending in in_hand:
            pending.cancel()
        if fetcher is not None:
            report.instruments_fetched = fetcher.fetched
            report.instrument_errors = fetcher.errors
            if own_fetcher:
                fetcher.close()
    report.seconds = time.perf_counter() - started
    return report


# What `item_text` reads from an item: every query that feeds the matcher selects these.
ITEM_TEXT_COLUMNS = tuple(items.c[name] for name in StoredText._fields)


# Batches in hand at once: one being stored while the next is classified.
PIPELINE_DEPTH = 2
_STORED_TEXT_WIDTH = len(StoredText._fields)


def _rows_query() -> Select[Any]:
    return select(
        *ITEM_TEXT_COLUMNS,
        item_matches.c.item_id.label("matched"),
        item_matches.c.editor_event_type,
        item_matches.c.editor_strands,
    ).select_from(items.outerjoin(item_matches, item_matches.c.item_id == items.c.id))


def _pending_query(fingerprint: str, after: int, everything: bool) -> Select[Any]:
    query = _rows_query().where(items.c.id > after).order_by(items.c.id).limit(BATCH)
    if not everything:
        query = query.where(
            or_(
                item_matches.c.item_id.is_(None),
                item_matches.c.rules_hash != fingerprint,
                and_(
                    items.c.last_changed_at.is_not(None),
                    items.c.last_changed_at >= item_matches.c.classified_at,
                ),
            )
        )
    return query


def _stored_text(row: Row[Any]) -> StoredText:
    return StoredText._make(tuple(row)[:_STORED_TEXT_WIDTH])


def _still_current(
    connection: Connection, rows: Sequence[Any], results: Sequence[VerdictToStore]
) -> tuple[list[Any], list[VerdictToStore]]:
    """The rows as they are now (an editor's type and strands may have changed too), with the
    verdicts of those whose words are still the words that were classified."""
    now_stored = {
        row.id: row
        for row in connection.execute(_rows_query().where(items.c.id.in_([row.id for row in rows])))
    }
    current: list[Any] = []
    kept: list[VerdictToStore] = []
    for row, result in zip(rows, results, strict=True):
        fresh = now_stored.get(row.id)
        if fresh is not None and _stored_text(fresh) == _stored_text(row):
            current.append(fresh)
            kept.append(result)
    return current, kept


def _with_instruments(
    connection: Connection,
    matcher: Matcher,
    rows: Sequence[Any],
    results: list[VerdictToStore],
    fetcher: InstrumentFetcher | None,
    now: datetime,
) -> list[VerdictToStore]:
    """Instruments of the Act are classified again with the instrument's own text."""
    allowed = fetcher.allowed_hosts if fetcher is not None else None
    wanted: list[tuple[int, ItemText, str]] = []
    for position, (row, result) in enumerate(zip(rows, results, strict=True)):
        if result.state == "rejected" or result.event_type not in matcher.legislation_types:
            continue
        url = instrument_url(row.link or "", allowed) if allowed else instrument_url(row.link or "")
        if url is not None:
            wanted.append((position, item_text(row), url))
    if not wanted:
        return results
    # One query for the batch's stored instruments; the fetcher is asked only for the rest.
    stored = cached_texts(connection, {url for _, _, url in wanted})
    for position, item, url in wanted:
        document = stored.get(url)
        if document is None and fetcher is not None:
            document = fetcher.get(connection, url, now)
        if document:
            results[position] = classify(matcher, item, instrument_text(document)).to_store()
    return results


_UPDATE_MATCH = (
    update(item_matches)
    .where(item_matches.c.item_id == bindparam("match_id"))
    .values(
        state=bindparam("state"),
        relevant=bindparam("relevant"),
        event_type=bindparam("event_type"),
        confidence=bindparam("confidence"),
        evidence=bindparam("evidence"),
        rules_hash=bindparam("rules_hash"),
        classified_at=bindparam("classified_at"),
    )
)
_DELETE_STRANDS = delete(item_strands).where(
    item_strands.c.item_id.in_(bindparam("ids", expanding=True))
)
_DELETE_COMMENCEMENTS = delete(commencements).where(
    commencements.c.item_id.in_(bindparam("ids", expanding=True))
)


def _store(
    connection: Connection,
    rows: Sequence[Any],
    results: Sequence[VerdictToStore],
    fingerprint: str,
    now: datetime,
) -> None:
    """Write a batch of verdicts: one statement per table, executed for all rows at once."""
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    strand_rows: list[dict[str, Any]] = []
    commencement_rows: list[dict[str, Any]] = []
    for row, result in zip(rows, results, strict=True):
        # The editor's type and strands stand; the matcher's own opinion stays in the evidence.
        event_type = row.editor_event_type or result.event_type
        strands = (
            [slug for slug in row.editor_strands if isinstance(slug, str)]
            if isinstance(row.editor_strands, list)
            else list(result.strands)
        )
        values = {
            "state": result.state,
            "relevant": result.relevant,
            "event_type": event_type,
            "confidence": result.confidence,
            "evidence": result.evidence,
            "rules_hash": fingerprint,
            "classified_at": now,
        }
        if row.matched is not None:
            updates.append({"match_id": row.id, **values})
        else:
            inserts.append({"item_id": row.id, **values})
        strand_rows.extend({"item_id": row.id, "strand": slug} for slug in dict.fromkeys(strands))
        seen: set[tuple[str, Any]] = set()
        for entry in result.commencements:
            key = (entry.section, entry.in_force_on)
            if key in seen:
                continue
            seen.add(key)
            commencement_rows.append(
                {
                    "item_id": row.id,
                    "section": entry.section,
                    "strand": entry.strand,
                    "in_force_on": entry.in_force_on,
                    "purpose": entry.provision.purpose,
                    "source": entry.provision.source,
                }
            )
    ids = [row.id for row in rows]
    if updates:
        connection.execute(_UPDATE_MATCH, updates)
    if inserts:
        connection.execute(insert(item_matches), inserts)
    connection.execute(_DELETE_STRANDS, {"ids": ids})
    if strand_rows:
        connection.execute(insert(item_strands), strand_rows)
    connection.execute(_DELETE_COMMENCEMENTS, {"ids": ids})
    if commencement_rows:
        connection.execute(insert(commencements), commencement_rows)


# --- the editor's decisions ------------------------------------------------------------------


def record_decision(
    connection: Connection,
    item_id: int,
    *,
    state: str | None = None,
    event_type: str | None = None,
    strands: Sequence[str] | None = None,
) -> None:
    """Keep an editor's decision on an item (through every reclassify) and show it at once."""
    values: dict[str, Any] = {}
    if state is not None:
        values["editor_state"] = state
    if event_type is not None:
        values["editor_event_type"] = event_type
        values["event_type"] = event_type
    if strands is not None:
        values["editor_strands"] = list(dict.fromkeys(strands))
    if values:
        connection.execute(
            update(item_matches).where(item_matches.c.item_id == item_id).values(**values)
        )
    if strands is not None:
        connection.execute(delete(item_strands).where(item_strands.c.item_id == item_id))
        if strands:
            connection.execute(
                insert(item_strands),
                [{"item_id": item_id, "strand": slug} for slug in dict.fromkeys(strands)],
            )


# Reading verdicts for the listings (`actwatch items`, `actwatch status`, the demo's summary).


@dataclass(frozen=True)
class Verdict:
    """The stored verdict on one item: the matcher's, and the editor's if they decided."""

    state: str
    editor_state: str | None
    relevant: bool
    event_type: str | None
    confidence: float
    evidence: list[Any]
    strands: list[str]


def verdicts_for(engine: Engine, item_ids: Sequence[int]) -> dict[int, Verdict]:
    """The verdicts on these items (items never classified are missing)."""
    found: dict[int, Verdict] = {}
    with engine.connect() as connection:
        for start in range(0, len(item_ids), BATCH):
            chunk = list(item_ids[start : start + BATCH])
            strands: dict[int, list[str]] = {}
            for item_id, strand in connection.execute(
                select(item_strands.c.item_id, item_strands.c.strand)
                .where(item_strands.c.item_id.in_(chunk))
                .order_by(item_strands.c.strand)
            ):
                strands.setdefault(item_id, []).append(strand)
            for row in connection.execute(
                select(item_matches).where(item_matches.c.item_id.in_(chunk))
            ):
                found[row.item_id] = Verdict(
                    state=row.state,
                    editor_state=row.editor_state,
                    relevant=row.relevant,
                    event_type=row.event_type,
                    confidence=row.confidence,
                    evidence=row.evidence,
                    strands=strands.get(row.item_id, []),
                )
    return found


def count_verdicts(engine: Engine) -> dict[str, int]:
    """Items by the matcher's own verdict (every state present, zero or not)."""
    with engine.connect() as connection:
        found: dict[str, int] = dict(
            connection.execute(
                select(item_matches.c.state, func.count()).group_by(item_matches.c.state)
            ).all()
        )
    return {state.value: int(found.get(state, 0)) for state in MatchState}


@dataclass(frozen=True)
class Decided:
    """Items by their verdict, the editor's decision winning, and relevant items per strand."""

    states: dict[str, int]
    relevant_by_strand: dict[str, int]


def count_decided(engine: Engine) -> Decided:
    with engine.connect() as connection:
        states: dict[str, int] = {
            state: int(count)
            for state, count in connection.execute(
                select(effective_state, func.count())
                .select_from(item_matches)
                .group_by(effective_state)
            )
        }
        by_strand: dict[str, int] = {
            strand: int(count)
            for strand, count in connection.execute(
                select(item_strands.c.strand, func.count())
                .join(item_matches, item_matches.c.item_id == item_strands.c.item_id)
                .where(decided(MatchState.RELEVANT))
                .group_by(item_strands.c.strand)
            )
        }
    return Decided({state.value: states.get(state, 0) for state in MatchState}, by_strand)
