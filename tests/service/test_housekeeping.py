"""Retention: what the nightly housekeeping deletes and erases, and what it must keep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from actwatch.config import parse_config
from actwatch.db.schema import bulletins, deliveries, login_failures, subscribers
from actwatch.service.housekeeping import run_housekeeping
from tests.conftest import inserted_id

NOW = datetime(2018, 6, 1, 3, 30, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=500)
RECENTLY = NOW - timedelta(days=3)


def _bulletin(connection: Any, season: str, state: str, sent_at: datetime | None) -> int:
    return int(
        inserted_id(
            connection.execute(
                insert(bulletins).values(
                    season=season,
                    state=state,
                    headline="",
                    intro_md="",
                    created_at=LONG_AGO,
                    updated_at=LONG_AGO,
                    revision=1,
                    sent_at=sent_at,
                )
            )
        )
    )


def _subscriber(connection: Any, email: str, status: str, at: datetime) -> int:
    return int(
        inserted_id(
            connection.execute(
                insert(subscribers).values(
                    email=email,
                    name="A Name",
                    status=status,
                    all_strands=True,
                    consent_source="import",
                    consent_at=at,
                    created_at=at,
                    token_nonce="n" * 16,
                    unsubscribed_at=at if status == "unsubscribed" else None,
                    bounced_at=at if status == "bounced" else None,
                )
            )
        )
    )


def test_retention(engine: Engine, tmp_path: Path, repo_config_data: dict[str, Any]) -> None:
    config = parse_config(
        {**repo_config_data, "database": {"url": "sqlite:///actwatch.db"}},
        tmp_path / "config.yaml",
    )
    with engine.begin() as connection:
        old_sent = _bulletin(connection, "autumn-2016", "sent", LONG_AGO)
        new_sent = _bulletin(connection, "spring-2018", "sent", RECENTLY)
        sending = _bulletin(connection, "winter-2017", "sending", None)
        reader = _subscriber(connection, "reader@example.org", "confirmed", LONG_AGO)
        left_long_ago = _subscriber(connection, "left@example.org", "unsubscribed", LONG_AGO)
        left_lately = _subscriber(connection, "lately@example.org", "unsubscribed", RECENTLY)
        bounced = _subscriber(connection, "bounced@example.org", "bounced", LONG_AGO)
        stale_signup = _subscriber(connection, "never@example.org", "pending", LONG_AGO)
        fresh_signup = _subscriber(connection, "fresh@example.org", "pending", RECENTLY)
        for bulletin_id in (old_sent, new_sent, sending):
            for subscriber_id in (reader, left_long_ago):
                connection.execute(
                    insert(deliveries).values(
                        bulletin_id=bulletin_id,
                        subscriber_id=subscriber_id,
                        state="sent" if bulletin_id != sending else "pending",
                        attempts=1,
                        message_id="<m@example.org>",
                    )
                )
        connection.execute(
            insert(login_failures),
            [
                {"name": "jo", "address": "192.0.2.1", "at": LONG_AGO},
                {"name": "jo", "address": "192.0.2.1", "at": NOW - timedelta(hours=1)},
            ],
        )

    report = run_housekeeping(engine, config, now=NOW)
    assert report.deliveries_deleted == 2
    assert report.subscribers_erased == 2
    assert report.signups_deleted == 1
    assert report.login_failures_deleted == 1
    assert not report.interrupted

    with engine.connect() as connection:
        kept: dict[int, int] = dict(
            connection.execute(
                select(deliveries.c.bulletin_id, func.count()).group_by(deliveries.c.bulletin_id)
            ).all()
        )
        people = {row.id: row for row in connection.execute(select(subscribers)).all()}
    # Only the bulletin sent longer ago than delivery_retention loses its rows.
    assert kept == {new_sent: 2, sending: 2}
    assert people[reader].email == "reader@example.org"
    assert people[left_lately].status == "unsubscribed"
    for erased in (left_long_ago, bounced):
        assert people[erased].status == "erased"
        assert people[erased].name is None and "@" not in people[erased].email
    assert stale_signup not in people and fresh_signup in people

    # A second run (a restart, a missed night caught up) finds nothing more to do.
    again = run_housekeeping(engine, config, now=NOW)
    assert again.as_dict() == {
        "deliveries_deleted": 0,
        "subscribers_erased": 0,
        "signups_deleted": 0,
        "login_failures_deleted": 0,
        "subscriber_mail_deleted": 0,
        "interrupted": False,
    }


def test_null_retention_keeps_everything(
    engine: Engine, tmp_path: Path, repo_config_data: dict[str, Any]
) -> None:
    data = {**repo_config_data, "database": {"url": "sqlite:///actwatch.db"}}
    data["schedule"] = {
        **data["schedule"],
        "delivery_retention": None,
        "unsubscribed_retention": None,
        "pending_retention": None,
    }
    config = parse_config(data, tmp_path / "config.yaml")
    with engine.begin() as connection:
        old_sent = _bulletin(connection, "autumn-2016", "sent", LONG_AGO)
        left = _subscriber(connection, "left@example.org", "unsubscribed", LONG_AGO)
        _subscriber(connection, "never@example.org", "pending", LONG_AGO)
        connection.execute(
            insert(deliveries).values(
                bulletin_id=old_sent, subscriber_id=left, state="sent", attempts=1
            )
        )
    report = run_housekeeping(engine, config, now=NOW)
    assert (report.deliveries_deleted, report.subscribers_erased, report.signups_deleted) == (
        0,
        0,
        0,
    )
