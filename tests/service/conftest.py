"""The service as an operator runs it: `actwatch serve` in a real process, the bundled sample
feeds and a feed of this season's news on a local HTTP server, aiosmtpd as the mail server.

Schedules are fast (seconds) but go through the same config keys an operator sets.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from string import Template
from typing import Any

import httpx
import pytest
import yaml

from actwatch.bulletin.seasons import last_ended_season, window
from actwatch.config import Config, parse_config
from actwatch.demo.samples import (
    CONTENT_TYPES,
    FeedServer,
    running,
    sample_documents,
    sample_feed_configs,
)
from tests.conftest import DATA, free_port

SECRET = "service-test-secret-" + "s" * 40
ENV = {"ACTWATCH_SECRET_KEY": SECRET}
SEASON_FEED = "/season-news.atom"


def season_news(config: Config, now: datetime) -> bytes:
    """Four announcements about the Act, dated inside the season that ended last."""
    start, end = window(config, last_ended_season(config, now))
    middle = start + (end - start) / 2
    dates = {
        f"updated_{n}": (middle + timedelta(days=n)).astimezone(UTC).isoformat()
        for n in range(1, 5)
    }
    text = (DATA / "service" / "season-news.atom").read_text(encoding="utf-8")
    return Template(text).substitute(dates).encode("utf-8")


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with running(FeedServer(sample_documents())) as server:
        yield server


def service_data(
    repo_config_data: dict[str, Any],
    *,
    feed_server: FeedServer | None,
    mail_url: str,
    database_url: str = "sqlite:///state/actwatch.db",
    port: int | None = None,
) -> dict[str, Any]:
    data = copy.deepcopy(repo_config_data)
    data["feeds"] = []
    if feed_server is not None:
        data["feeds"] = [
            *sample_feed_configs(feed_server.base_url),
            {"name": "season-news", "title": "GOV.UK", "url": feed_server.url(SEASON_FEED)},
        ]
    data["fetch"] = {**data["fetch"], "min_interval": "0s", "concurrency": 4, "parse_workers": 1}
    data["matching"] = {**data["matching"], "fetch_instruments": False}
    data["schedule"] = {
        **data["schedule"],
        "poll_interval": "2s",
        "send_check_interval": "1s",
        "draft_after": "0s",
        "draft_at": "00:00",
    }
    data["mail"] = {
        **data["mail"],
        "url": mail_url,
        "connections": 2,
        "batch_size": 10,
        "retry_backoff": "1s",
    }
    data["web"] = {
        **data["web"],
        "host": "127.0.0.1",
        "port": port or free_port(),
        "base_url": "https://actwatch.example.org",
    }
    data["database"] = {"url": database_url}
    return data


@dataclass
class Installation:
    """A config file in a folder, and the processes started on it (all killed at the end)."""

    folder: Path
    data: dict[str, Any]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: dict[int, Path] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.folder / "config.yaml"

    @property
    def config(self) -> Config:
        return parse_config(self.data, self.path)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.data['web']['port']}"

    def write(self) -> None:
        self.path.write_text(yaml.safe_dump(self.data, sort_keys=False), encoding="utf-8")

    def start(self, *args: str, name: str = "serve") -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}-{len(self.processes)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "actwatch", "--config", str(self.path), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **ENV, "COLUMNS": "200"},
            )
        self.processes.append(process)
        self.logs[process.pid] = log
        return process

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "actwatch", "--config", str(self.path), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **ENV, "COLUMNS": "200"},
            timeout=timeout,
        )

    def log_text(self, process: subprocess.Popen[bytes]) -> str:
        return self.logs[process.pid].read_text(encoding="utf-8", errors="replace")

    def events(self, process: subprocess.Popen[bytes]) -> list[dict[str, Any]]:
        """The JSON log lines of a process started with --log-format json."""
        found = []
        for line in self.log_text(process).splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    found.append(json.loads(line))
        return found

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 15) -> tuple[int, float]:
        """SIGTERM; the exit code and how long it took."""
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"no exit {timeout}s after SIGTERM:\n{self.log_text(process)[-3000:]}")
        return code, time.monotonic() - started

    def kill_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture
def installation(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], Installation]]:
    made: list[Installation] = []

    def make(data: dict[str, Any]) -> Installation:
        found = Installation(tmp_path, data)
        found.write()
        made.append(found)
        return found

    try:
        yield make
    finally:
        for found in made:
            found.kill_all()


def wait_until(
    condition: Callable[[], Any],
    what: str,
    *,
    timeout: float = 60,
    process: subprocess.Popen[bytes] | None = None,
    installation: Installation | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            log = installation.log_text(process)[-4000:] if installation else ""
            pytest.fail(f"the service exited ({process.returncode}) before {what}:\n{log}")
        if time.monotonic() > deadline:
            log = installation.log_text(process)[-4000:] if installation and process else ""
            pytest.fail(f"timed out waiting for {what}:\n{log}")
        time.sleep(0.1)


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5)
    except httpx.TransportError:
        return None


__all__ = [
    "CONTENT_TYPES",
    "ENV",
    "SEASON_FEED",
    "Installation",
    "get",
    "season_news",
    "service_data",
    "wait_until",
]
