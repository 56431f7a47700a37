"""Which `sending` bulletins need a sender: the sweeper resumes these, and leaves alone those a
live sender is working on."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, update

from actwatch.db.schema import bulletins, deliveries, subscribers
from actwatch.delivery.ledger import needs_sender
from actwatch.review.records import due_scheduled, sending_bulletins
from tests.conftest import inserted_id

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ALIVE = f"{socket.gethostname()}:{os.getpid()}:abc123"
DEAD = f"{socket.gethostname()}:{2**22 + 7}:abc123"  # above pid_max's default: no such process


def _setup(engine: Engine) -> int:
    with engine.begin() as connection:
        ids = []
        for season, state, at in (
            ("summer-2026", "sending", None),
            ("spring-2026", "scheduled", NOW - timedelta(minutes=1)),
            ("winter-2025", "scheduled", NOW + timedelta(hours=1)),
        ):
            ids.append(
                inserted_id(
                    connection.execute(
                        insert(bulletins).values(
                            season=season,
                            state=state,
                            headline="",
                            intro_md="",
                            created_at=NOW,
                            updated_at=NOW,
                            revision=1,
                            scheduled_for=at,
                            send_started_at=NOW if state == "sending" else None,
                        )
                    )
                )
            )
        for n in range(3):
            connection.execute(
                insert(subscribers).values(
                    email=f"r{n}@example.org",
                    status="confirmed",
                    all_strands=True,
                    consent_source="import",
                    consent_at=NOW,
                    created_at=NOW,
                    token_nonce="n" * 16,
                )
            )
    assert sending_bulletins(engine) == [ids[0]]
    assert due_scheduled(engine, NOW) == [ids[1]]
    return int(ids[0])


def _rows(engine: Engine, bulletin_id: int, *rows: dict[str, object]) -> None:
    with engine.begin() as connection:
        connection.execute(delete(deliveries))
        for subscriber_id, row in enumerate(rows, start=1):
            connection.execute(
                insert(deliveries).values(
                    bulletin_id=bulletin_id, subscriber_id=subscriber_id, attempts=0, **row
                )
            )


def test_needs_sender(engine: Engine) -> None:
    bulletin_id = _setup(engine)
    # Started, then its sender died before making the rows.
    assert needs_sender(engine, bulletin_id, NOW)

    _rows(engine, bulletin_id, {"state": "sent"}, {"state": "pending"})
    assert needs_sender(engine, bulletin_id, NOW), "a row is due and nobody holds it"

    fresh = NOW - timedelta(seconds=5)
    _rows(
        engine,
        bulletin_id,
        {"state": "sent"},
        {"state": "pending", "claimed_by": ALIVE, "claimed_at": fresh},
        {"state": "sending", "claimed_by": ALIVE, "claimed_at": fresh},
    )
    assert not needs_sender(engine, bulletin_id, NOW), "a live sender is on it"

    _rows(
        engine,
        bulletin_id,
        {"state": "pending", "claimed_by": DEAD, "claimed_at": fresh},
    )
    assert needs_sender(engine, bulletin_id, NOW), "its sender is gone"

    _rows(
        engine,
        bulletin_id,
        {"state": "pending", "claimed_by": ALIVE, "claimed_at": NOW - timedelta(minutes=30)},
    )
    assert needs_sender(engine, bulletin_id, NOW), "the lease ran out"

    _rows(engine, bulletin_id, {"state": "retry", "next_attempt_at": NOW + timedelta(minutes=3)})
    assert not needs_sender(engine, bulletin_id, NOW), "nothing due before the retry time"
    assert needs_sender(engine, bulletin_id, NOW + timedelta(minutes=4))

    _rows(engine, bulletin_id, {"state": "sent"}, {"state": "bounced"})
    assert needs_sender(engine, bulletin_id, NOW), "all settled: it only waits to be marked sent"

    _rows(engine, bulletin_id, {"state": "sent"}, {"state": "sending", "claimed_by": DEAD})
    assert needs_sender(engine, bulletin_id, NOW), "possibly sent, and nobody left to finish it"

    with engine.begin() as connection:
        connection.execute(update(bulletins).values(state="sent"))
    assert sending_bulletins(engine) == []
