"""The summary behind `/readyz`, `/metrics` and `actwatch status`, and the routes themselves."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from starlette.testclient import TestClient

from actwatch.config import Config, parse_config
from actwatch.db.schema import bulletins, deliveries, feeds, subscribers
from actwatch.monitor.metrics import render_metrics
from actwatch.monitor.state import HEARTBEAT, LAST_POLL, write_state
from actwatch.monitor.status import collect, readiness
from actwatch.web import create_app
from tests.conftest import inserted_id
from tests.service.conftest import ENV

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EMAIL = "private.person@example.org"


@pytest.fixture
def config(tmp_path: Path, repo_config_data: dict[str, Any]) -> Config:
    data = {**repo_config_data, "database": {"url": "sqlite:///actwatch.db"}}
    return parse_config(data, tmp_path / "config.yaml")


def _fill(engine: Engine, now: datetime) -> None:
    with engine.begin() as connection:
        for name, status, enabled in (
            ("a", "ok", True),
            ("b", "ok", True),
            ("c", "error", True),
            ("d", "error", False),
        ):
            connection.execute(
                insert(feeds).values(
                    name=name,
                    url=f"https://{name}.example.org/feed",
                    fetch_url=f"https://{name}.example.org/feed",
                    status=status,
                    enabled=enabled,
                    created_at=now,
                )
            )
        bulletin_id = inserted_id(
            connection.execute(
                insert(bulletins).values(
                    season="summer-2026",
                    state="sending",
                    headline="",
                    intro_md="",
                    created_at=now,
                    updated_at=now,
                    revision=1,
                )
            )
        )
        subscriber_ids = [
            inserted_id(
                connection.execute(
                    insert(subscribers).values(
                        email=email,
                        name="Private Person",
                        status="confirmed",
                        all_strands=True,
                        consent_source="import",
                        consent_at=now,
                        created_at=now,
                        token_nonce="n" * 16,
                    )
                )
            )
            for email in (EMAIL, "b@example.org", "c@example.org")
        ]
        for index, subscriber_id in enumerate(subscriber_ids):
            connection.execute(
                insert(deliveries).values(
                    bulletin_id=bulletin_id,
                    subscriber_id=subscriber_id,
                    state="sent" if index < 2 else "pending",
                    attempts=1,
                    sent_at=now - timedelta(seconds=10 + 100 * index),
                    message_id=f"<{EMAIL}>",
                    last_error=f"550 no such user {EMAIL}",
                )
            )


def test_summary_and_readiness(engine: Engine, config: Config) -> None:
    _fill(engine, NOW)
    not_ready = readiness(engine, config, now=NOW)
    assert not not_ready.ready and not not_ready.checks["scheduler"]["ok"]

    write_state(engine, HEARTBEAT, {"pid": 1, "host": "h", "started_at": NOW.isoformat()}, NOW)
    write_state(
        engine,
        LAST_POLL,
        {"finished_at": NOW.isoformat(), "started_at": NOW.isoformat(), "feeds": 4, "ok": 2},
        NOW,
    )
    later = NOW + timedelta(seconds=5)
    summary = collect(engine, config, later)
    assert summary.scheduler.alive
    assert summary.feeds == {"new": 0, "ok": 2, "not_modified": 0, "error": 1, "disabled": 1}
    assert summary.deliveries["sent"] == 2 and summary.deliveries["pending"] == 1
    assert summary.send_rate == pytest.approx(1 / 60, abs=1e-3)  # one sent in the last minute
    assert summary.active_bulletins[0].deliveries == {"sent": 2, "pending": 1}
    assert readiness(engine, config, now=later).ready

    # The heartbeat goes stale: the scheduler is gone.
    gone = readiness(engine, config, now=NOW + timedelta(minutes=2))
    assert not gone.ready and not gone.checks["scheduler"]["ok"]
    # A process that should run a scheduler but does not is not ready, whatever the database says.
    assert not readiness(engine, config, scheduler_here=False, now=later).ready
    # Polls stop happening although the heartbeat is fresh: overdue.
    much_later = NOW + config.schedule.poll_interval * 3
    write_state(engine, HEARTBEAT, {"pid": 1, "started_at": NOW.isoformat()}, much_later)
    stuck = readiness(engine, config, now=much_later)
    assert not stuck.ready and not stuck.checks["poll"]["ok"]
    # A clean stop is recorded as such.
    write_state(engine, HEARTBEAT, {"pid": 1, "stopped_at": NOW.isoformat()}, later)
    assert not collect(engine, config, later).scheduler.alive

    text = render_metrics(collect(engine, config, later))
    assert EMAIL not in text and "@" not in text


def test_metrics_exposition_format(engine: Engine, config: Config) -> None:
    _fill(engine, NOW)
    write_state(engine, HEARTBEAT, {"pid": 1}, NOW)
    write_state(
        engine,
        LAST_POLL,
        {"started_at": NOW.isoformat(), "finished_at": (NOW + timedelta(seconds=2)).isoformat()},
        NOW,
    )
    text = render_metrics(collect(engine, config, NOW + timedelta(seconds=3)))
    sample = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$')
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert kind in ("gauge", "counter")
            assert name not in names, f"{name} declared twice"
            names.add(name)
        elif not line.startswith("# HELP "):
            assert sample.match(line), line
    assert 'actwatch_feeds{status="error"} 1' in text
    assert 'actwatch_deliveries{state="sent"} 2' in text
    assert "actwatch_items_total 0" in text
    assert "actwatch_last_poll_duration_seconds 2.0" in text
    assert (
        f"actwatch_last_poll_timestamp_seconds {(NOW + timedelta(seconds=2)).timestamp()!r}" in text
    )


def test_routes_need_no_login_and_show_no_personal_data(engine: Engine, config: Config) -> None:
    _fill(engine, datetime.now(UTC))
    app = create_app(config, engine, env=ENV)
    with TestClient(app) as client:
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        not_ready = client.get("/readyz")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"]["scheduler"]["ok"] is False

        write_state(engine, HEARTBEAT, {"pid": 1, "started_at": datetime.now(UTC).isoformat()})
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["checks"]["scheduler"]["running_here"] is None  # `actwatch web`

        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        for response in (health, ready, metrics):
            assert EMAIL not in response.text and "Private Person" not in response.text
            assert response.headers["cache-control"] == "no-store"
