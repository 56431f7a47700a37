"""Classifying in worker processes: the same verdicts as in one process, never a stale one.

The items are the labelled announcements (tests/data/eval), stored as a poll stores them, many
times over under distinct links, so that a pass has several full batches to spread.
"""

from __future__ import annotations

import html
import json
import multiprocessing
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import pytest
from sqlalchemy import Engine, insert, select, update

from actwatch.config import Config
from actwatch.db.schema import commencements, item_matches, item_strands, items
from actwatch.matching.evaluate import item_from_labelled
from actwatch.matching.parallel import MIN_PARALLEL_ITEMS, WORKER_MODULES
from actwatch.matching.store import BATCH, classify_pending, reclassify
from tests.conftest import DATA

P = ParamSpec("P")
T = TypeVar("T")
NOW = datetime(2018, 4, 2, 9, 0, tzinfo=UTC)
# Two full batches and a short one.
ITEMS = 2 * BATCH + MIN_PARALLEL_ITEMS // 2


def labelled() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for name in ("own.jsonl", "blind.jsonl"):
        lines = (DATA / "eval" / name).read_text(encoding="utf-8").splitlines()
        records.extend(json.loads(line) for line in lines if line.strip())
    return records


def store_items(engine: Engine, count: int) -> list[int]:
    records = labelled()
    rows = []
    for index in range(count):
        record = records[index % len(records)]
        text = item_from_labelled(record)
        link = f"{text.link or 'https://example.org/news'}?copy={index}"
        rows.append(
            {
                "canonical_link": link,
                "link": link,
                "title": text.title,
                "type_hint": text.type_hint,
                "summary": text.summary,
                "content_html": f"<p>{html.escape(text.content)}</p>" if text.content else None,
                "published_at": NOW,
                "first_seen_at": NOW,
                "content_hash": f"hash-{index}",
                "source_meta": text.source_meta,
            }
        )
    with engine.begin() as connection:
        connection.execute(insert(items), rows)
        return list(connection.execute(select(items.c.id).order_by(items.c.id)).scalars())


def all_verdicts(engine: Engine) -> dict[int, tuple[Any, ...]]:
    """Every stored verdict, all but the time it was worked out."""
    with engine.connect() as connection:
        strands: dict[int, list[str]] = {}
        for item_id, strand in connection.execute(
            select(item_strands.c.item_id, item_strands.c.strand).order_by(item_strands.c.strand)
        ):
            strands.setdefault(item_id, []).append(strand)
        dates: dict[int, list[tuple[Any, ...]]] = {}
        for row in connection.execute(select(commencements).order_by(commencements.c.id)):
            dates.setdefault(row.item_id, []).append((row.section, row.strand, row.in_force_on))
        return {
            row.item_id: (
                row.state,
                row.relevant,
                row.event_type,
                row.confidence,
                json.dumps(row.evidence, sort_keys=True),
                row.rules_hash,
                strands.get(row.item_id, []),
                dates.get(row.item_id, []),
            )
            for row in connection.execute(select(item_matches))
        }


@pytest.fixture
def offline(config: Config) -> Config:
    return config.model_copy(
        update={"matching": config.matching.model_copy(update={"fetch_instruments": False})}
    )


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPoolExecutor]:
    # Started as the poll starts its parse workers.
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(2, mp_context=context) as executor:
        yield executor


class Watching(Executor):
    """Hands work to another executor (or does it inline), doing `before` first each time."""

    def __init__(self, inner: Executor | None, before: Callable[[int], None] = lambda _: None):
        self.inner = inner
        self.before = before
        self.submitted = 0

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.before(self.submitted)
        self.submitted += 1
        if self.inner is not None:
            return self.inner.submit(fn, *args, **kwargs)
        future: Future[T] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_workers_store_the_verdicts_one_process_would(
    engine: Engine, offline: Config, pool: ProcessPoolExecutor
) -> None:
    store_items(engine, ITEMS)
    watching = Watching(pool)

    report = classify_pending(engine, offline, executor=watching, workers=2)
    in_workers = all_verdicts(engine)
    again = reclassify(engine, offline)  # no executor: every verdict worked out here

    assert report.classified == again.classified == ITEMS
    assert watching.submitted == 6  # two chunks a batch: the short one goes too, once they work
    assert in_workers == all_verdicts(engine)
    assert report.states == again.states
    assert report.relevant and report.rejected  # the labelled set has both


def test_an_item_changed_while_classified_keeps_waiting(engine: Engine, offline: Config) -> None:
    ids = store_items(engine, ITEMS)
    changed = ids[BATCH + 3]  # in the second batch, changed while the first is classified
    new_title = "Corporate parenting principles come into force for care leavers"

    def change(submitted: int) -> None:
        if submitted == 2:  # the second batch's first chunk: that batch was read already
            with engine.begin() as connection:
                connection.execute(
                    update(items).where(items.c.id == changed).values(title=new_title)
                )

    report = classify_pending(engine, offline, executor=Watching(None, change), workers=2)

    assert report.classified == ITEMS - 1
    with engine.connect() as connection:
        assert not connection.execute(
            select(item_matches.c.item_id).where(item_matches.c.item_id == changed)
        ).first()
    later = classify_pending(engine, offline)
    assert later.classified == 1
    with engine.connect() as connection:
        state = connection.execute(
            select(item_matches.c.state).where(item_matches.c.item_id == changed)
        ).scalar()
    assert state == "relevant"  # the verdict is on the new words


class Broken(Executor):
    """A pool whose workers die (or that was shut down) under the classifier."""

    def __init__(self, how: str) -> None:
        self.how = how

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self.how == "shut down":
            raise RuntimeError("cannot schedule new futures after shutdown")
        future: Future[T] = Future()
        future.set_exception(BrokenProcessPool("a worker died"))
        return future


@pytest.mark.parametrize("how", ["died", "shut down"])
def test_workers_that_fail_cost_no_verdict(engine: Engine, offline: Config, how: str) -> None:
    store_items(engine, BATCH)
    report = classify_pending(engine, offline, executor=Broken(how), workers=2)
    here = all_verdicts(engine)
    reclassify(engine, offline)

    assert report.classified == BATCH
    assert here == all_verdicts(engine)


def test_a_handful_of_items_is_classified_here(engine: Engine, offline: Config) -> None:
    store_items(engine, MIN_PARALLEL_ITEMS - 1)
    watching = Watching(None)

    report = classify_pending(engine, offline, executor=watching, workers=2)

    assert report.classified == MIN_PARALLEL_ITEMS - 1
    assert watching.submitted == 0  # shipping the matcher would cost more than it saves


def test_workers_preload_what_they_need_and_this_process_does_not() -> None:
    script = (
        "import importlib, sys\n"
        "import actwatch.pipeline, actwatch.matching.store\n"
        "assert 'numpy' not in sys.modules, 'reading verdicts loaded NumPy'\n"
        f"for name in {WORKER_MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        "assert 'numpy' in sys.modules, 'a worker would unpickle the scorer without NumPy'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
