"""Apply the matcher to stored items: `classify_pending` after each poll, `reclassify` on demand.

Each item's verdict is replaced whole (its `item_matches` row, `item_strands` and
`commencements`) inside one transaction per batch, so running either twice changes nothing.
An editor's decision lives in `item_matches.editor_state` and is kept: the matcher's own
verdict is still refreshed beside it, and whoever reads the verdict (the bulletin, the review
pages) takes `editor_state` when it is set and `state` otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, delete, func, insert, or_, select, update

from actwatch.config import Config
from actwatch.core.states import MatchState
from actwatch.db.schema import commencements, item_matches, item_strands, items
from actwatch.feeds.normalize import html_to_text
from actwatch.matching.classify import classify
from actwatch.matching.commencement import instrument_text
from actwatch.matching.instruments import InstrumentFetcher, instrument_url, now_utc
from actwatch.matching.matcher import Matcher, compile_rules
from actwatch.matching.model import Classification, ItemText

BATCH = 500
# The editor's verdict on an item wins over the matcher's.
effective_state = func.coalesce(item_matches.c.editor_state, item_matches.c.state)


@dataclass
class ClassifyReport:
    classified: int = 0
    states: Counter[str] = field(default_factory=Counter)
    instruments_fetched: int = 0
    instrument_errors: int = 0

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


def classify_pending(
    engine: Engine,
    config: Config,
    *,
    fetcher: InstrumentFetcher | None = None,
    matcher: Matcher | None = None,
) -> ClassifyReport:
    """Classify items never classified, classified under other rules, or changed since."""
    return _run(engine, config, fetcher, matcher, everything=False)


def reclassify(
    engine: Engine,
    config: Config,
    *,
    fetcher: InstrumentFetcher | None = None,
    matcher: Matcher | None = None,
) -> ClassifyReport:
    """Re-apply the current rules to every stored item."""
    return _run(engine, config, fetcher, matcher, everything=True)


def _run(
    engine: Engine,
    config: Config,
    fetcher: InstrumentFetcher | None,
    matcher: Matcher | None,
    *,
    everything: bool,
) -> ClassifyReport:
    matcher = matcher or compile_rules(config)
    own_fetcher = fetcher is None and config.matching.fetch_instruments
    if own_fetcher:
        fetcher = InstrumentFetcher.from_config(config)
    report = ClassifyReport()
    try:
        last_id = 0
        while True:
            with engine.begin() as connection:
                rows = _batch(connection, matcher.rules_hash, last_id, everything)
                if not rows:
                    break
                last_id = rows[-1].id
                now = now_utc()
                for row in rows:
                    result = _classify_row(connection, matcher, row, fetcher, now)
                    _store(connection, row.id, result, matcher.rules_hash, now)
                    report.classified += 1
                    report.states[result.state] += 1
    finally:
        if fetcher is not None:
            report.instruments_fetched = fetcher.fetched
            report.instrument_errors = fetcher.errors
            if own_fetcher:
                fetcher.close()
    return report


def _batch(connection: Connection, rules_hash: str, after: int, everything: bool) -> Sequence[Any]:
    query = (
        select(
            items.c.id,
            items.c.title,
            items.c.summary,
            items.c.content_html,
            items.c.type_hint,
            items.c.canonical_link,
            items.c.source_meta,
        )
        .select_from(items.outerjoin(item_matches, item_matches.c.item_id == items.c.id))
        .where(items.c.id > after)
        .order_by(items.c.id)
        .limit(BATCH)
    )
    if not everything:
        query = query.where(
            or_(
                item_matches.c.item_id.is_(None),
                item_matches.c.rules_hash != rules_hash,
                and_(
                    items.c.last_changed_at.is_not(None),
                    items.c.last_changed_at >= item_matches.c.classified_at,
                ),
            )
        )
    return connection.execute(query).all()


def item_text(row: Row[Any]) -> ItemText:
    meta = row.source_meta if isinstance(row.source_meta, dict) else {}
    return ItemText(
        title=row.title or "",
        summary=row.summary or "",
        content=html_to_text(row.content_html) if row.content_html else "",
        type_hint=row.type_hint,
        link=row.canonical_link or "",
        source_meta=meta,
    )


def _classify_row(
    connection: Connection,
    matcher: Matcher,
    row: Row[Any],
    fetcher: InstrumentFetcher | None,
    now: datetime,
) -> Classification:
    item = item_text(row)
    result = classify(matcher, item)
    if result.state == "rejected" or result.event_type not in matcher.legislation_types:
        return result
    allowed = fetcher.allowed_hosts if fetcher is not None else None
    url = instrument_url(item.link, allowed) if allowed else instrument_url(item.link)
    if url is None:
        return result
    if fetcher is not None:
        document = fetcher.get(connection, url, now)
    else:
        from actwatch.matching.instruments import cached_text

        document = cached_text(connection, url)
    if not document:
        return result
    return classify(matcher, item, instrument_text(document))


def _store(
    connection: Connection, item_id: int, result: Classification, rules_hash: str, now: datetime
) -> None:
    values = {
        "state": result.state,
        "relevant": result.relevant,
        "event_type": result.event_type,
        "confidence": result.confidence,
        "evidence": result.evidence_dicts(),
        "rules_hash": rules_hash,
        "classified_at": now,
    }
    # Update in place so that an editor's decision (editor_state) survives.
    updated = connection.execute(
        update(item_matches).where(item_matches.c.item_id == item_id).values(**values)
    )
    if updated.rowcount == 0:
        connection.execute(insert(item_matches).values(item_id=item_id, **values))
    connection.execute(delete(item_strands).where(item_strands.c.item_id == item_id))
    if result.strands:
        connection.execute(
            insert(item_strands), [{"item_id": item_id, "strand": slug} for slug in result.strands]
        )
    connection.execute(delete(commencements).where(commencements.c.item_id == item_id))
    rows: dict[tuple[str, Any], dict[str, Any]] = {}
    for entry in result.commencements:
        key = (entry.section, entry.in_force_on)
        if key not in rows:
            rows[key] = {
                "item_id": item_id,
                "section": entry.section,
                "strand": entry.strand,
                "in_force_on": entry.in_force_on,
                "purpose": entry.provision.purpose,
                "source": entry.provision.source,
            }
    if rows:
        connection.execute(insert(commencements), list(rows.values()))


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
                .where(effective_state == MatchState.RELEVANT)
                .group_by(item_strands.c.strand)
            )
        }
    return Decided({state.value: states.get(state, 0) for state in MatchState}, by_strand)
