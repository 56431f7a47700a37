"""Mail to one subscriber about their own subscription, queued in the database and sent after
the web page has answered (`subscriber_mail`: this module is its only reader and writer).

Queuing instead of sending keeps the public forms honest: the answer, its status and its timing
are the same whether the address is new, known or mistyped, and whether the mail server is fast,
slow or down. The queue also caps how much mail one address can be made to receive, whoever
asks: at most one message of a kind per `SAME_KIND_GAP` and `PER_ADDRESS_LIMIT` a day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update

from actwatch.core.states import SubscriberMailKind, SubscriberMailState
from actwatch.db.schema import subscriber_mail
from actwatch.subscribers.store import utcnow

CONFIRM = SubscriberMailKind.CONFIRM
WELCOME = SubscriberMailKind.WELCOME
LINKS = SubscriberMailKind.LINKS
ALREADY = SubscriberMailKind.ALREADY
QUEUED = SubscriberMailState.QUEUED
SENT = SubscriberMailState.SENT
FAILED = SubscriberMailState.FAILED

PER_ADDRESS_LIMIT = 5
PER_ADDRESS_WINDOW = timedelta(days=1)
SAME_KIND_GAP = timedelta(minutes=10)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
MAX_RETRY = timedelta(hours=1)
# A claimed message is someone else's for this long (a sender that died lets it go again).
LEASE = timedelta(minutes=5)
KEEP_DONE = timedelta(days=30)


@dataclass(frozen=True)
class QueuedMail:
    id: int
    subscriber_id: int
    kind: str
    attempts: int
    queued_at: datetime


def queue(engine: Engine, subscriber_id: int, kind: str, *, now: datetime | None = None) -> bool:
    """Queue one message; False when the address has had its share (nothing is queued)."""
    moment = utcnow(now)
    with engine.begin() as connection:
        recent = connection.execute(
            select(subscriber_mail.c.kind, subscriber_mail.c.queued_at).where(
                subscriber_mail.c.subscriber_id == subscriber_id,
                subscriber_mail.c.queued_at > moment - PER_ADDRESS_WINDOW,
            )
        ).all()
        if len(recent) >= PER_ADDRESS_LIMIT:
            return False
        if any(row.kind == kind and row.queued_at > moment - SAME_KIND_GAP for row in recent):
            return False
        connection.execute(
            insert(subscriber_mail).values(
                subscriber_id=subscriber_id,
                kind=kind,
                state=QUEUED,
                queued_at=moment,
                attempts=0,
                next_attempt_at=moment,
            )
        )
    return True


def claim_due(engine: Engine, *, now: datetime | None = None, limit: int = 50) -> list[QueuedMail]:
    """Messages due now, each leased to the caller (another sender skips them meanwhile)."""
    moment = utcnow(now)
    claimed = []
    with engine.begin() as connection:
        rows = connection.execute(
            select(subscriber_mail)
            .where(subscriber_mail.c.state == QUEUED, subscriber_mail.c.next_attempt_at <= moment)
            .order_by(subscriber_mail.c.next_attempt_at, subscriber_mail.c.id)
            .limit(limit)
        ).all()
    for row in rows:
        with engine.begin() as connection:
            # Taken only if nobody else moved it since it was read.
            taken = connection.execute(
                update(subscriber_mail)
                .where(
                    subscriber_mail.c.id == row.id,
                    subscriber_mail.c.state == QUEUED,
                    subscriber_mail.c.next_attempt_at == row.next_attempt_at,
                )
                .values(next_attempt_at=moment + LEASE)
            ).rowcount
        if taken:
            claimed.append(
                QueuedMail(row.id, row.subscriber_id, row.kind, row.attempts, row.queued_at)
            )
    return claimed


def release(engine: Engine, mail_id: int, *, now: datetime | None = None) -> None:
    """Give a claimed message back untried: due again at once."""
    with engine.begin() as connection:
        connection.execute(
            update(subscriber_mail)
            .where(subscriber_mail.c.id == mail_id, subscriber_mail.c.state == QUEUED)
            .values(next_attempt_at=utcnow(now))
        )


def mark_sent(engine: Engine, mail_id: int, *, now: datetime | None = None) -> None:
    _finish(engine, mail_id, state=SENT, now=now, error=None)


def mark_dropped(engine: Engine, mail_id: int, reason: str, *, now: datetime | None = None) -> None:
    """Not sent and never will be (the subscriber left, or the message is no longer needed)."""
    _finish(engine, mail_id, state=FAILED, now=now, error=reason)


def mark_failed(
    engine: Engine,
    mail: QueuedMail,
    error: str,
    *,
    permanent: bool,
    now: datetime | None = None,
) -> bool:
    """A failed attempt: retried later with a growing wait, or given up. True if it will be
    retried."""
    moment = utcnow(now)
    attempts = mail.attempts + 1
    retry = not permanent and attempts < MAX_ATTEMPTS
    wait = min(FIRST_RETRY * 2 ** (attempts - 1), MAX_RETRY)
    with engine.begin() as connection:
        connection.execute(
            update(subscriber_mail)
            .where(subscriber_mail.c.id == mail.id)
            .values(
                attempts=attempts,
                state=QUEUED if retry else FAILED,
                next_attempt_at=moment + wait if retry else moment,
                last_error=error[:1000],
            )
        )
    return retry


def _finish(
    engine: Engine, mail_id: int, *, state: str, now: datetime | None, error: str | None
) -> None:
    moment = utcnow(now)
    with engine.begin() as connection:
        connection.execute(
            update(subscriber_mail)
            .where(subscriber_mail.c.id == mail_id)
            .values(
                state=state,
                attempts=subscriber_mail.c.attempts + 1,
                sent_at=moment if state == SENT else None,
                last_error=error,
            )
        )


def waiting(engine: Engine, *, now: datetime | None = None) -> tuple[int, datetime | None]:
    """How many messages wait, and when the next one is due."""
    with engine.connect() as connection:
        count, due = connection.execute(
            select(func.count(), func.min(subscriber_mail.c.next_attempt_at)).where(
                subscriber_mail.c.state == QUEUED
            )
        ).one()
    if isinstance(due, str):  # SQLite's min() hands back the stored text
        due = datetime.fromisoformat(due)
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=utcnow(now).tzinfo)
    return int(count), due


def forget(connection: Connection, subscriber_id: int) -> None:
    """Erasure: the person's messages go (an SMTP error can quote their address). Takes the
    caller's transaction."""
    connection.execute(
        delete(subscriber_mail).where(subscriber_mail.c.subscriber_id == subscriber_id)
    )


def history(engine: Engine, subscriber_id: int) -> list[dict[str, object]]:
    """The messages about their subscription one person was sent (for their data request)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(subscriber_mail)
            .where(subscriber_mail.c.subscriber_id == subscriber_id)
            .order_by(subscriber_mail.c.id)
        ).all()
    return [
        {
            "kind": row.kind,
            "state": row.state,
            "queued_at": row.queued_at.isoformat(),
            "sent_at": row.sent_at.isoformat() if row.sent_at else None,
            "attempts": row.attempts,
            "last_error": row.last_error,
        }
        for row in rows
    ]


def count_by_state(engine: Engine) -> dict[str, int]:
    """Subscriber mail by state (every state present): what waits, what was given up."""
    with engine.connect() as connection:
        found: dict[str, int] = dict(
            connection.execute(
                select(subscriber_mail.c.state, func.count()).group_by(subscriber_mail.c.state)
            ).all()
        )
    return {state.value: int(found.get(state, 0)) for state in SubscriberMailState}


def prune(engine: Engine, *, now: datetime | None = None) -> int:
    """Forget messages finished more than KEEP_DONE ago (the per-address cap needs a day)."""
    moment = utcnow(now)
    with engine.begin() as connection:
        return int(
            connection.execute(
                delete(subscriber_mail).where(
                    and_(
                        subscriber_mail.c.state.in_([SENT, FAILED]),
                        subscriber_mail.c.queued_at < moment - KEEP_DONE,
                    )
                )
            ).rowcount
        )
