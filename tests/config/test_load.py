"""Every kind of mistake in a config file names its key and the reason, and exits 2."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from actwatch.cli import main
from actwatch.config import ConfigError, load_config, parse_config

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


MISTAKES: list[tuple[str, Mutation, str]] = [
    (
        "unknown key",
        _set("strands.care-leavers.cue", ["x"]),
        "strands.care-leavers: unknown key 'cue'",
    ),
    (
        "not a URL",
        _set("feeds.3.url", "ftp://example.org/feed"),
        "feeds[3].url: not an http(s) URL",
    ),
    ("required key", _delete("act.name"), "act.name: required key missing"),
    (
        "wrong type",
        _set("fetch.concurrency", "many"),
        "fetch.concurrency: Input should be a valid integer",
    ),
    (
        "bad duration",
        _set("schedule.poll_interval", "soon"),
        "schedule.poll_interval: not a duration",
    ),
    ("bad size", _set("fetch.max_bytes", "huge"), "fetch.max_bytes: not a size"),
    (
        "time zone",
        _set("schedule.timezone", "Europe/Londres"),
        "schedule.timezone: unknown time zone",
    ),
    (
        "bad slug",
        _set("strands.Care Leavers", {"name": "x", "description": "y", "cues": ["z"]}),
        "strands.Care Leavers: 'Care Leavers' is not a valid key",
    ),
    (
        "unknown strand in theme",
        _set("themes.people-and-leadership.strands", ["nope"]),
        "themes.people-and-leadership.strands[0]: unknown strand 'nope'",
    ),
    (
        "seasons",
        _set("bulletin.seasons", {"spring": [3, 4, 5]}),
        "bulletin.seasons: seasons must cover each month 1-12 exactly once",
    ),
    (
        "placeholder",
        _set("bulletin.title_pattern", "{Seasn} news"),
        "bulletin.title_pattern: unknown placeholder {Seasn}",
    ),
    (
        "credentials in URL",
        _set("mail.url", "smtp://user:secret@mail.example.org:25"),
        "mail.url: credentials must come from environment variables",
    ),
    ("mail scheme", _set("mail.url", "http://mail.example.org"), "mail.url: use smtp://host:port"),
    ("email", _set("mail.from", "not-an-address"), "mail.from: not an email address"),
    ("event types", _delete("event_types.pilot"), "event_types: missing announcement types: pilot"),
    (
        "database",
        _set("database.url", "mysql://db/actwatch"),
        "database.url: only sqlite and postgresql databases are supported",
    ),
    (
        "section",
        _set("strands.care-leavers.sections", ["twelve"]),
        "strands.care-leavers.sections: 'twelve' is not a section reference",
    ),
    (
        "duplicate feeds",
        lambda d: d["feeds"].append(dict(d["feeds"][0])),
        "feeds: feed names must be unique: gov-uk-dfe",
    ),
    ("port", _set("web.port", 70000), "web.port: Input should be less than or equal to 65535"),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES]
)
def test_mistake_names_key_and_reason(
    repo_config_data: dict[str, Any], mutate: Mutation, expected: str
) -> None:
    data = copy.deepcopy(repo_config_data)
    mutate(data)
    with pytest.raises(ConfigError) as raised:
        parse_config(data, Path("config.yaml"))
    assert any(problem.startswith(expected) for problem in raised.value.problems), (
        raised.value.problems
    )


def test_every_problem_is_reported_at_once(repo_config_data: dict[str, Any]) -> None:
    data = copy.deepcopy(repo_config_data)
    _set("feeds.0.url", "nope")(data)
    _set("schedule.timezone", "Nowhere")(data)
    _set("strands.corporate-parenting.cue", ["x"])(data)
    with pytest.raises(ConfigError) as raised:
        parse_config(data, Path("config.yaml"))
    assert len(raised.value.problems) == 3


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("act:\n  name: x\nstrands: [unclosed\nfeeds: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    (problem,) = raised.value.problems
    assert problem.startswith(f"{path}:4: bad YAML")


@pytest.mark.parametrize(
    ("text", "expected"), [("", "the file is empty"), ("- a\n- b\n", "expected a mapping")]
)
def test_empty_or_list_file(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_cli_exits_2_with_one_line_per_problem_and_no_traceback(
    write_config: Callable[..., Path], repo_config_data: dict[str, Any]
) -> None:
    feeds = copy.deepcopy(repo_config_data["feeds"])
    feeds[3]["url"] = "not a url"
    path = write_config(feeds=feeds, schedule={"timezone": "Nowhere/Land"})
    result = CliRunner().invoke(main, ["--config", str(path), "config", "check"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[:2] == [
        "feeds[3].url: not an http(s) URL",
        "schedule.timezone: unknown time zone 'Nowhere/Land'",
    ]
    assert "Traceback" not in result.output + result.stderr


def test_cli_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(tmp_path / "absent.yaml"), "config", "check"]
    )
    assert result.exit_code == 2
    assert "no such config file" in result.stderr


def test_config_env_variable_chooses_the_file(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config("elsewhere.yaml")
    monkeypatch.setenv("ACTWATCH_CONFIG", str(path))
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output
    assert str(path) in result.output
