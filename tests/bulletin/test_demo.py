"""The offline demo end to end, and every season of the sample data within the size budget."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from actwatch.bulletin import HTML_BUDGET, preview_links, render_html, render_markdown, render_text
from actwatch.bulletin.store import draft_bulletin, load_bulletin, seasons_with_news
from actwatch.cli import main
from actwatch.config import load_config
from actwatch.db import open_database
from actwatch.demo import DemoReport, run_demo
from tests.bulletin.fixtures import NOW


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoReport:
    return run_demo(tmp_path_factory.mktemp("demo") / "demo", now=NOW)


def test_the_demo_builds_a_folder_with_everything(demo: DemoReport) -> None:
    folder = demo.folder
    assert demo.config_path == folder / "config.yaml"
    assert (folder / "actwatch.db").is_file()
    assert {"cur", "new", "tmp"} <= {p.name for p in (folder / "mail").iterdir()}
    assert demo.feeds >= 5 and demo.feeds_failed == 0
    assert demo.items > 100 and demo.relevant > 50
    assert all(count > 0 for count in demo.relevant_by_strand.values()), demo.relevant_by_strand
    assert demo.season is not None and demo.bulletin_items > 5
    assert [path.suffix for path in demo.files] == [".html", ".txt", ".md"]
    html = demo.files[0].read_text(encoding="utf-8")
    assert len(html.encode()) < HTML_BUDGET and not re.search(r"</?mj-", html)
    assert demo.season.label in html
    markdown = demo.files[2].read_text(encoding="utf-8")
    assert markdown.startswith("---\ntitle: ") and "  - Archive\n" in markdown


def test_the_demo_config_works_afterwards(demo: DemoReport) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(demo.config_path), "bulletins", "--json"])
    assert result.exit_code == 0, result.output
    [bulletin] = json.loads(result.stdout)
    assert demo.season is not None
    assert bulletin["season"] == demo.season.slug and bulletin["items"] == demo.bulletin_items
    config = load_config(demo.config_path)
    assert config.matching.fetch_instruments is False  # the demo never leaves 127.0.0.1


def test_every_season_of_the_sample_data_renders_within_budget(demo: DemoReport) -> None:
    config = load_config(demo.config_path)
    engine = open_database(config)
    try:
        seasons = seasons_with_news(engine, config)
        assert len(seasons) >= 8
        sizes = {}
        for season, _count in seasons:
            draft = draft_bulletin(engine, config, season, NOW)
            links = preview_links(config, season.slug)
            bulletin = load_bulletin(engine, config, draft.bulletin_id)
            html = render_html(bulletin, links, config=config)
            sizes[season.slug] = len(html.encode())
            assert not re.search(r"</?mj-", html)
            assert bulletin.title in render_text(bulletin, links, config=config)
            assert render_markdown(bulletin, links, config=config).startswith("---\n")
        assert max(sizes.values()) < HTML_BUDGET, sizes
    finally:
        engine.dispose()


def test_running_the_demo_again_reuses_the_folder(demo: DemoReport, tmp_path: Path) -> None:
    again = run_demo(demo.folder, now=NOW)
    assert again.items == demo.items
    assert again.season == demo.season and again.bulletin_id == demo.bulletin_id
    assert again.bulletin_items == demo.bulletin_items
