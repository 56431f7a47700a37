"""`actwatch draft`, `bulletins` and `show` through the real command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from actwatch.cli import main
from actwatch.config import load_config
from actwatch.db import open_database
from tests.bulletin.fixtures import insert_fixture


def run(config_file: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config_file), *args], terminal_width=200)
    return result.exit_code, result.output


def test_draft_list_and_show(write_pinned_config: Callable[..., Path], tmp_path: Path) -> None:
    config_file = write_pinned_config()
    engine = open_database(load_config(config_file))
    insert_fixture(engine)
    engine.dispose()

    code, output = run(config_file, "draft", "autumn-2017")
    assert code == 0, output
    assert "Created the autumn-2017 draft (bulletin 1) with 10 items." in output
    code, output = run(config_file, "draft", "autumn-2017")
    assert code == 0, output
    assert "0 new items, 10 in all; the editor's choices are kept" in output

    code, output = run(config_file, "bulletins", "--json")
    assert code == 0, output
    assert json.loads(output) == [
        {
            "id": 1,
            "season": "autumn-2017",
            "state": "draft",
            "title": "Autumn 2017 news: Children & Social Work Act",
            "items": 10,
        }
    ]
    code, output = run(config_file, "bulletins")
    assert code == 0 and "autumn-2017" in output and "draft" in output

    code, output = run(config_file, "show", "1", "--format", "text")
    assert code == 0, output
    assert output.startswith("Autumn 2017 news: Children & Social Work Act\n")
    assert "WHERE ARE WE NOW" in output

    target = tmp_path / "out" / "autumn.html"
    code, output = run(config_file, "show", "autumn-2017", "--format", "html", "-o", str(target))
    assert code == 0, output
    assert f"Wrote {target}" in output
    assert target.read_text(encoding="utf-8").startswith("<!doctype html>")

    code, output = run(config_file, "show", "1", "--format", "markdown")
    assert code == 0 and output.startswith("---\ntitle: ")


def test_no_draft_for_a_season_with_no_news_or_one_to_come(
    write_pinned_config: Callable[..., Path],
) -> None:
    config_file = write_pinned_config()
    # Without a season: the last one that ended, which has no news here.
    code, output = run(config_file, "draft")
    assert code == 1
    assert "has no relevant announcements yet: there is nothing to draft" in output
    code, output = run(config_file, "draft", "spring-2099")
    assert code == 1
    assert "spring-2099 has not started yet (it starts on 1 March 2099)" in output
    assert "Told" not in output
    code, output = run(config_file, "bulletins", "--json")
    assert json.loads(output) == []


def test_mistakes_are_one_clear_line(write_pinned_config: Callable[..., Path]) -> None:
    config_file = write_pinned_config()
    code, output = run(config_file, "draft", "fall-2017")
    assert code == 2 and "unknown season 'fall'" in output
    code, output = run(config_file, "show", "spring-2019")
    assert code == 1 and "Error: no bulletin 'spring-2019'" in output
    code, output = run(config_file, "show", "1", "--format", "pdf")
    assert code == 2
    code, output = run(config_file, "bulletins")
    assert code == 0 and "No bulletins yet" in output
