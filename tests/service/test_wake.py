"""The web editor's "send now" wakes the send job of the scheduler in the same process, instead
of leaving the bulletin to wait for the job's next interval."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from actwatch.service.runner import ServiceInfo


def test_wake_runs_a_job_now_and_only_a_job_that_exists() -> None:
    ran = threading.Event()
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        ran.set,
        IntervalTrigger(hours=1, timezone=UTC),
        id="send-due",
        next_run_time=datetime.now(UTC) + timedelta(hours=1),
    )
    assert ServiceInfo(mode="web-only").wake("send-due") is False
    assert ServiceInfo(mode="serve", scheduler=scheduler).wake("send-due") is False  # not started
    scheduler.start()
    try:
        info = ServiceInfo(mode="serve", scheduler=scheduler)
        assert info.wake("no-such-job") is False
        assert not ran.is_set()
        assert info.wake("send-due") is True
        assert ran.wait(30), "the woken job did not run"
        job = scheduler.get_job("send-due")
        assert job is not None and job.next_run_time > datetime.now(UTC)  # then its interval
    finally:
        scheduler.shutdown(wait=True)
