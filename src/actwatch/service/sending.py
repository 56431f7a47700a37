"""Which bulletins need a sender, and running the pipeline's `send` for one of them.

Shared by the scheduler's jobs and `actwatch send-worker`. Several senders on one bulletin are
safe by construction (rows are leased with SKIP LOCKED on PostgreSQL and each message starts with
a compare-and-set), so these checks only avoid pointless work: opening SMTP connections for a
bulletin whose rows are all held by another live sender, or have nothing due.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from actwatch.config import Config
from actwatch.core.words import count
from actwatch.db import Engine
from actwatch.delivery import DeliveryError, SendReport
from actwatch.mail import MailError
from actwatch.pipeline import send
from actwatch.review import FrozenCopyError, note_send_problem
from actwatch.review.states import ReviewError
from actwatch.subscribers import SecretMissing

log = logging.getLogger(__name__)


def run_send(
    engine: Engine,
    config: Config,
    bulletin_id: int,
    *,
    actor: str,
    stop: threading.Event,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> SendReport | None:
    """Send (or carry on sending) one bulletin until nothing is due, `stop` is set, or the mail
    server has been unreachable for the run's `max_wait` (every unsent row stays pending; the
    sweep carries on later, from the database). Every outcome is logged. None when it could not
    run (the reason is logged, and kept on the bulletin)."""
    try:
        report = send(engine, config, bulletin_id, actor=actor, stop=stop, env=env, **options)
    # A copy that cannot be read back is a ReviewError too, but one nobody else will fix.
    except (FrozenCopyError, DeliveryError, MailError, SecretMissing) as exc:
        log.error(
            "bulletin %s cannot be sent: %s",
            bulletin_id,
            exc,
            extra={"event": "send", "bulletin_id": bulletin_id},
        )
        # Kept on the bulletin, so the editor, `status`, /readyz and /metrics say why it is
        # overdue or stalled, not only this log line.
        note_send_problem(engine, bulletin_id, f"cannot be sent: {exc}")
        return None
    except ReviewError as exc:
        # Another sender moved it on (finished it, or an editor withdrew it) at the same moment.
        log.info(
            "bulletin %s: %s", bulletin_id, exc, extra={"event": "send", "bulletin_id": bulletin_id}
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
    if report.blocked:
        log.error(
            "bulletin %s is blocked: %s (nobody more is mailed until an operator sends it again)",
            bulletin_id,
            report.blocked,
            extra=extra,
        )
    elif report.error:
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
            "bulletin %s: %s in flight when a sender stopped, possibly sent; %s",
            bulletin_id,
            count(len(report.possibly_sent), "message"),
            "sent again" if report.resent else "not sent again (at most once)",
            extra=extra,
        )
    return report
