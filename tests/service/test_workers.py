"""Several `actwatch send-worker` processes share one bulletin on PostgreSQL (row leases with
FOR UPDATE SKIP LOCKED): every subscriber gets exactly one message, and the work is shared."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from actwatch.config import parse_config
from actwatch.db import make_engine, upgrade
from actwatch.db.schema import bulletins, deliveries
from actwatch.review import start_sending
from actwatch.subscribers import import_file
from tests.delivery.conftest import config_data, make_approved
from tests.delivery.smtp import Sink
from tests.service.conftest import Installation

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
READERS = 240
WORKERS = 3


def test_send_workers_share_a_bulletin_exactly_once(
    tmp_path: Path,
    repo_config_data: dict[str, Any],
    postgres_url: str,
    sink: Sink,
    installation: Callable[[dict[str, Any]], Installation],
) -> None:
    data = config_data(repo_config_data, sink.url)
    data["database"] = {"url": postgres_url}
    data["mail"].update(connections=2, batch_size=5)
    site = installation(data)
    config = parse_config(data, site.path)
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        approved = make_approved(engine, config)
        readers = tmp_path / "readers.csv"
        strands = ["", "care-leavers", "safeguarding-partnerships;corporate-parenting"]
        readers.write_text(
            "email,name,strands\n"
            + "".join(
                f"reader{i}@example.org,Reader {i},{strands[i % 3]}\n" for i in range(READERS)
            ),
            encoding="utf-8",
        )
        assert import_file(engine, config, readers).added == READERS
        # What the scheduler does when the bulletin is due; the workers only join.
        start_sending(engine, approved.bulletin_id, actor="actwatch serve")
        sink.delay = 0.02  # alone, one worker would need ~2.4 s: long enough for all to join

        workers = [
            site.start("send-worker", "--once", "--log-format", "json", name="worker")
            for _ in range(WORKERS)
        ]
        for worker in workers:
            try:
                assert worker.wait(120) == 0, site.log_text(worker)[-3000:]
            except subprocess.TimeoutExpired:
                pytest.fail(f"a send-worker did not finish: {site.log_text(worker)[-3000:]}")

        assert len(sink.counts) == READERS
        assert set(sink.counts.values()) == {1}, "someone got two copies"
        with engine.connect() as connection:
            states: dict[str, int] = dict(
                connection.execute(
                    select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
                ).all()
            )
            state = connection.execute(
                select(bulletins.c.state).where(bulletins.c.id == approved.bulletin_id)
            ).scalar_one()
        assert states == {"sent": READERS}
        assert state == "sent"
        shares = []
        for worker in workers:
            done = [
                e for e in site.events(worker) if e.get("message", "").startswith("send-worker")
            ]
            assert len(done) == 1
            shares.append(done[0]["sent"])
        assert sum(shares) == READERS
        assert sum(1 for share in shares if share) >= 2, f"one worker did it all: {shares}"
    finally:
        engine.dispose()
