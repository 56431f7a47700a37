"""What the service is doing, read from the database: for `/readyz`, `/metrics` and
`actwatch status`. Counts and times only: no address, name or other personal data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from actwatch.bulletin.seasons import draft_due_at, last_ended_season
from actwatch.config import Config
from actwatch.core.clock import iso, parse_iso, utc
from actwatch.db import Engine
from actwatch.delivery.ledger import counts_by_state, counts_per_bulletin, sent_since
from actwatch.delivery.report import sends_to_check
from actwatch.feeds.store import count_feeds, count_items
from actwatch.matching.store import count_verdicts
from actwatch.monitor.state import HEARTBEAT, HOUSEKEEPING, LAST_POLL, read_all, read_state
from actwatch.review.records import active_bulletins, count_bulletins, season_bulletin
from actwatch.subscribers.outbox import count_by_state as subscriber_mail_counts
from actwatch.subscribers.store import count_by_status

HEARTBEAT_STALE = timedelta(seconds=45)
SEND_RATE_WINDOW = timedelta(seconds=60)
# A poll may finish this long after its interval before the service counts as unwell.
POLL_GRACE = timedelta(minutes=10)
POLL_COUNTS = ("feeds", "ok", "not_modified", "failed", "skipped", "new_items")


@dataclass
class SchedulerStatus:
    alive: bool = False
    host: str | None = None
    pid: int | None = None
    mode: str | None = None
    version: str | None = None
    started_at: str | None = None
    heartbeat_at: str | None = None
    heartbeat_age_seconds: float | None = None
    stopped_at: str | None = None


@dataclass
class PollStatus:
    started_at: str | None = None
    finished_at: str | None = None
    age_seconds: float | None = None
    overdue: bool = False
    feeds: int = 0
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    skipped: int = 0
    new_items: int = 0


@dataclass
class BulletinStatus:
    id: int
    season: str
    state: str
    scheduled_for: str | None
    deliveries: dict[str, int]


@dataclass
class SendAttention:
    """A send someone should look at: blocked, overdue or stalled (or with failed messages)."""

    bulletin_id: int
    season: str
    state: str
    blocked: bool
    overdue: bool
    stalled: bool
    failed: int
    problem: str | None  # the server's reply, or the outage (no personal data)


@dataclass
class Summary:
    now: str
    scheduler: SchedulerStatus
    last_poll: PollStatus
    feeds: dict[str, int]
    items: int
    matches: dict[str, int]
    bulletins: dict[str, int]
    active_bulletins: list[BulletinStatus]
    deliveries: dict[str, int]
    send_rate: float
    subscribers: dict[str, int]
    next_draft: dict[str, Any]
    housekeeping: dict[str, Any] = field(default_factory=dict)
    # Confirmations, welcomes and links: queued (or retrying), sent, given up.
    subscriber_mail: dict[str, int] = field(default_factory=dict)
    # Sends that are blocked, overdue or stalled, or have failed messages.
    sends: list[SendAttention] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def scheduler_alive(engine: Engine, now: datetime | None = None) -> bool:
    """Is a scheduler (in any process) running now, by its heartbeat? The web editor asks before
    saying when a bulletin due now will go."""
    beat = read_state(engine, HEARTBEAT)
    if beat is None or beat.value.get("stopped_at") is not None:
        return False
    return utc(now) - beat.updated_at <= HEARTBEAT_STALE


def _age(now: datetime, moment: datetime | None) -> float | None:
    return round((now - moment).total_seconds(), 3) if moment else None


def collect(engine: Engine, config: Config, now: datetime | None = None) -> Summary:
    """Each stage's own counts (read through its storage module) and the service's state."""
    moment = utc(now)
    state = read_all(engine)
    bulletin_counts = count_bulletins(engine)
    active = active_bulletins(engine)
    per_bulletin = counts_per_bulletin(engine, [row.id for row in active])
    recent = sent_since(engine, moment - SEND_RATE_WINDOW)
    season = last_ended_season(config, moment)
    drafted = season_bulletin(engine, season.slug)

    scheduler = SchedulerStatus()
    beat = state.get(HEARTBEAT)
    if beat is not None:
        value = beat.value
        scheduler = SchedulerStatus(
            host=value.get("host"),
            pid=value.get("pid"),
            mode=value.get("mode"),
            version=value.get("version"),
            started_at=value.get("started_at"),
            heartbeat_at=iso(beat.updated_at),
            heartbeat_age_seconds=_age(moment, beat.updated_at),
            stopped_at=value.get("stopped_at"),
        )
        scheduler.alive = (
            value.get("stopped_at") is None and moment - beat.updated_at <= HEARTBEAT_STALE
        )

    poll = PollStatus()
    last = state.get(LAST_POLL)
    if last is not None:
        value = last.value
        finished = parse_iso(value.get("finished_at"))
        counts = {key: int(value.get(key, 0)) for key in POLL_COUNTS}
        poll = PollStatus(
            started_at=value.get("started_at"),
            finished_at=iso(finished),
            age_seconds=_age(moment, finished),
            feeds=counts["feeds"],
            ok=counts["ok"],
            not_modified=counts["not_modified"],
            failed=counts["failed"],
            skipped=counts["skipped"],
            new_items=counts["new_items"],
        )
    allowed = config.schedule.poll_interval * 2 + POLL_GRACE
    started = parse_iso(scheduler.started_at)
    reference = parse_iso(poll.finished_at) or started
    poll.overdue = scheduler.alive and reference is not None and moment - reference > allowed

    keeping = state.get(HOUSEKEEPING)
    return Summary(
        now=moment.isoformat(),
        scheduler=scheduler,
        last_poll=poll,
        feeds=count_feeds(engine),
        items=count_items(engine),
        matches=count_verdicts(engine),
        bulletins=bulletin_counts,
        active_bulletins=[
            BulletinStatus(
                row.id,
                row.season,
                row.state,
                iso(row.scheduled_for),
                per_bulletin.get(row.id, {}),
            )
            for row in active
        ],
        deliveries=counts_by_state(engine),
        send_rate=round(recent / SEND_RATE_WINDOW.total_seconds(), 3),
        subscribers=count_by_status(engine),
        next_draft={
            "season": season.slug,
            "due_at": iso(draft_due_at(config, season)),
            "bulletin_id": drafted.id if drafted else None,
            "state": drafted.state if drafted else None,
        },
        housekeeping=(
            {**keeping.value, "at": iso(keeping.updated_at)} if keeping is not None else {}
        ),
        subscriber_mail=subscriber_mail_counts(engine),
        sends=[
            SendAttention(
                report.bulletin_id,
                report.season,
                report.state,
                report.blocked,
                report.overdue,
                report.stalled,
                report.failed,
                report.problem,
            )
            for report in sends_to_check(engine, config, moment)
            if report.attention
        ],
    )


@dataclass
class Readiness:
    """`ready`: the service can do its work (database, scheduler, polls). `degraded`: it can,
    but a send needs someone: blocked, overdue or stalled (the web side still serves)."""

    ready: bool
    checks: dict[str, dict[str, Any]]
    degraded: bool = False

    @property
    def status(self) -> str:
        if not self.ready:
            return "unready"
        return "degraded" if self.degraded else "ready"


def readiness(
    engine: Engine,
    config: Config,
    *,
    scheduler_here: bool | None = None,
    now: datetime | None = None,
) -> Readiness:
    """Database reachable, a scheduler alive (this process's, or the one the heartbeat names),
    and the last poll not overdue; degraded when a send is blocked, overdue or stalled.
    `scheduler_here`: None when this process runs no scheduler."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        summary = collect(engine, config, now)
    except Exception as exc:
        # The driver's message may name hosts and users: it goes to the log, not the probe.
        return Readiness(
            False,
            {"database": {"ok": False, "error": f"unreachable ({type(exc).__name__})"}},
        )
    checks["database"] = {"ok": True}
    beat = summary.scheduler
    checks["scheduler"] = {
        "ok": beat.alive and scheduler_here is not False,
        "running_here": scheduler_here,
        "heartbeat_age_seconds": beat.heartbeat_age_seconds,
    }
    checks["poll"] = {
        "ok": not summary.last_poll.overdue,
        "last_poll_age_seconds": summary.last_poll.age_seconds,
        "failed_feeds": summary.last_poll.failed,
    }
    stuck = [send for send in summary.sends if send.blocked or send.overdue or send.stalled]
    checks["delivery"] = {
        "ok": not stuck,
        "blocked": [send.bulletin_id for send in stuck if send.blocked],
        "overdue": [send.bulletin_id for send in stuck if send.overdue],
        "stalled": [send.bulletin_id for send in stuck if send.stalled],
        "problems": [
            f"bulletin {send.bulletin_id}: {send.problem}" for send in stuck if send.problem
        ],
    }
    ready = all(check["ok"] for name, check in checks.items() if name != "delivery")
    return Readiness(ready, checks, degraded=bool(stuck))
