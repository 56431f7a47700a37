"""`actwatch status`, `/readyz` and `/metrics` say when a send is blocked, overdue or stalled,
read from the database like everything else they report (on both backends)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import Engine
from starlette.testclient import TestClient

from actwatch.cli import main
from actwatch.config import Config, parse_config
from actwatch.delivery import delivery_report, prepare, send_bulletin
from actwatch.monitor.metrics import render_metrics
from actwatch.monitor.status import collect, readiness
from actwatch.review import schedule, start_sending
from actwatch.review.records import bulletin_state
from actwatch.service.sending import run_send
from actwatch.subscribers import import_file
from actwatch.web import create_app
from tests.delivery.conftest import APPROVED_AT, ENV, Approved, config_data, make_approved
from tests.delivery.smtp import Sink

READERS = "email,name,strands\n" + "".join(f"m{i}@example.org,,\n" for i in range(6))


@pytest.fixture
def approved(
    tmp_path: Path, repo_config_data: dict[str, Any], engine: Engine, database_url: str, sink: Sink
) -> Callable[..., tuple[Approved, Path]]:
    def make(mail_url: str | None = None) -> tuple[Approved, Path]:
        data = config_data(repo_config_data, mail_url or sink.url)
        data["database"] = {"url": database_url}
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        config = parse_config(data, path)
        target = make_approved(engine, config)
        source = tmp_path / "readers.csv"
        source.write_text(READERS, encoding="utf-8")
        import_file(engine, config, source)
        return target, path

    return make


def flagged(config: Config, engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    checked = readiness(engine, config, now=now)
    metrics = render_metrics(collect(engine, config, now))
    return {
        "degraded": checked.degraded,
        "delivery": checked.checks["delivery"],
        "metrics": metrics,
    }


def status(config_file: Path) -> tuple[int, str]:
    result = CliRunner(env={**ENV, "COLUMNS": "200"}).invoke(
        main, ["--config", str(config_file), "status"]
    )
    return result.exit_code, result.output


def test_a_blocked_send_is_reported_everywhere(
    approved: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    target, config_file = approved()
    assert not flagged(target.config, engine)["degraded"]
    sink.data_reply = "554 5.7.1 refused by policy"
    send_bulletin(engine, target.config, target.bulletin_id, env=ENV)
    seen = flagged(target.config, engine)
    assert seen["degraded"] and seen["delivery"]["blocked"] == [target.bulletin_id]
    assert "554 5.7.1 refused by policy" in seen["delivery"]["problems"][0]
    assert 'actwatch_send_blocked{bulletin="1",season="autumn-2017"} 1' in seen["metrics"]
    assert "actwatch_sends_needing_attention 1" in seen["metrics"]
    code, out = status(config_file)
    assert code == 1 and "BLOCKED" in out and "554 5.7.1" in out

    app = create_app(target.config, engine=engine, env=ENV)
    with TestClient(app) as client:
        body = client.get("/readyz").json()
    assert body["status"] in ("degraded", "unready")
    assert body["checks"]["delivery"]["ok"] is False


def test_a_scheduled_send_that_could_not_start_is_overdue(
    approved: Callable[..., tuple[Approved, Path]], engine: Engine
) -> None:
    target, config_file = approved()
    due = APPROVED_AT + timedelta(days=1)
    schedule(engine, target.bulletin_id, actor="Jo Broad", at=due, now=APPROVED_AT)
    # Not yet overdue at its time, nor just after it.
    assert not flagged(target.config, engine, due + timedelta(minutes=1))["degraded"]
    # The service tries, and cannot (no signing key in its environment): the reason is kept.
    assert (
        run_send(
            engine, target.config, target.bulletin_id, actor="t", stop=threading.Event(), env={}
        )
        is None
    )
    assert bulletin_state(engine, target.bulletin_id) == "scheduled"
    later = due + timedelta(hours=1)
    seen = flagged(target.config, engine, later)
    assert seen["degraded"] and seen["delivery"]["overdue"] == [target.bulletin_id]
    assert "cannot be sent" in seen["delivery"]["problems"][0]
    assert 'actwatch_send_overdue{bulletin="1",season="autumn-2017"} 1' in seen["metrics"]
    report = delivery_report(engine, target.config, target.bulletin_id, now=later)
    assert report.overdue and any("Overdue" in p for p in report.problems)
    code, out = status(config_file)  # now, years after 2017: long overdue
    assert code == 1 and "OVERDUE" in out


def test_a_send_nobody_is_working_on_is_stalled(
    approved: Callable[..., tuple[Approved, Path]], engine: Engine
) -> None:
    target, _ = approved()
    started = datetime.now(UTC)
    start_sending(engine, target.bulletin_id, actor="t", now=started)
    prepare(engine, target.bulletin_id)
    assert not flagged(target.config, engine, started + timedelta(minutes=1))["degraded"]
    seen = flagged(target.config, engine, started + timedelta(minutes=30))
    assert seen["degraded"] and seen["delivery"]["stalled"] == [target.bulletin_id]
    assert 'actwatch_send_stalled{bulletin="1",season="autumn-2017"} 1' in seen["metrics"]


def test_a_scheduled_send_to_a_maildir_goes_out_and_nothing_is_flagged(
    approved: Callable[..., tuple[Approved, Path]], engine: Engine, tmp_path: Path
) -> None:
    """The demo's setup: `mail.url: maildir:...`, sent by the service's job."""
    target, _ = approved("maildir:outbox")
    report = run_send(
        engine, target.config, target.bulletin_id, actor="t", stop=threading.Event(), env=ENV
    )
    assert report is not None and report.complete
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 6
    assert bulletin_state(engine, target.bulletin_id) == "sent"
    assert not flagged(target.config, engine)["degraded"]


def test_the_service_stops_an_outage_run_and_the_sweep_carries_on_from_the_database(
    approved: Callable[..., tuple[Approved, Path]], sink: Sink, engine: Engine
) -> None:
    from actwatch.delivery import Backoff
    from actwatch.delivery.ledger import needs_sender

    target, _ = approved()
    sink.down()
    stopped = run_send(
        engine,
        target.config,
        target.bulletin_id,
        actor="t",
        stop=threading.Event(),
        env=ENV,
        max_wait=timedelta(seconds=0.2),
        server_backoff=Backoff(0.01, 0.05),
    )
    assert stopped is not None and stopped.halt is not None and stopped.halt.kind == "outage"
    assert bulletin_state(engine, target.bulletin_id) == "sending"
    assert flagged(target.config, engine)["delivery"]["stalled"] == [target.bulletin_id]
    # What the service's sweep asks: the rows wait, nobody holds them.
    assert needs_sender(engine, target.bulletin_id)
    sink.up()
    resumed = run_send(
        engine, target.config, target.bulletin_id, actor="t", stop=threading.Event(), env=ENV
    )
    assert resumed is not None and resumed.complete
    assert len(sink.counts) == 6 and set(sink.counts.values()) == {1}
    assert not flagged(target.config, engine)["degraded"]
