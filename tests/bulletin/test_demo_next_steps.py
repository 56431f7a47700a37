"""What a new user does after `actwatch demo`: open the bulletin, `show` it, open the web editor,
run `serve` on the demo config (which polls the sample feeds from itself, with no failure)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from actwatch.cli import main
from actwatch.config import load_config
from tests.conftest import free_port

SEEDED_NAMES = ("Jo Broad",)  # the real person behind the seed posts: never the demo's editor


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    folder = tmp_path_factory.mktemp("next") / "demo"
    port = free_port()
    result = CliRunner().invoke(
        main, ["demo", "--out", str(folder), "--port", str(port)], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    return folder, port, result.output


def test_the_demo_says_where_the_bulletin_is_and_how_to_open_the_editor(
    demo_run: tuple[Path, int, str],
) -> None:
    folder, port, output = demo_run
    config = load_config(folder / "config.yaml")
    [html] = folder.glob("bulletin-*.html")
    assert html.as_uri() in output
    key = config.web.secret_key_env
    assert f"export {key}=" in output
    editor = config.bulletin.editor.name
    assert f"editors add {shlex.quote(editor)}" in output
    assert re.search(r"--config \S+config\.yaml serve\n", output)
    assert f"http://127.0.0.1:{port}/editor/" in output
    assert editor and editor not in SEEDED_NAMES
    assert all(name not in output for name in SEEDED_NAMES)
    assert "(s)" not in output


def test_show_gives_the_bulletin_the_demo_wrote(demo_run: tuple[Path, int, str]) -> None:
    folder, _, output = demo_run
    [text] = folder.glob("bulletin-*.txt")
    result = CliRunner().invoke(
        main, ["--config", str(folder / "config.yaml"), "show", "1", "--format", "text"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == text.read_text(encoding="utf-8")
    # Dated the day the service would have drafted it, and everything in it as of that day.
    season = re.search(r"Bulletin 1: (\w+) (\d{4})", output)
    assert season is not None
    assert "issued " in output
    issued = re.search(r"^(\d{1,2} \w+ \d{4}), ", result.output, re.M)
    assert issued is not None
    day = date.fromisoformat(time.strftime("%Y-%m-%d", time.strptime(issued.group(1), "%d %B %Y")))
    assert day.year in (int(season.group(2)), int(season.group(2)) + 1)
    assert f"Each strand as of {issued.group(1)}." in result.output


@pytest.mark.slow
def test_serve_on_the_demo_config_polls_the_sample_feeds_without_failing(
    demo_run: tuple[Path, int, str],
) -> None:
    folder, _, _ = demo_run
    config_file = folder / "config.yaml"
    config = load_config(config_file)
    env = {**os.environ, config.web.secret_key_env: "demo-test-secret-" + "k" * 40}
    command = ["-m", "actwatch", "--config", str(config_file), "serve", "--log-format", "json"]
    process = subprocess.Popen(
        [sys.executable, *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if '"event": "poll"' in line:
                break
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=30)
        lines.extend(rest.splitlines())
    finally:
        if process.poll() is None:
            process.kill()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    polls = [record for record in records if record.get("event") == "poll"]
    assert polls, "".join(lines)
    assert polls[0]["failed"] == 0 and polls[0]["ok"] == len(config.feeds), polls[0]
    problems = [
        record
        for record in records
        if record.get("level") in ("warning", "error", "critical")
        and "feed" in json.dumps(record).lower()
    ]
    assert problems == [], problems
    result = CliRunner().invoke(main, ["--config", str(config_file), "feeds", "--json"])
    assert {feed["status"] for feed in json.loads(result.stdout)} == {"ok"}
