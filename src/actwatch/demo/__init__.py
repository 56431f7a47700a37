"""The offline demo: the whole pipeline in one folder, on the bundled sample feeds.

`run_demo(folder)` writes a config beside an SQLite database and a maildir, serves the sample
feeds on 127.0.0.1, polls them, classifies the items, compiles the season with the most news,
and writes its three renderings. Run again, it reuses the folder: every step is idempotent.

The sample feeds and the little HTTP server that serves them live in `actwatch.demo.samples`
(the tests and benchmarks serve feeds with it too); both ship in the wheel.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from actwatch.bulletin.seasons import Season
from actwatch.bulletin.store import seasons_with_news
from actwatch.config import Config, load_config
from actwatch.core import clock
from actwatch.core.states import MatchState
from actwatch.db import Engine, open_database
from actwatch.feeds.store import count_items
from actwatch.matching.store import count_decided
from actwatch.pipeline import draft_and_notify, poll_and_match, render

DEMO_BASE_URL = "http://127.0.0.1:8080"
CONFIG_HEADER = """\
# Written by `actwatch demo`: the real rules for the Act, with the bundled sample feeds as the
# feeds. Their URLs point at the sample server that ran during the demo (it has stopped; run
# `actwatch demo` again to poll them once more). Paths are relative to this folder.
"""

Progress = Callable[[str], None]


class DemoError(Exception):
    """The demo cannot run (for example, the default config is missing)."""


@dataclass
class DemoReport:
    folder: Path
    config_path: Path
    feeds: int
    feeds_ok: int
    feeds_failed: int
    items: int
    relevant: int
    uncertain: int
    relevant_by_strand: dict[str, int]
    strand_names: dict[str, str]
    season: Season | None
    bulletin_id: int | None
    bulletin_items: int
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0


def default_config_path() -> Path:
    """The real config for the Act: bundled in a wheel, else the source checkout's."""
    bundled = files("actwatch") / "default-config.yaml"
    if bundled.is_file():
        return Path(str(bundled))
    checkout = Path(__file__).resolve().parents[3] / "config.yaml"
    if checkout.is_file():
        return checkout
    raise DemoError(f"the default config is missing (looked for {checkout})")


def demo_config_data(base_url: str, rules: dict[str, Any]) -> dict[str, Any]:
    from actwatch.demo.samples import sample_feed_configs

    data = dict(rules)
    data["feeds"] = sample_feed_configs(base_url)
    data["database"] = {"url": "sqlite:///actwatch.db"}
    data["mail"] = {**data.get("mail", {}), "url": "maildir:mail"}
    data["web"] = {**data.get("web", {}), "base_url": DEMO_BASE_URL}
    # Offline: the matcher reads commencement dates from the instruments' titles and summaries
    # instead of fetching their text from legislation.gov.uk.
    data["matching"] = {**data.get("matching", {}), "fetch_instruments": False}
    bulletin = dict(data.get("bulletin", {}))
    bulletin["templates"] = "templates"  # absent until the editor copies templates in
    bulletin["archive_dir"] = "archive"
    data["bulletin"] = bulletin
    return data


def write_config(folder: Path, base_url: str) -> Path:
    source = default_config_path()
    rules = yaml.safe_load(source.read_text(encoding="utf-8"))
    data = demo_config_data(base_url, rules)
    path = folder / "config.yaml"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(CONFIG_HEADER + text, encoding="utf-8")
    return path


def richest_season(engine: Engine, config: Config) -> Season | None:
    """The season with the most relevant news (the later one on a tie)."""
    seasons = seasons_with_news(engine, config)
    if not seasons:
        return None
    return max(seasons, key=lambda pair: (pair[1], pair[0]))[0]


def run_demo(
    folder: Path, *, progress: Progress | None = None, now: datetime | None = None
) -> DemoReport:
    from actwatch.demo.samples import serve_samples

    say = progress or (lambda _message: None)
    started = clock.now()
    now = now or started
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(folder / "mail", create=True)

    with serve_samples() as base_url:
        say(f"Serving the sample feeds at {base_url}")
        config_path = write_config(folder, base_url)
        config = load_config(config_path)
        engine = open_database(config)
        try:
            say(
                f"Polling {len(config.feeds)} sample feeds, matching the items to the Act's strands"
            )
            polled = poll_and_match(engine, config, force=True, now=now)
            assert polled is not None  # nothing can stop it here
            report = polled.poll
            decided = count_decided(engine)
            total = count_items(engine)
            season = richest_season(engine, config)
            files_written: list[Path] = []
            bulletin_id = None
            bulletin_items = 0
            if season is not None:
                say(f"Compiling the {season.slug} bulletin")
                drafted = draft_and_notify(engine, config, season, now=now, notify=False)
                bulletin_id, bulletin_items = drafted.draft.bulletin_id, drafted.draft.total
                renderings = render(engine, config, bulletin_id)
                for kind, suffix in (("html", "html"), ("text", "txt"), ("markdown", "md")):
                    path = folder / f"bulletin-{season.slug}.{suffix}"
                    path.write_text(renderings[kind], encoding="utf-8")
                    files_written.append(path)
        finally:
            engine.dispose()

    return DemoReport(
        folder=folder,
        config_path=config_path,
        feeds=len(config.feeds),
        feeds_ok=report.ok + report.not_modified,
        feeds_failed=report.failed,
        items=total,
        relevant=decided.states[MatchState.RELEVANT],
        uncertain=decided.states[MatchState.UNCERTAIN],
        relevant_by_strand={
            slug: decided.relevant_by_strand.get(slug, 0) for slug in config.strands
        },
        strand_names={slug: strand.name for slug, strand in config.strands.items()},
        season=season,
        bulletin_id=bulletin_id,
        bulletin_items=bulletin_items,
        files=files_written,
        seconds=(clock.now() - started).total_seconds(),
    )
