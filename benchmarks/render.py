"""Compile and render time of a season's bulletin: 40 items in the season, first with nothing
else stored (the baseline), then with 50,000 stored items around it.

    python benchmarks/render.py [--items 50000] [--database-url URL]

Target: compiling (draft refresh + compose) and rendering all three formats under 1 s with
50,000 stored items. Prints the median of several runs per phase.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, insert, select, update

from actwatch.bulletin import (
    load_bulletin,
    parse_season,
    preview_links,
    render_html,
    render_markdown,
    render_text,
)
from actwatch.bulletin.seasons import window
from actwatch.bulletin.store import draft_bulletin
from actwatch.config import Config, parse_config
from actwatch.db import make_engine, upgrade
from actwatch.db.schema import (
    commencements,
    feeds,
    item_matches,
    item_sources,
    item_strands,
    items,
)

REPO = Path(__file__).resolve().parents[1]
SEASON = "autumn-2017"
SEASON_ITEMS = 40
RUNS = 7
TARGET_SECONDS = 1.0
EVENT_TYPES = ["guidance", "consultation", "funding", "other", "pilot", "regulations"]


def make_config(folder: Path, database_url: str | None) -> Config:
    data: dict[str, Any] = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["database"] = {"url": database_url or "sqlite:///bench.db"}
    return parse_config(data, folder / "config.yaml")


def item_rows(
    start_id: int, count: int, first: datetime, last: datetime, rng: random.Random
) -> list[dict[str, Any]]:
    span = (last - first).total_seconds()
    rows = []
    for n in range(start_id, start_id + count):
        link = f"https://www.gov.uk/government/news/benchmark-item-{n}"
        published = first + timedelta(seconds=rng.random() * span)
        rows.append(
            {
                "id": n,
                "canonical_link": link,
                "title": f"Announcement {n} about children's social care and the Act's reforms",
                "summary": "A summary sentence of typical length for a GOV.UK page. " * 3,
                "published_at": published,
                "first_seen_at": published,
                "content_hash": hashlib.sha256(link.encode()).hexdigest(),
                "source_meta": {},
            }
        )
    return rows


def store(engine: Engine, config: Config, rows: list[dict[str, Any]], rng: random.Random) -> None:
    strands = list(config.strands)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        feed_id = connection.execute(select(feeds.c.id)).scalar()
        if feed_id is None:
            feed_id = connection.execute(
                insert(feeds).values(
                    name="bench",
                    url="https://example.org/feed",
                    fetch_url="https://example.org/feed",
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        for start in range(0, len(rows), 5000):
            chunk = rows[start : start + 5000]
            connection.execute(insert(items), chunk)
            connection.execute(
                insert(item_sources),
                [
                    {
                        "item_id": row["id"],
                        "feed_id": feed_id,
                        "link": row["canonical_link"],
                        "content_hash": row["content_hash"],
                        "first_seen_at": row["published_at"],
                        "last_seen_at": row["published_at"],
                    }
                    for row in chunk
                ],
            )
            matches, tags = [], []
            for row in chunk:
                state = rng.choices(["relevant", "uncertain", "rejected"], [4, 1, 5])[0]
                matches.append(
                    {
                        "item_id": row["id"],
                        "state": state,
                        "relevant": state == "relevant",
                        "event_type": rng.choice(EVENT_TYPES),
                        "confidence": 0.8,
                        "evidence": [],
                        "rules_hash": "bench",
                        "classified_at": now,
                    }
                )
                for strand in rng.sample(strands, rng.choice([1, 1, 2])):
                    tags.append({"item_id": row["id"], "strand": strand})
            connection.execute(insert(item_matches), matches)
            connection.execute(insert(item_strands), tags)


def season_items(engine: Engine, config: Config, rng: random.Random) -> None:
    start, end = window(config, parse_season(config, SEASON))
    rows = item_rows(1, SEASON_ITEMS, start.astimezone(UTC), end.astimezone(UTC), rng)
    store(engine, config, rows, rng)
    with engine.begin() as connection:
        connection.execute(
            update(item_matches)
            .where(item_matches.c.item_id <= SEASON_ITEMS)
            .values(state="relevant", relevant=True)
        )
        connection.execute(
            insert(commencements),
            [
                {"item_id": 1, "section": s, "in_force_on": date(2017, 10, 31), "source": "title"}
                for s in ("8", "9", "33", "42")
            ]
            + [
                {"item_id": 2, "section": s, "in_force_on": date(2018, 4, 1), "source": "title"}
                for s in ("1", "2", "3")
            ],
        )


def lap(times: list[float], since: float) -> float:
    now = time.perf_counter()
    times.append(now - since)
    return now


def measure(engine: Engine, config: Config) -> dict[str, float]:
    season = parse_season(config, SEASON)
    links = preview_links(config, SEASON)
    phases: dict[str, list[float]] = {
        "draft": [],
        "compose": [],
        "html": [],
        "text": [],
        "markdown": [],
    }
    now = datetime.now(UTC)
    for _ in range(RUNS):
        clock = time.perf_counter()
        draft_bulletin(engine, config, season, now)
        clock = lap(phases["draft"], clock)
        # Composed once: the email's caps are applied when it is rendered.
        composed = load_bulletin(engine, config, SEASON)
        clock = lap(phases["compose"], clock)
        render_html(composed, links, config=config)
        clock = lap(phases["html"], clock)
        render_text(composed, links, config=config)
        clock = lap(phases["text"], clock)
        render_markdown(composed, links, config=config)
        lap(phases["markdown"], clock)
    medians = {phase: statistics.median(values) for phase, values in phases.items()}
    medians["total"] = sum(medians.values())
    return medians


def report(label: str, medians: dict[str, float]) -> None:
    parts = ", ".join(f"{phase} {seconds * 1000:.0f} ms" for phase, seconds in medians.items())
    print(f"{label:<28} {parts}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50_000, help="stored items in all")
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    arguments = parser.parse_args()
    rng = random.Random(2017)
    with tempfile.TemporaryDirectory() as folder:
        config = make_config(Path(folder), arguments.database_url)
        engine = make_engine(config.database_url)
        upgrade(engine)
        season_items(engine, config, rng)
        baseline = measure(engine, config)
        report(f"{SEASON_ITEMS} items stored (baseline)", baseline)

        others = arguments.items - SEASON_ITEMS
        first = datetime(2000, 1, 1, tzinfo=UTC)
        last = datetime(2030, 1, 1, tzinfo=UTC)
        started = time.perf_counter()
        store(engine, config, item_rows(SEASON_ITEMS + 1, others, first, last, rng), rng)
        print(f"(stored {others:,} more items in {time.perf_counter() - started:.1f} s)")
        loaded = measure(engine, config)
        report(f"{arguments.items:,} items stored", loaded)
        verdict = "OK" if loaded["total"] < TARGET_SECONDS else "OVER TARGET"
        print(
            f"compile + render at {arguments.items:,} stored items: "
            f"{loaded['total']:.3f} s (target < {TARGET_SECONDS:.0f} s, "
            f"{loaded['total'] / baseline['total']:.1f}x the baseline) {verdict}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
