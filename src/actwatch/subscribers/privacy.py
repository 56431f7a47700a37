"""A person's data on request: everything we hold about them (export), and erasure.

Erasure deletes their name, their choices and their address; what remains is a row marked
`erased` whose address is replaced by a digest, so that a later import cannot add them back, and
their deliveries (dates and outcomes, no content) so that bulletin counts stay true.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update

from actwatch.db.schema import bulletins, deliveries
from actwatch.subscribers import outbox
from actwatch.subscribers.imports import FORMULA_START
from actwatch.subscribers.store import (
    ERASED,
    Subscriber,
    erase_subscriber,
    list_subscribers,
    utcnow,
)

EXPORT_COLUMNS = ("email", "name", "strands", "status", "consent_source", "consent_at")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def person_data(engine: Engine, subscriber: Subscriber) -> dict[str, Any]:
    """Everything held about one subscriber, as JSON-ready data."""
    with engine.connect() as connection:
        sent = connection.execute(
            select(
                bulletins.c.season,
                deliveries.c.state,
                deliveries.c.attempts,
                deliveries.c.sent_at,
                deliveries.c.message_id,
                deliveries.c.last_error,
            )
            .join(bulletins, bulletins.c.id == deliveries.c.bulletin_id)
            .where(deliveries.c.subscriber_id == subscriber.id)
            .order_by(deliveries.c.id)
        ).all()
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "status": subscriber.status,
        "strands": "all" if subscriber.all_strands else list(subscriber.strands),
        "consent": {"source": subscriber.consent_source, "at": _iso(subscriber.consent_at)},
        "confirmed_at": _iso(subscriber.confirmed_at),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "bounced_at": _iso(subscriber.bounced_at),
        "created_at": _iso(subscriber.created_at),
        "emails_about_the_subscription": outbox.history(engine, subscriber.id),
        "deliveries": [
            {
                "bulletin": row.season,
                "state": row.state,
                "attempts": row.attempts,
                "sent_at": _iso(row.sent_at),
                "message_id": row.message_id,
                "last_error": row.last_error,
            }
            for row in sent
        ],
    }


def erase(engine: Engine, subscriber_id: int, *, now: datetime | None = None) -> None:
    moment = utcnow(now)
    with engine.begin() as connection:
        erase_subscriber(connection, subscriber_id, now=moment)
        outbox.forget(connection, subscriber_id)
        # Delivery rows keep counts honest; the message ids and errors could identify them.
        connection.execute(
            update(deliveries)
            .where(deliveries.c.subscriber_id == subscriber_id)
            .values(message_id=None, last_error=None)
        )


def export_csv(engine: Engine, *, status: str | None = "confirmed") -> str:
    """Subscribers in the import format (plus status and consent), so an export re-imports.

    Anyone can type a name into the sign-up form, so every cell is made safe to open in a
    spreadsheet the OWASP way: each cell quoted, and one that starts as a formula would
    (= + - @, a tab or a carriage return) gets a ' in front so it is shown as text. `import`
    takes that ' off again."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow(EXPORT_COLUMNS)
    for s in list_subscribers(engine, status=status):
        if s.status == ERASED:
            continue
        writer.writerow(
            [
                spreadsheet_safe(cell)
                for cell in (
                    s.email,
                    s.name or "",
                    "" if s.all_strands else ";".join(s.strands),
                    s.status,
                    s.consent_source,
                    s.consent_at.isoformat(),
                )
            ]
        )
    return out.getvalue()


def spreadsheet_safe(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_START) else cell
