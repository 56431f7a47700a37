"""`actwatch learn`: the editor's exclusions and type changes move the matcher; approved
bulletins do not change."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Engine, select

from actwatch.cli import main
from actwatch.config import Config
from actwatch.db.schema import bulletin_items, bulletins, item_matches, items
from actwatch.matching import classify
from actwatch.matching.learning import learn
from actwatch.matching.model import item_text
from actwatch.matching.store import ITEM_TEXT_COLUMNS, load_matcher
from actwatch.review import approve, bulletin_decisions, set_event_type, set_included
from tests.bulletin.fixtures import NOW
from tests.review.conftest import Draft, make_draft


def included_items(draft: Draft) -> list[int]:
    with draft.engine.connect() as connection:
        return list(
            connection.execute(
                select(bulletin_items.c.item_id)
                .where(
                    bulletin_items.c.bulletin_id == draft.bulletin_id,
                    bulletin_items.c.included.is_(True),
                )
                .order_by(bulletin_items.c.item_id)
            ).scalars()
        )


def confidences(engine: Engine, config: Config, ids: list[int]) -> list[float]:
    matcher = load_matcher(engine, config)
    with engine.connect() as connection:
        rows: Sequence[Any] = connection.execute(
            select(*ITEM_TEXT_COLUMNS).where(items.c.id.in_(ids))
        ).all()
    return [classify(matcher, item_text(row)).confidence for row in rows]


def frozen(engine: Engine, bulletin_id: int) -> tuple[Any, ...]:
    with engine.connect() as connection:
        return tuple(
            connection.execute(
                select(
                    bulletins.c.state,
                    bulletins.c.revision,
                    bulletins.c.frozen_html,
                    bulletins.c.frozen_text,
                    bulletins.c.frozen_markdown,
                    bulletins.c.frozen_context,
                    bulletins.c.content_hash,
                ).where(bulletins.c.id == bulletin_id)
            ).one()
        )


def test_learn_moves_the_matcher_towards_the_editors_decisions(draft: Draft) -> None:
    engine, config = draft.engine, draft.config
    shown = included_items(draft)
    excluded, retyped = shown[:3], shown[3:5]
    for item_id in excluded:
        set_included(engine, draft.bulletin_id, item_id, False, actor="Jo", now=NOW)
    for item_id in retyped:
        set_event_type(engine, config, draft.bulletin_id, item_id, "funding", actor="Jo", now=NOW)
    approve(engine, config, draft.bulletin_id, by="Jo Broad", now=NOW)
    approved = frozen(engine, draft.bulletin_id)
    before = confidences(engine, config, excluded)

    report = learn(engine, config, bulletin_decisions(engine), folds=3, now=NOW)

    assert report.decisions == 5
    assert report.examples_after == report.examples_before + 5
    assert report.decisions_before is not None and report.decisions_after is not None
    assert report.reclassified.classified > 0
    after = confidences(engine, config, excluded)
    assert all(now < then for now, then in zip(after, before, strict=True)), (before, after)
    with engine.connect() as connection:
        types = set(
            connection.execute(
                select(item_matches.c.event_type).where(item_matches.c.item_id.in_(retyped))
            ).scalars()
        )
    assert types == {"funding"}  # the editor's type stands through the reclassify
    assert frozen(engine, draft.bulletin_id) == approved

    # Learning again from the same decisions changes nothing more.
    again = learn(engine, config, bulletin_decisions(engine), folds=3, now=NOW)
    assert again.examples_before == again.examples_after == report.examples_after
    assert confidences(engine, config, excluded) == after


def test_learn_command_reports_scores_before_and_after(
    sqlite_engine: Engine, config: Config, write_pinned_config: Callable[..., Path]
) -> None:
    draft = make_draft(sqlite_engine, config)
    (first, *_) = included_items(draft)
    set_included(sqlite_engine, draft.bulletin_id, first, False, actor="Jo", now=NOW)
    config_file = write_pinned_config(
        matching={**config.matching.model_dump(mode="json"), "fetch_instruments": False}
    )
    result = CliRunner().invoke(main, ["--config", str(config_file), "learn", "--folds", "3"])
    assert result.exit_code == 0, result.output
    assert "Learned from 1 editor decision:" in result.output
    assert "relevance F1" in result.output and "->" in result.output
    decisions = CliRunner().invoke(
        main, ["--config", str(config_file), "evaluate", "--decisions", "--json"]
    )
    assert decisions.exit_code == 0, decisions.output
    assert '"items": 1' in decisions.output
