"""The scheduler and the web app split (`--no-web`, `--web-only`), and a standby that takes
over when the scheduler stops."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from actwatch.db import make_engine
from actwatch.db.schema import service_state
from tests.service.conftest import Installation, get, service_data, wait_until

pytestmark = pytest.mark.slow


def _heartbeat_pid(engine: Any) -> int | None:
    try:
        with engine.connect() as connection:
            value = connection.execute(
                select(service_state.c.value).where(service_state.c.key == "scheduler")
            ).scalar()
    except OperationalError:  # the service has not made the database yet
        return None
    return None if not value or value.get("stopped_at") else value.get("pid")


def test_split_and_standby(
    repo_config_data: dict[str, Any], installation: Callable[[dict[str, Any]], Installation]
) -> None:
    site = installation(service_data(repo_config_data, feed_server=None, mail_url="maildir:mail"))
    engine = make_engine(site.config.database_url)
    try:
        scheduler = site.start("serve", "--no-web", "--log-format", "json")
        wait_until(
            lambda: _heartbeat_pid(engine) == scheduler.pid,
            "the scheduler's heartbeat",
            process=scheduler,
            installation=site,
        )
        standby = site.start("serve", "--no-web", "--standby", "--log-format", "json")
        wait_until(
            lambda: any(e.get("event") == "standby" for e in site.events(standby)),
            "the standby to wait",
            process=standby,
            installation=site,
        )
        web = site.start("serve", "--web-only", "--log-format", "json")
        ready = wait_until(
            lambda: (
                (r := get(site.base_url + "/readyz")) is not None and r.status_code == 200 and r
            ),
            "the web-only process to be ready",
            process=web,
            installation=site,
        )
        # Ready on the strength of the scheduler running in another process.
        assert ready.json()["checks"]["scheduler"] == {
            "ok": True,
            "running_here": None,
            "heartbeat_age_seconds": ready.json()["checks"]["scheduler"]["heartbeat_age_seconds"],
        }

        code, seconds = site.stop(scheduler)
        assert code == 0 and seconds < 10
        wait_until(
            lambda: _heartbeat_pid(engine) == standby.pid,
            "the standby to take over",
            process=standby,
            installation=site,
        )
        assert any(e.get("event") == "takeover" for e in site.events(standby))
        # Still only one scheduler: a new plain `serve` is refused while the standby runs it.
        refused = site.run("serve", "--no-web")
        assert refused.returncode == 3 and "another actwatch scheduler" in refused.stderr

        for process in (standby, web):
            code, seconds = site.stop(process)
            assert code == 0 and seconds < 10
        assert _heartbeat_pid(engine) is None  # the clean stop is recorded
    finally:
        engine.dispose()


def test_contradictory_options(
    repo_config_data: dict[str, Any], installation: Callable[[dict[str, Any]], Installation]
) -> None:
    site = installation(service_data(repo_config_data, feed_server=None, mail_url="maildir:mail"))
    both = site.run("serve", "--no-web", "--web-only")
    assert both.returncode == 2 and "exclude each other" in both.stderr


def test_missing_secret_is_one_clear_line(
    repo_config_data: dict[str, Any], installation: Callable[[dict[str, Any]], Installation]
) -> None:
    import os
    import subprocess
    import sys

    site = installation(service_data(repo_config_data, feed_server=None, mail_url="maildir:mail"))
    env = {k: v for k, v in os.environ.items() if k != "ACTWATCH_SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "actwatch", "--config", str(site.path), "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert "ACTWATCH_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
