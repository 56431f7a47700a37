"""The APScheduler 3 scheduler and its jobs.

A `BackgroundScheduler` with a thread pool, not an `AsyncIOScheduler` on uvicorn's loop: every
job blocks (a poll pass runs its own event loop, classification and sending are synchronous
database and SMTP work), so on uvicorn's loop they would stall the web editor, and the scheduler
must run without any web server (`serve --no-web`).

The job store is in memory on purpose: the database says what is due (feeds' next fetch times,
bulletins' states and `scheduled_for`), and each job reads it, so a restart neither loses nor
repeats work and there is nothing to keep in sync. One instance of each job at a time, missed
runs coalesced into one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from actwatch.config import Config
from actwatch.service.jobs import Jobs, guarded

HEARTBEAT_INTERVAL = timedelta(seconds=10)
# A heartbeat older than this means the scheduler is gone or stuck.
HEARTBEAT_STALE = timedelta(seconds=45)
MISFIRE_GRACE = 60  # seconds: a run a little late (a busy machine) still happens
JOB_THREADS = 8  # each job at most once at a time: six jobs, plus room


def build_scheduler(config: Config, jobs: Jobs) -> BackgroundScheduler:
    zone = config.schedule.zone
    scheduler = BackgroundScheduler(
        timezone=zone,
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(JOB_THREADS)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
    )
    now = datetime.now(zone)
    check = config.schedule.send_check_interval

    # Jobs that run at once on start, then at their interval: (id, job, interval, what it does).
    periodic = (
        ("heartbeat", jobs.heartbeat, HEARTBEAT_INTERVAL, "heartbeat"),
        ("poll", jobs.poll, config.schedule.poll_interval, "poll feeds and classify new items"),
        ("draft", jobs.draft, check, "draft the last season and tell the editor"),
        ("send-due", jobs.send_due, check, "send scheduled bulletins that are due"),
        ("sweep", jobs.sweep, check, "resume bulletins left sending"),
    )
    for job_id, job, interval, description in periodic:
        scheduler.add_job(
            guarded(job_id, job),
            IntervalTrigger(seconds=interval.total_seconds(), timezone=zone),
            id=job_id,
            name=description,
            next_run_time=now,
        )
    at = config.schedule.housekeeping_at
    scheduler.add_job(
        guarded("housekeeping", jobs.housekeeping),
        CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=zone),
        id="housekeeping",
        name="nightly housekeeping",
    )
    scheduler.add_job(
        guarded("housekeeping", jobs.housekeeping_if_overdue),
        id="housekeeping-catch-up",
        name="housekeeping missed while the service was down",
        next_run_time=now,
    )
    return scheduler
