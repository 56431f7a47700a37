"""The offline demo: the whole pipeline in one folder, on the bundled sample feeds.

`run_demo(folder)` writes a config beside an SQLite database and a maildir, serves the sample
feeds on 127.0.0.1, polls them, classifies the items, compiles the season with the most news,
and writes its three renderings. Run again, it reuses the folder: every step is idempotent.

The folder is ready for what a new user does next. The sample feeds are copied into `feeds/`,
which the demo config's web app serves at `/feed-files/`, and the config's feeds point there: so
`actwatch serve` on the demo config (the web editor and the scheduler) polls them from itself,
with no dead address and no failure. The bulletin is dated as the service would have issued it,
the day its draft fell due, so the files, `show` and the web editor's preview all agree.

The sample feeds and the little HTTP server that serves them live in `actwatch.demo.samples`
(the tests and benchmarks serve feeds with it too); both ship in the wheel.
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from actwatch.bulletin.seasons import Season, draft_due_at
from actwatch.bulletin.store import seasons_with_news
from actwatch.config import Config, load_config
from actwatch.core import clock
from actwatch.core.states import MatchState
from actwatch.db import Engine, open_database
from actwatch.feeds.store import count_items, sync_feeds
from actwatch.matching.store import count_decided
from actwatch.pipeline import draft_and_notify, poll_and_match, render

DEMO_PORT = 8080
FEED_FILES = "feeds"  # the folder, beside the config, that the web app serves at /feed-files/
CONFIG_HEADER = """\
# Written by `actwatch demo`: the real rules for the Act, with the bundled sample feeds as the
# feeds. The sample feeds are the files in ./feeds, which the web app serves at /feed-files/
# (web.feed_files): `actwatch --config THIS_FILE serve` polls them from itself. To watch the real
# sources, use the feeds of the default config.yaml instead. Paths are relative to this folder.
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
    issued_on: date | None = None  # the date the demo's bulletin is issued on
    editor_name: str = ""  # the demo config's editor
    secret_key_env: str = "ACTWATCH_SECRET_KEY"  # noqa: S105 - the variable's name, not a key
    web_url: str = ""  # where `serve` (or `web`) on the demo config answers


def default_config_path() -> Path:
    """The real config for the Act: bundled in a wheel, else the source checkout's."""
    bundled = files("actwatch") / "default-config.yaml"
    if bundled.is_file():
        return Path(str(bundled))
    checkout = Path(__file__).resolve().parents[3] / "config.yaml"
    if checkout.is_file():
        return checkout
    raise DemoError(f"the default config is missing (looked for {checkout})")


def web_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def demo_config_data(
    rules: dict[str, Any], *, port: int = DEMO_PORT, feeds_at: str | None = None
) -> dict[str, Any]:
    """The demo config: the real rules, the sample feeds, state in the demo folder, and the web
    app on 127.0.0.1:`port` serving the sample feeds. `feeds_at`: where the feeds are read from
    instead (the demo's own sample server, while it runs)."""
    from actwatch.demo.samples import sample_feed_configs

    data = dict(rules)
    base = web_url(port)
    data["feeds"] = sample_feed_configs(feeds_at or f"{base}/feed-files")
    data["database"] = {"url": "sqlite:///actwatch.db"}
    data["mail"] = {**data.get("mail", {}), "url": "maildir:mail"}
    data["web"] = {
        **data.get("web", {}),
        "host": "127.0.0.1",
        "port": port,
        "base_url": base,
        "feed_files": FEED_FILES,
    }
    # Offline: the matcher reads commencement dates from the instruments' titles and summaries
    # instead of fetching their text from legislation.gov.uk.
    data["matching"] = {**data.get("matching", {}), "fetch_instruments": False}
    bulletin = dict(data.get("bulletin", {}))
    bulletin["templates"] = "templates"  # absent until the editor copies templates in
    bulletin["archive_dir"] = "archive"
    data["bulletin"] = bulletin
    return data


def write_config(folder: Path, *, port: int = DEMO_PORT, feeds_at: str | None = None) -> Path:
    source = default_config_path()
    rules = yaml.safe_load(source.read_text(encoding="utf-8"))
    data = demo_config_data(rules, port=port, feeds_at=feeds_at)
    path = folder / "config.yaml"
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(CONFIG_HEADER + text, encoding="utf-8")
    return path


def copy_feed_files(folder: Path) -> Path:
    """The sample feeds, as files the demo config's web app serves."""
    from actwatch.demo.samples import sample_files

    target = folder / FEED_FILES
    target.mkdir(exist_ok=True)
    for entry in sample_files():
        (target / entry.name).write_bytes(entry.read_bytes())
    return target


def richest_season(engine: Engine, config: Config) -> Season | None:
    """The season with the most relevant news (the later one on a tie)."""
    seasons = seasons_with_news(engine, config)
    if not seasons:
        return None
    return max(seasons, key=lambda pair: (pair[1], pair[0]))[0]


def run_demo(
    folder: Path,
    *,
    progress: Progress | None = None,
    now: datetime | None = None,
    port: int = DEMO_PORT,
) -> DemoReport:
    from actwatch.demo.samples import serve_samples

    say = progress or (lambda _message: None)
    started = clock.now()
    now = now or started
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(folder / "mail", create=True)
    copy_feed_files(folder)

    with serve_samples() as base_url:
        say(f"Serving the sample feeds at {base_url}")
        # Polled from the sample server now; the config left behind reads them from the web app.
        config_path = write_config(folder, port=port, feeds_at=base_url)
        config = load_config(config_path)
        engine = open_database(config)
        try:
            say(
                f"Polling {len(config.feeds)} sample feeds, matching the items to the Act's strands"
            )
            polled = poll_and_match(engine, config, force=True, now=now)
            assert polled is not None  # nothing can stop it here
            report = polled.poll
            config_path = write_config(folder, port=port)
            config = load_config(config_path)
            sync_feeds(engine, config, now=now)
            decided = count_decided(engine)
            total = count_items(engine)
            season = richest_season(engine, config)
            files_written: list[Path] = []
            bulletin_id = None
            bulletin_items = 0
            issued_on = None
            if season is not None:
                say(f"Compiling the {season.slug} bulletin")
                # Dated the day the service would have drafted it, not today: the sample news
                # is years old, and what was "coming up" then is what the bulletin shows.
                due = draft_due_at(config, season).astimezone(config.schedule.zone).date()
                drafted = draft_and_notify(
                    engine, config, season, now=now, notify=False, issued_on=due
                )
                bulletin_id, bulletin_items = drafted.draft.bulletin_id, drafted.draft.total
                renderings = render(engine, config, bulletin_id)
                for kind, suffix in (("html", "html"), ("text", "txt"), ("markdown", "md")):
                    path = folder / f"bulletin-{season.slug}.{suffix}"
                    path.write_text(renderings[kind], encoding="utf-8")
                    files_written.append(path)
                issued_on = drafted.draft.issued_on
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
        issued_on=issued_on,
        editor_name=config.bulletin.editor.name,
        secret_key_env=config.web.secret_key_env,
        web_url=web_url(port),
    )
