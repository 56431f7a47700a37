"""The command line does what the web editor does: every step of a review, `include` on any item
of the season (or exactly why not), listings with ids and `--json`, output to a pipe unwrapped,
and "Next:" naming only commands that exist."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from actwatch.bulletin.model import StoredItem
from actwatch.cli import main
from actwatch.cli.review import next_commands
from actwatch.config import load_config
from actwatch.core.states import BulletinState
from actwatch.db import open_database
from actwatch.review.states import actions_from
from tests.bulletin.fixtures import insert_fixture, insert_item


def run(config_file: Path, *args: str) -> tuple[int, str]:
    # No COLUMNS: the output goes to a pipe, as when a script or `| less` reads it.
    result = CliRunner(env={"COLUMNS": None}).invoke(main, ["--config", str(config_file), *args])
    return result.exit_code, result.output


def review(config_file: Path) -> dict[str, Any]:
    code, output = run(config_file, "review", "1", "--json")
    assert code == 0, output
    data: dict[str, Any] = json.loads(output)
    return data


def shown(data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["item_id"]: item for section in data["sections"] for item in section["items"]}


def section_of(data: dict[str, Any], item_id: int) -> list[int]:
    for section in data["sections"]:
        ids = [item["item_id"] for item in section["items"]]
        if item_id in ids:
            return ids
    raise AssertionError(f"item {item_id} is not shown")


def extra_item(config_file: Path, n: int, state: str, month: int = 10, year: int = 2017) -> int:
    engine = open_database(load_config(config_file))
    try:
        return insert_item(
            engine,
            StoredItem(
                id=0,
                title=f"Staying close pilots reach {n} councils",
                link=f"https://www.gov.uk/government/news/staying-close-{n}",
                source="GOV.UK",
                published_at=datetime(year, month, 12, 9, tzinfo=UTC),
                summary="More councils try staying close.",
                event_type="pilot",
                strands=("care-leavers",),
            ),
            state=state,
        )
    finally:
        engine.dispose()


@pytest.fixture
def drafted(write_pinned_config: Callable[..., Path]) -> tuple[Path, dict[int, int]]:
    config_file = write_pinned_config()
    engine = open_database(load_config(config_file))
    ids = insert_fixture(engine)
    engine.dispose()
    code, output = run(config_file, "draft", "autumn-2017")
    assert code == 0, output
    return config_file, ids


def test_next_names_only_commands_that_exist() -> None:
    context = click.Context(main)
    for state in BulletinState:
        steps = next_commands(7, state, actions_from(state))
        assert steps or state == "sent", state
        for command, what in steps:
            words = command.split()
            assert words[0] == "actwatch" and what, command
            found = main.get_command(context, words[1])
            assert found is not None, f"{state}: `{command}` is not a command"
            options = {name for param in found.params for name in param.opts}
            for word in words[2:]:
                if word.startswith("--"):
                    assert word in options, f"{state}: `{command}`: no option {word}"
            arguments = [p for p in found.params if isinstance(p, click.Argument)]
            assert arguments and arguments[0].name == "bulletin", command
            assert words[2] == "7", command


def test_every_review_step_on_the_command_line(drafted: tuple[Path, dict[int, int]]) -> None:
    config_file, _ = drafted
    extra_item(config_file, 1, "relevant")
    extra_item(config_file, 2, "relevant")
    code, output = run(config_file, "draft", "autumn-2017")
    assert code == 0 and "2 new items" in output
    data = review(config_file)
    assert data["state"] == "draft"
    movable = next(
        s
        for s in data["sections"]
        if s["slug"] not in ("in-force", "coming-up") and len(s["items"]) >= 2
    )
    first, second = (item["item_id"] for item in movable["items"][:2])

    code, output = run(config_file, "summary", "1", str(first), "Councils test staying close.")
    assert code == 0 and f"item {first}: summary written (revision 3)" in output
    assert shown(review(config_file))[first]["own_summary"] == "Councils test staying close."
    code, output = run(config_file, "summary", "1", str(first), "")
    assert code == 0 and "the feed's own summary is back" in output
    assert shown(review(config_file))[first]["own_summary"] is None

    code, output = run(config_file, "move", "1", str(second), "--up")
    assert code == 0 and f"item {second} moved up" in output
    assert section_of(review(config_file), second)[:2] == [second, first]
    code, output = run(config_file, "reorder", "1", str(first), str(second))
    assert code == 0 and "2 items in the order given" in output
    assert section_of(review(config_file), second)[:2] == [first, second]
    code, output = run(config_file, "move", "1", str(first), "--strand", "care-leavers")
    assert code == 0 and "now appears under Care leavers" in output
    assert shown(review(config_file))[first]["strand"] == "care-leavers"
    code, output = run(config_file, "move", "1", str(first), "--strand", "matcher")
    assert code == 0 and "the strand the matcher chose" in output
    code, output = run(config_file, "move", "1", str(first))
    assert code == 2 and "--strand SLUG, --up or --down" in output
    code, output = run(config_file, "move", "1", str(first), "--strand", "nowhere")
    assert code == 1 and "unknown strand 'nowhere'" in output

    code, output = run(
        config_file,
        "add",
        "1",
        "https://www.example.org/news/staying-close-conference",
        "--title",
        "Staying close: the conference report",
        "--strand",
        "care-leavers",
        "--type",
        "pilot",
        "--date",
        "2017-11-20",
    )
    assert code == 0, output
    added = int(output.split("added item ")[1].split()[0])
    data = review(config_file)
    assert shown(data)[added]["manual"] is True
    assert shown(data)[added]["title"] == "Staying close: the conference report"

    code, output = run(config_file, "preheader", "1", "Staying close goes national")
    assert code == 0 and "preview text set" in output
    code, output = run(config_file, "review", "1")
    assert "Preview text: Staying close goes national\n" in output
    assert "Subject: Autumn 2017 news: Children & Social Work Act" in output

    code, output = run(config_file, "submit", "1")
    assert code == 0 and "Bulletin 1 is in review." in output
    code, output = run(config_file, "approve", "1")
    assert code == 0, output
    assert f"as {getpass.getuser()} (command line)" in output
    assert review(config_file)["approved_by"] == f"{getpass.getuser()} (command line)"
    code, output = run(config_file, "review", "1")
    assert "actwatch send 1 " in output and "actwatch schedule 1 --at DATETIME" in output
    code, output = run(config_file, "schedule", "1", "--at", "2099-06-01 09:30")
    assert code == 0
    code, output = run(config_file, "unschedule", "1")
    assert code == 0 and "unscheduled; the approval stands" in output
    data = review(config_file)
    assert data["state"] == "approved" and data["scheduled_for"] is None

    code, output = run(config_file, "audit", "1")
    assert code == 0 and "Unscheduled it; the approval stands." in output
    assert "Set the preview text to “Staying close goes national”." in output
    code, output = run(config_file, "audit", "1", "--json")
    [latest] = [json.loads(line) for line in output.splitlines()][:1]
    assert latest["action"] == "unschedule" and latest["description"].startswith("Unscheduled")


def test_include_takes_any_item_of_the_season_or_says_why_not(
    drafted: tuple[Path, dict[int, int]],
) -> None:
    config_file, _ = drafted
    rejected = extra_item(config_file, 11, "rejected")
    unsure = extra_item(config_file, 12, "uncertain")
    other = extra_item(config_file, 13, "uncertain")
    winter = extra_item(config_file, 14, "rejected", month=1, year=2018)

    code, output = run(config_file, "include", "autumn-2017", str(rejected))
    assert code == 0, output
    assert f"item {rejected} added; the matcher's verdict (rejected) is overruled" in output
    assert rejected in shown(review(config_file))
    code, output = run(config_file, "include", "autumn-2017", str(unsure))
    assert code == 0 and "added from the uncertain queue" in output
    code, output = run(config_file, "dismiss", str(other))
    assert code == 0 and "leaves the uncertain queue" in output
    assert other not in {q["item_id"] for q in review(config_file)["uncertain"]}

    code, output = run(config_file, "include", "autumn-2017", str(winter))
    assert code == 1
    assert f"item {winter} was published on 12 January 2018, in Winter 2017-18" in output
    assert "actwatch draft winter-2017" in output
    code, output = run(config_file, "include", "autumn-2017", "99999")
    assert code == 1 and "there is no item 99999" in output


def test_items_show_their_ids_one_line_each_through_a_pipe(
    drafted: tuple[Path, dict[int, int]],
) -> None:
    config_file, ids = drafted
    extra_item(config_file, 15, "rejected")
    environment = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    result = subprocess.run(
        [sys.executable, "-m", "actwatch", "--config", str(config_file), "items"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=True,
    )
    _, output = run(config_file, "items", "--json")
    listed = json.loads(output)
    assert len(listed) == len(ids) + 1
    lines = result.stdout.splitlines()
    rows = {
        line.split("│")[1].strip(): line
        for line in lines
        if line.startswith("│") and line.split("│")[1].strip().isdigit()
    }
    assert len(lines) <= len(listed) + 6, result.stdout  # a title, rules, a header: no wrapping
    for item in listed:
        assert item["title"] in rows[str(item["id"])]  # whole, on its item's one line
    assert max(len(line) for line in lines) > 80


def test_every_listing_command_has_json(drafted: tuple[Path, dict[int, int]]) -> None:
    config_file, _ = drafted
    CliRunner().invoke(
        main,
        ["--config", str(config_file), "editors", "add", "Jo Broad", "--password-stdin"],
        input="a long enough password\n",
    )
    listings: list[tuple[str, ...]] = [
        ("bulletins",),
        ("items",),
        ("feeds",),
        ("review", "1"),
        ("editors", "list"),
        ("subscribers", "list"),
        ("status",),
    ]
    for command in listings:
        code, output = run(config_file, *command, "--json")
        assert code in (0, 1), (command, output)  # status exits 1 when unwell
        text = output.strip()
        if command == ("subscribers", "list"):
            assert all(json.loads(line) for line in text.splitlines())
        else:
            json.loads(text)
    code, output = run(config_file, "editors", "list", "--json")
    assert [editor["name"] for editor in json.loads(output)] == ["Jo Broad"]
    code, output = run(config_file, "audit", "1", "--json")
    assert all(json.loads(line)["description"] for line in output.splitlines())


def test_subscribers_add_on_the_command_line(write_pinned_config: Callable[..., Path]) -> None:
    config_file = write_pinned_config()
    code, output = run(
        config_file,
        "subscribers",
        "add",
        "Robin@Example.org",
        "--name",
        "Robin",
        "--strand",
        "care-leavers",
        "--by",
        "Jo Broad",
    )
    assert code == 0, output
    assert "robin@example.org: added. Consent recorded as 'added by Jo Broad at " in output
    code, output = run(config_file, "subscribers", "list", "--json")
    [person] = [json.loads(line) for line in output.splitlines()]
    assert person["strands"] == ["care-leavers"] and person["status"] == "confirmed"
    code, output = run(config_file, "subscribers", "add", "robin@example.org")
    assert code == 0 and "already subscribed" in output
    code, output = run(config_file, "subscribers", "remove", "robin@example.org")
    code, output = run(config_file, "subscribers", "add", "robin@example.org")
    assert code == 1 and "was not added: unsubscribed on" in output
    code, output = run(config_file, "subscribers", "add", "nobody")
    assert code == 1 and "nobody was not added:" in output
