"""Nightly housekeeping: keep personal data no longer than the config says.

- delivery rows of bulletins sent longer ago than `schedule.delivery_retention` are deleted (the
  bulletin's counts stay in its `finish_sending` audit entry);
- subscribers unsubscribed or bounced longer ago than `schedule.unsubscribed_retention` are
  erased: name, choices and address go, a digest of the address stays so that a later import
  cannot sign them up again;
- sign-ups never confirmed are deleted `schedule.pending_retention` after they were made (never
  before their confirmation link has expired); someone who had left and signed up again without
  confirming goes back to how they left;
- failed editor logins (names and IP addresses) older than a week are deleted;
- subscriber mail (confirmations, welcomes, links) sent or given up over 30 days ago is
  forgotten.

Every step is a plain condition on stored times, so running it twice, or after a night missed,
does exactly what one run on time would have done.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from actwatch.config import Config
from actwatch.core.clock import utc
from actwatch.db import Engine
from actwatch.delivery.ledger import delete_for_bulletin
from actwatch.editors import prune_login_failures
from actwatch.review.records import sent_before
from actwatch.subscribers.outbox import prune as prune_subscriber_mail
from actwatch.subscribers.privacy import erase
from actwatch.subscribers.store import expire_signups, leavers_before

log = logging.getLogger(__name__)
LOGIN_FAILURE_RETENTION = timedelta(days=7)
BATCH = 500


@dataclass
class HousekeepingReport:
    deliveries_deleted: int = 0
    subscribers_erased: int = 0
    signups_deleted: int = 0
    login_failures_deleted: int = 0
    subscriber_mail_deleted: int = 0
    interrupted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_housekeeping(
    engine: Engine,
    config: Config,
    *,
    now: datetime | None = None,
    stop: threading.Event | None = None,
) -> HousekeepingReport:
    moment = utc(now)
    stop = stop or threading.Event()
    schedule = config.schedule
    report = HousekeepingReport()

    if schedule.delivery_retention is not None:
        report.deliveries_deleted = _old_deliveries(
            engine, moment - schedule.delivery_retention, stop
        )
    if schedule.unsubscribed_retention is not None and not stop.is_set():
        report.subscribers_erased = _erase_leavers(
            engine, moment - schedule.unsubscribed_retention, moment, stop
        )
    if schedule.pending_retention is not None and not stop.is_set():
        # Never before the confirmation link has expired.
        keep = max(schedule.pending_retention, config.web.confirm_within)
        report.signups_deleted = expire_signups(engine, moment - keep)
    if not stop.is_set():
        report.login_failures_deleted = prune_login_failures(
            engine, moment - LOGIN_FAILURE_RETENTION
        )
    if not stop.is_set():
        report.subscriber_mail_deleted = prune_subscriber_mail(engine, now=moment)
    report.interrupted = stop.is_set()
    return report


def _old_deliveries(engine: Engine, before: datetime, stop: threading.Event) -> int:
    deleted = 0
    for bulletin_id in sent_before(engine, before):
        # In batches, checking `stop` between them.
        while not stop.is_set():
            batch = delete_for_bulletin(engine, bulletin_id, batch=BATCH)
            if not batch:
                break
            deleted += batch
    return deleted


def _erase_leavers(
    engine: Engine, before: datetime, moment: datetime, stop: threading.Event
) -> int:
    erased = 0
    for subscriber_id in leavers_before(engine, before):
        if stop.is_set():
            break
        erase(engine, subscriber_id, now=moment)
        erased += 1
    return erased
