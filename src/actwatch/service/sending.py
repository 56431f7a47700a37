"""Which bulletins need a sender, and running `send_bulletin` for one of them.

Shared by the scheduler's jobs and `actwatch send-worker`. Several senders on one bulletin are
safe by construction (rows are leased with SKIP LOCKED on PostgreSQL and each message starts with
a compare-and-set), so these checks only avoid pointless work: opening SMTP connections for a
bulletin whose rows are all held by another live sender, or have nothing due.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine, func, or_, select

from actwatch.config import Config
from actwatch.core.clock import utc
from actwatch.db.schema import bulletins, deliveries
from actwatch.delivery import DeliveryError, SendReport, send_bulletin
from actwatch.delivery.ledger import CLAIMABLE, LEASE, SENDING, holder_alive
from actwatch.mail import MailError
from actwatch.review.states import SCHEDULED, ReviewError
from actwatch.review.states import SENDING as BULLETIN_SENDING
from actwatch.subscribers import SecretMissing

log = logging.getLogger(__name__)


def due_scheduled(engine: Engine, now: datetime) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(bulletins.c.id)
                .where(bulletins.c.state == SCHEDULED, bulletins.c.scheduled_for <= now)
                .order_by(bulletins.c.scheduled_for, bulletins.c.id)
            ).scalars()
        )


def sending_bulletins(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(bulletins.c.id)
                .where(bulletins.c.state == BULLETIN_SENDING)
                .order_by(bulletins.c.send_started_at, bulletins.c.id)
            ).scalars()
        )


def needs_sender(engine: Engine, bulletin_id: int, now: datetime | None = None) -> bool:
    """Is there work on this `sending` bulletin that no live sender is doing?

    Yes when it has no delivery rows yet (its sender died before preparing them), when rows are
    due and unclaimed (or held by a sender that is gone), or when no row is left to send and
    nobody is in the middle of one (the bulletin only waits to be marked sent)."""
    moment = utc(now)
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                deliveries.c.state,
                deliveries.c.claimed_by,
                func.max(deliveries.c.claimed_at).label("claimed_at"),
                func.count().label("rows"),
                func.min(deliveries.c.next_attempt_at).label("next_attempt_at"),
            )
            .where(
                deliveries.c.bulletin_id == bulletin_id,
                or_(deliveries.c.state.in_(CLAIMABLE), deliveries.c.state == SENDING),
            )
            .group_by(deliveries.c.state, deliveries.c.claimed_by)
        ).all()
        total = connection.execute(
            select(func.count()).where(deliveries.c.bulletin_id == bulletin_id)
        ).scalar_one()
    if not total:
        return True
    live_in_flight = False
    for row in rows:
        alive = holder_alive(row.claimed_by, row.claimed_at, moment)
        if row.state == SENDING:
            live_in_flight = live_in_flight or alive
            continue
        leased = alive and row.claimed_at is not None and moment - row.claimed_at < LEASE
        due = row.next_attempt_at is None or row.next_attempt_at <= moment
        if due and not leased:
            return True
    waiting = any(row.state in CLAIMABLE for row in rows)
    return not waiting and not live_in_flight


def run_send(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    *,
    actor: str,
    stop: threading.Event,
    env: Mapping[str, str] | None = None,
) -> SendReport | None:
    """Send (or carry on sending) one bulletin until nothing is due or `stop` is set; every
    outcome is logged. None when it could not run (the reason is logged)."""
    try:
        report = send_bulletin(engine, config, bulletin_id, actor=actor, stop=stop, env=env)
    except ReviewError as exc:
        # Another sender moved it on (finished it, or an editor withdrew it) at the same moment.
        log.info(
            "bulletin %s: %s", bulletin_id, exc, extra={"event": "send", "bulletin_id": bulletin_id}
        )
        return None
    except (DeliveryError, MailError, SecretMissing) as exc:
        log.error(
            "bulletin %s cannot be sent: %s",
            bulletin_id,
            exc,
            extra={"event": "send", "bulletin_id": bulletin_id},
        )
        return None
    extra = {
        "event": "send",
        "bulletin_id": bulletin_id,
        "season": report.season,
        "sent": report.sent,
        "deferred": report.deferred,
        "bounced": report.bounced,
        "failed": report.failed,
        "left": report.left,
        "possibly_sent": len(report.possibly_sent),
        "seconds": round(report.seconds, 3),
    }
    if report.error:
        log.error("bulletin %s: sending stopped: %s", bulletin_id, report.error, extra=extra)
    elif report.interrupted:
        log.info(
            "bulletin %s: stopped between messages, %s left for the next run",
            bulletin_id,
            report.left,
            extra=extra,
        )
    elif report.finished:
        log.info("bulletin %s (%s) is sent", bulletin_id, report.season, extra=extra)
    elif report.sent or report.handled:
        log.info(
            "bulletin %s: sent %s, %s left", bulletin_id, report.sent, report.left, extra=extra
        )
    if report.possibly_sent:
        log.warning(
            "bulletin %s: %s message(s) were in flight when a sender stopped and are possibly "
            "sent; they are not sent again (`actwatch send %s --resend-unconfirmed` would)",
            bulletin_id,
            len(report.possibly_sent),
            bulletin_id,
            extra=extra,
        )
    return report
