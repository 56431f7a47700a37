"""Relative paths resolve against the config file's folder, never the current directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from actwatch.config import load_config


def test_relative_paths_follow_the_config_file(
    write_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(database={"url": "sqlite:///state/actwatch.db"})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(path)
    assert config.database_url == f"sqlite:///{tmp_path / 'state' / 'actwatch.db'}"
    assert config.maildir == tmp_path / "mail"
    assert config.templates_dir == tmp_path / "templates"
    assert config.archive_dir == tmp_path / "archive"


def test_absolute_and_server_urls_are_kept(write_config: Callable[..., Path]) -> None:
    config = load_config(
        write_config(database={"url": "postgresql://actwatch@db.example.org/actwatch"})
    )
    assert config.database_url == "postgresql://actwatch@db.example.org/actwatch"
    config = load_config(write_config(database={"url": "sqlite:////var/lib/actwatch/a.db"}))
    assert config.database_url == "sqlite:////var/lib/actwatch/a.db"


def test_durations_and_sizes_read_as_people_write_them(write_config: Callable[..., Path]) -> None:
    config = load_config(
        write_config(
            schedule={"poll_interval": "90m", "draft_after": "2d"},
            fetch={"contact": "ops@example.org", "max_bytes": "512KiB", "deadline": 45},
        )
    )
    assert config.schedule.poll_interval.total_seconds() == 5400
    assert config.schedule.draft_after.days == 2
    assert config.fetch.max_bytes == 512 * 1024
    assert config.fetch.deadline.total_seconds() == 45
