"""`actwatch send-worker`: a process that helps send bulletins the scheduler has started.

Only the scheduler starts a bulletin (scheduled -> sending); workers join any bulletin that is
`sending` and has rows due that nobody holds. On PostgreSQL several workers, on one machine or
many, share one bulletin's rows (leases taken with FOR UPDATE SKIP LOCKED); each message still
begins with a compare-and-set, so nobody is mailed twice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from actwatch.config import Config
from actwatch.db import Engine
from actwatch.delivery.ledger import needs_sender
from actwatch.review.records import sending_bulletins
from actwatch.service.sending import run_send

log = logging.getLogger("actwatch.service.worker")
ACTOR = "actwatch send-worker"


@dataclass
class WorkerReport:
    runs: int = 0
    sent: int = 0


def run_send_worker(
    engine: Engine,
    config: Config,
    stop: threading.Event,
    *,
    once: bool = False,
    interval: timedelta | None = None,
    env: Mapping[str, str] | None = None,
) -> WorkerReport:
    """Send whatever is due until `stop` (or, with `once`, until nothing is left to do now)."""
    wait = (interval or config.schedule.send_check_interval).total_seconds()
    report = WorkerReport()
    while not stop.is_set():
        worked = False
        for bulletin_id in sending_bulletins(engine):
            if stop.is_set():
                break
            if not needs_sender(engine, bulletin_id):
                continue
            result = run_send(engine, config, bulletin_id, actor=ACTOR, stop=stop, env=env)
            report.runs += 1
            if result is not None:
                report.sent += result.sent
                worked = worked or result.handled > 0
        if once and not worked:
            break
        if not worked:
            stop.wait(wait)
    return report
