"""The one report of a bulletin's send, for every face: `actwatch deliveries`, the editor's
bulletin page, `actwatch status`, `/readyz` and `/metrics`.

Before a send it says who it would reach (the audience); during and after, the delivery rows by
state, the commonest error replies, and what holds the send up:

- blocked: the server refused the message itself, or the first recipients bounced in numbers;
- overdue: scheduled, but its time passed and no send has started;
- stalled: sending, messages are due, and none has gone out for a while (no sender is at work,
  or the server has been unreachable).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from actwatch.config import Config
from actwatch.core.clock import iso, utc
from actwatch.core.states import BulletinState, DeliveryState
from actwatch.core.words import count
from actwatch.delivery.ledger import counts, last_activity, next_retry, requeue, top_errors
from actwatch.review import (
    SendProblem,
    bulletin_state,
    resume_sending,
    send_problem,
    sends_to_watch,
)
from actwatch.subscribers.store import count_by_status

# A send with messages due and none gone out for this long is stalled.
STALL_AFTER = timedelta(minutes=10)
# A scheduled send not started this long after its time (beyond the service's check interval)
# is overdue.
OVERDUE_GRACE = timedelta(minutes=5)
WAITING = (DeliveryState.PENDING, DeliveryState.RETRY)


@dataclass
class DeliveryReport:
    bulletin_id: int
    season: str
    state: str  # the bulletin's
    audience: int  # confirmed subscribers now: who a send would reach
    counts: dict[str, int]
    next_retry: datetime | None = None
    top_errors: list[tuple[str, str, int]] = field(default_factory=list)
    problem: str | None = None  # the server's reply that blocked it, or the outage
    problem_at: datetime | None = None
    scheduled_for: datetime | None = None
    last_activity: datetime | None = None
    overdue: bool = False
    stalled: bool = False
    problems: list[str] = field(default_factory=list)  # in words, for the editor

    @property
    def blocked(self) -> bool:
        return self.state == BulletinState.BLOCKED

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def waiting(self) -> int:
        return sum(self.counts.get(state, 0) for state in WAITING)

    @property
    def in_doubt(self) -> int:
        return self.counts.get(DeliveryState.SENDING, 0)

    @property
    def failed(self) -> int:
        return self.counts.get(DeliveryState.FAILED, 0)

    @property
    def attention(self) -> bool:
        """Someone should look: blocked, overdue, stalled, or messages failed."""
        return self.blocked or self.overdue or self.stalled or bool(self.failed)

    @property
    def complete(self) -> bool:
        """Every row has a final outcome: sent, bounced, or suppressed (the reader left)."""
        unsettled = self.waiting + self.failed + self.in_doubt
        return self.state == BulletinState.SENT and not unsettled

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("next_retry", "problem_at", "scheduled_for", "last_activity"):
            data[key] = iso(data[key])
        data["top_errors"] = [
            {"state": state, "error": error, "count": n} for state, error, n in self.top_errors
        ]
        data.update(
            total=self.total,
            waiting=self.waiting,
            blocked=self.blocked,
            complete=self.complete,
            attention=self.attention,
        )
        return data


def _overdue(watch: SendProblem, config: Config, moment: datetime) -> bool:
    if watch.state != BulletinState.SCHEDULED or watch.scheduled_for is None:
        return False
    allowed = config.schedule.send_check_interval * 2 + OVERDUE_GRACE
    return moment - watch.scheduled_for > allowed


def _stalled(
    watch: SendProblem,
    counted: dict[str, int],
    activity: datetime | None,
    retry_at: datetime | None,
    moment: datetime,
) -> bool:
    if watch.state != BulletinState.SENDING:
        return False
    pending = counted.get(DeliveryState.PENDING, 0)
    retry_due = counted.get(DeliveryState.RETRY, 0) and retry_at is not None and retry_at <= moment
    if not pending and not retry_due and not counted.get(DeliveryState.SENDING, 0):
        return False
    if watch.problem is not None:
        return True  # a run gave up (the server unreachable): nothing goes until it is back
    since = max(
        (m for m in (activity, watch.send_started_at, retry_at) if m is not None),
        default=None,
    )
    return since is None or moment - since > STALL_AFTER


def delivery_report(
    engine: Engine, config: Config, bulletin_id: int, *, now: datetime | None = None
) -> DeliveryReport:
    return _report(engine, config, send_problem(engine, bulletin_id), utc(now))


def _report(engine: Engine, config: Config, watch: SendProblem, moment: datetime) -> DeliveryReport:
    counted = counts(engine, watch.id)
    retry_at = next_retry(engine, watch.id)
    activity = last_activity(engine, watch.id)
    report = DeliveryReport(
        bulletin_id=watch.id,
        season=watch.season,
        state=watch.state,
        audience=count_by_status(engine).get("confirmed", 0),
        counts=counted,
        next_retry=retry_at,
        top_errors=top_errors(engine, watch.id),
        problem=watch.problem,
        problem_at=watch.problem_at,
        scheduled_for=watch.scheduled_for,
        last_activity=activity,
        overdue=_overdue(watch, config, moment),
        stalled=_stalled(watch, counted, activity, retry_at, moment),
    )
    if report.blocked:
        report.problems.append(
            f"Blocked: {watch.problem or 'the server refused the message'}. Nobody more is "
            "mailed and nobody was marked bounced; once the cause is fixed, send it again "
            f"(`actwatch deliveries retry {watch.id} --blocked`, then `actwatch send {watch.id}`)."
        )
    if report.overdue and watch.scheduled_for is not None:
        report.problems.append(
            f"Overdue: it was due at {watch.scheduled_for:%d %b %Y %H:%M} UTC and has not started"
            + (f" ({watch.problem})" if watch.problem else " (is the service running?)")
            + "."
        )
    if report.stalled:
        report.problems.append(
            "Stalled: messages are waiting and none has gone out"
            + (f": {watch.problem}" if watch.problem else " for a while (is a sender running?)")
            + "."
        )
    if report.failed:
        report.problems.append(
            f"{count(report.failed, 'message')} failed (see the errors below); "
            f"`actwatch deliveries retry {watch.id} --failed` tries them again."
        )
    return report


def sends_to_check(
    engine: Engine, config: Config, now: datetime | None = None
) -> list[DeliveryReport]:
    """Every scheduled, sending or blocked bulletin's report (for `status` and the probes)."""
    moment = utc(now)
    return [_report(engine, config, watch, moment) for watch in sends_to_watch(engine)]


@dataclass(frozen=True)
class Requeued:
    failed: int = 0
    unblocked: bool = False


def retry(
    engine: Engine,
    bulletin_id: int,
    *,
    failed: bool = True,
    blocked: bool = True,
    actor: str = "actwatch deliveries retry",
) -> Requeued:
    """Put failed messages back in the queue (their tries reset, due now), and let a blocked
    bulletin carry on sending. The next `actwatch send`, or the service, sends them."""
    requeued_failed = requeue(engine, bulletin_id, [DeliveryState.FAILED]) if failed else 0
    unblocked = False
    if blocked and bulletin_state(engine, bulletin_id) == BulletinState.BLOCKED:
        resume_sending(engine, bulletin_id, actor=actor)
        unblocked = True
    return Requeued(failed=requeued_failed, unblocked=unblocked)
