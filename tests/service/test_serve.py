"""`actwatch serve` as a real process: the season's cycle unattended apart from the editor's
approval, and a stop at any moment loses and repeats nothing.

The cycle: it polls the bundled feeds (and a feed of last season's news), classifies, drafts the
season that ended last and emails the editor; after `actwatch approve` and `actwatch schedule` on
the command line it sends. A SIGTERM in the middle of the send stops it between messages within
seconds (exit 0); a restart finishes the send, and every subscriber has exactly one message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from actwatch.bulletin.seasons import last_ended_season
from actwatch.db import make_engine
from actwatch.db.schema import bulletins, deliveries, items
from actwatch.demo.samples import CONTENT_TYPES, FeedServer
from actwatch.subscribers import import_file
from tests.delivery.smtp import Sink
from tests.service.conftest import (
    SEASON_FEED,
    Installation,
    get,
    season_news,
    service_data,
    wait_until,
)

pytestmark = pytest.mark.slow
READERS = 150
EDITOR = "editor@actwatch.example.org"


def _bulletin(engine: Any, season: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(bulletins).where(bulletins.c.season == season)).first()


def test_the_season_cycle_survives_sigterm_mid_send(
    repo_config_data: dict[str, Any],
    feed_server: FeedServer,
    sink: Sink,
    installation: Callable[[dict[str, Any]], Installation],
) -> None:
    site = installation(service_data(repo_config_data, feed_server=feed_server, mail_url=sink.url))
    config = site.config
    now = datetime.now(UTC)
    season = last_ended_season(config, now)
    feed_server.put(SEASON_FEED, season_news(config, now), CONTENT_TYPES[".atom"])

    service = site.start("serve", "--log-format", "json")
    engine = make_engine(config.database_url)
    try:
        # Health first: the process answers as soon as it is up.
        health = wait_until(
            lambda: get(site.base_url + "/healthz"),
            "/healthz",
            process=service,
            installation=site,
        )
        assert health.status_code == 200 and health.json() == {"status": "ok"}

        # It polls, classifies and drafts the season that ended, and tells the editor once.
        draft = wait_until(
            lambda: (
                (row := _bulletin(engine, season.slug)) is not None
                and row.editor_notified_at is not None
                and row
            ),
            f"the {season.slug} draft",
            process=service,
            installation=site,
        )
        assert draft.state == "draft"
        with engine.connect() as connection:
            stored = connection.execute(select(func.count()).select_from(items)).scalar_one()
        assert stored >= 179 + 4  # every bundled announcement, and last season's four
        wait_until(lambda: sink.counts[EDITOR] >= 1, "the editor's email", process=service)
        subjects = [str(m["Subject"]) for rcpt, m in sink.messages() if rcpt == EDITOR]
        assert subjects == [
            f"Draft ready for review: {season.label} news: Children & Social Work Act"
        ]

        ready = wait_until(
            lambda: (
                (r := get(site.base_url + "/readyz")) is not None and r.status_code == 200 and r
            ),
            "/readyz",
            process=service,
            installation=site,
        )
        assert ready.json()["checks"]["scheduler"]["running_here"] is True
        metrics = get(site.base_url + "/metrics")
        assert metrics is not None and metrics.status_code == 200
        assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert "actwatch_scheduler_up 1" in metrics.text
        assert 'actwatch_bulletins{state="draft"} 1' in metrics.text

        # A second scheduler on the same database refuses at once.
        started = time.monotonic()
        second = site.run("serve", "--no-web", timeout=30)
        assert second.returncode == 3, second.stderr
        assert "another actwatch scheduler is running on this database" in second.stderr
        assert time.monotonic() - started < 15

        # Subscribers arrive; the editor approves and schedules from the command line.
        readers = site.folder / "readers.csv"
        strands = ["", "care-leavers", "safeguarding-partnerships;corporate-parenting"]
        readers.write_text(
            "email,name,strands\n"
            + "".join(
                f"reader{i}@example.org,Reader {i},{strands[i % 3]}\n" for i in range(READERS)
            ),
            encoding="utf-8",
        )
        assert import_file(engine, config, readers).added == READERS
        sink.delay = 0.03  # a slow server, so that the stop lands in the middle of the send
        approved = site.run("approve", str(draft.id), "--by", "Jo Broad")
        assert approved.returncode == 0, approved.stderr
        # Far enough ahead that a slow machine still starts the CLI before the time passes.
        at = (datetime.now(UTC) + timedelta(seconds=10)).isoformat(timespec="seconds")
        scheduled = site.run("schedule", str(draft.id), "--at", at, "--by", "Jo Broad")
        assert scheduled.returncode == 0, scheduled.stderr

        wait_until(
            lambda: sink.total() >= 1 + READERS // 4,
            "the send to begin",
            timeout=90,
            process=service,
            installation=site,
        )
        code, seconds = site.stop(service)
        assert code == 0, site.log_text(service)[-3000:]
        assert seconds < 10
        events = [event.get("event") for event in site.events(service)]
        assert "stopping" in events and events[-1] == "stopped"
        stopped_at = sink.total() - 1
        assert 0 < stopped_at < READERS, "the stop should land in the middle of the send"
        row = _bulletin(engine, season.slug)
        assert row.state == "sending"
        with engine.connect() as connection:
            in_flight = connection.execute(
                select(func.count()).where(deliveries.c.state == "sending")
            ).scalar_one()
        assert in_flight == 0, "a clean stop leaves no message in doubt"

        # The restart carries on where it stopped.
        restarted = site.start("serve", "--log-format", "json")
        wait_until(
            lambda: _bulletin(engine, season.slug).state == "sent",
            "the send to finish after the restart",
            timeout=120,
            process=restarted,
            installation=site,
        )
        counts = {
            f"reader{i}@example.org": sink.counts[f"reader{i}@example.org"] for i in range(READERS)
        }
        assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}
        assert sink.counts[EDITOR] == 1  # told once, though the service started twice
        with engine.connect() as connection:
            states: dict[str, int] = dict(
                connection.execute(
                    select(deliveries.c.state, func.count()).group_by(deliveries.c.state)
                ).all()
            )
        assert states == {"sent": READERS}
        status = site.run("status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        assert '"sent": 150' in status.stdout
        code, seconds = site.stop(restarted)
        assert code == 0 and seconds < 10
    finally:
        engine.dispose()
