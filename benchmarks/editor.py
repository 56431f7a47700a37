"""The editor's pages at scale: the dashboard and a bulletin's page with 50,000 and 100,000
stored items, against the same pages with 1,000 items measured in the same run.

Each size gets a fresh SQLite database (migrated, then filled by bulk inserts): items spread
over the seasons since the Act, most of them rejected by the matcher as government feeds'
news is, a few per cent relevant or uncertain with strands and a few commencements; one feed;
the draft bulletin of one ended season made by the real `draft_bulletin`; an editor account.
The pages are then fetched through Starlette's TestClient by a logged-in editor, several
times each; the median is printed (the first request, which warms caches, is left out).
No ANALYZE is run: actwatch never runs it, so SQLite plans without statistics, as in use.

Target (issue 17): the bulletin page and the dashboard <= 250 ms at 50,000 and 100,000 items.

    python benchmarks/editor.py [--sizes 1000,50000,100000] [--repeat 7] [--explain]
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
TARGET_MS = 250.0
SECRET = "benchmark-secret-" + "x" * 40
EDITOR, PASSWORD = "Bench Editor", "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
START = datetime(2017, 5, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SEASON = "summer-2026"  # ended by NOW: the bulletin the editor is working on
# The season's own news is the same at every size (so the pages differ only by what else is
# stored): this many relevant and uncertain items fall in it, besides the random spread.
IN_SEASON = {"relevant": 60, "uncertain": 20}
CHUNK = 5_000
WORDS = [
    "children",
    "social",
    "work",
    "care",
    "leavers",
    "safeguarding",
    "partners",
    "local",
    "authority",
    "adviser",
    "corporate",
    "parenting",
    "principles",
    "virtual",
    "school",
    "regulator",
    "consultation",
    "guidance",
    "statutory",
    "funding",
    "pilot",
    "department",
    "minister",
    "announced",
    "today",
    "councils",
    "families",
    "young",
    "people",
    "services",
    "report",
]


def make_config(folder: Path) -> Any:
    from actwatch.config import parse_config

    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    data["database"] = {"url": "sqlite:///editor.db"}
    data["mail"] = {**data["mail"], "url": "maildir:mail"}
    data["web"] = {**data.get("web", {}), "base_url": "https://actwatch.example.org"}
    data["matching"] = {**data["matching"], "fetch_instruments": False}
    return parse_config(data, folder / "config.yaml")


def seed(engine: Any, config: Any, count: int, rng: random.Random) -> None:
    """Bulk-insert `count` items with their verdicts, strands, sources and commencements."""
    from sqlalchemy import insert

    from actwatch.bulletin import season_window
    from actwatch.db.schema import (
        commencements,
        feeds,
        item_matches,
        item_sources,
        item_strands,
        items,
    )

    strands = list(config.strands)
    types = list(config.event_types)
    span = (END - START).total_seconds()
    season_start, season_end = season_window(config, SEASON)
    season_span = (season_end - season_start).total_seconds() - 60
    pinned = [state for state, many in IN_SEASON.items() for _ in range(many)]
    with engine.begin() as connection:
        connection.execute(
            insert(feeds).values(
                id=1,
                name="gov-uk",
                url="https://www.gov.uk/search/news-and-communications.atom",
                fetch_url="https://www.gov.uk/search/news-and-communications.atom",
                created_at=NOW,
            )
        )
    for first in range(0, count, CHUNK):
        rows: list[dict[str, Any]] = []
        sources: list[dict[str, Any]] = []
        matches: list[dict[str, Any]] = []
        strand_rows: list[dict[str, Any]] = []
        commenced: list[dict[str, Any]] = []
        for item_id in range(first + 1, min(first + CHUNK, count) + 1):
            if item_id <= len(pinned):
                published = season_start + timedelta(seconds=rng.random() * season_span)
            else:
                published = START + timedelta(seconds=rng.random() * span)
            link = f"https://www.gov.uk/government/news/announcement-{item_id}"
            title = " ".join(rng.choices(WORDS, k=rng.randint(6, 12))).capitalize()
            summary = " ".join(rng.choices(WORDS, k=rng.randint(25, 50))).capitalize() + "."
            rows.append(
                {
                    "id": item_id,
                    "canonical_link": link,
                    "link": link,
                    "title": title,
                    "type_hint": "Press release",
                    "summary": summary,
                    "content_html": None,
                    "published_at": published,
                    "first_seen_at": published,
                    "content_hash": f"{item_id:064x}",
                    "source_meta": {},
                }
            )
            sources.append(
                {
                    "item_id": item_id,
                    "feed_id": 1,
                    "guid": link,
                    "link": link,
                    "content_hash": f"{item_id:064x}",
                    "first_seen_at": published,
                    "last_seen_at": published,
                }
            )
            draw = rng.random()
            state = "relevant" if draw < 0.03 else "uncertain" if draw < 0.05 else "rejected"
            if item_id <= len(pinned):
                state = pinned[item_id - 1]
            matches.append(
                {
                    "item_id": item_id,
                    "state": state,
                    "relevant": state == "relevant",
                    "event_type": rng.choice(types) if state != "rejected" else None,
                    "confidence": round(rng.random(), 3),
                    "evidence": [],
                    "rules_hash": "benchmark",
                    "classified_at": published,
                }
            )
            if state != "rejected":
                for strand in rng.sample(strands, rng.randint(1, 2)):
                    strand_rows.append({"item_id": item_id, "strand": strand})
                if rng.random() < 0.1:
                    commenced.append(
                        {
                            "item_id": item_id,
                            "section": str(rng.randint(1, 60)),
                            "strand": strand_rows[-1]["strand"],
                            "in_force_on": (published + timedelta(days=30)).date(),
                            "purpose": "for all purposes",
                            "source": "summary",
                        }
                    )
        with engine.begin() as connection:
            connection.execute(insert(items), rows)
            connection.execute(insert(item_sources), sources)
            connection.execute(insert(item_matches), matches)
            if strand_rows:
                connection.execute(insert(item_strands), strand_rows)
            if commenced:
                connection.execute(insert(commencements), commenced)


def log_in(client: Any) -> None:
    token = CSRF.search(client.get("/editor/login").text)
    assert token, "no login form"
    response = client.post(
        "/editor/login",
        data={"name": EDITOR, "password": PASSWORD, "csrf_token": token[1], "next": "/editor/"},
    )
    assert response.status_code == 303, response.text[:500]


def time_pages(client: Any, pages: dict[str, str], repeat: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in pages}
    for name, url in pages.items():  # warm-up: templates compiled, statements cached
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
    for _ in range(repeat):  # interleaved, so a burst of load falls on every page alike
        for name, url in pages.items():
            started = time.perf_counter()
            response = client.get(url)
            samples[name].append(1000 * (time.perf_counter() - started))
            assert response.status_code == 200, (name, response.status_code)
    return samples


def explain(engine: Any, statements: list[tuple[str, Any]]) -> None:
    """Query plans of the statements the pages ran (SQLite's EXPLAIN QUERY PLAN)."""
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        for sql, parameters in statements:
            print("  --", " ".join(sql.split())[:160])
            for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", parameters):
                print("    ", row[-1])


def measure(size: int, repeat: int, show_plans: bool) -> dict[str, list[float]]:
    from sqlalchemy import event
    from starlette.testclient import TestClient

    from actwatch.bulletin import draft_bulletin, parse_season
    from actwatch.db import make_engine, upgrade
    from actwatch.editors import add_editor
    from actwatch.mail import MaildirTransport
    from actwatch.web import create_app

    with tempfile.TemporaryDirectory(prefix="actwatch-editor-") as temp:
        folder = Path(temp)
        config = make_config(folder)
        engine = make_engine(config.database_url)
        upgrade(engine)
        started = time.perf_counter()
        seed(engine, config, size, random.Random(size))
        seeded = time.perf_counter() - started
        draft = draft_bulletin(engine, config, parse_season(config, SEASON), NOW)
        add_editor(engine, EDITOR, PASSWORD, email="editor@example.org")
        app = create_app(
            config,
            engine,
            env={config.web.secret_key_env: SECRET},
            transport_factory=lambda: MaildirTransport(folder / "outbox"),
        )
        pages = {"dashboard": "/editor/", "bulletin page": f"/editor/bulletins/{draft.bulletin_id}"}
        with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
            log_in(client)
            samples = time_pages(client, pages, repeat)
            if show_plans:
                statements: list[tuple[str, Any]] = []

                def keep(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
                    if sql.lstrip().upper().startswith("SELECT"):
                        statements.append((sql, params))

                event.listen(engine, "before_cursor_execute", keep)
                for url in pages.values():
                    client.get(url)
                event.remove(engine, "before_cursor_execute", keep)
                print(f"query plans at {size:,} items:")
                explain(engine, statements)
        engine.dispose()
    print(
        f"  {size:>7,} items: seeded in {seeded:.1f} s; the draft holds {draft.total} items",
        file=sys.stderr,
    )
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,50000,100000")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="Print the pages' query plans.")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    results = {size: measure(size, args.repeat, args.explain) for size in sizes}
    load = os.getloadavg()
    baseline_size = sizes[0]
    baseline = {name: statistics.median(times) for name, times in results[baseline_size].items()}
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores")
    print(f"median of {args.repeat} requests per page (min-max); baseline: {baseline_size:,} items")
    for size, samples in results.items():
        for name, times in samples.items():
            median = statistics.median(times)
            line = (
                f"  {size:>7,} items  {name:<14} {median:7.1f} ms  [{min(times):.1f}-"
                f"{max(times):.1f}]  {median / baseline[name]:5.2f} x the"
                f" {baseline_size:,}-item page"
            )
            if size >= 50_000:
                line += (
                    f"; target {TARGET_MS:.0f} ms: {'met' if median <= TARGET_MS else 'NOT met'}"
                )
            print(line)


if __name__ == "__main__":
    main()
