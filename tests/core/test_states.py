"""State enums are the single list of states: the schema's CHECK constraints are built from them
and the database (as the migrations made it) allows exactly those values, in that order."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, Engine, insert, inspect, select

from actwatch.core.states import (
    BulletinState,
    DateSource,
    DeliveryState,
    FeedStatus,
    FetchOutcome,
    MatchState,
    SubscriberMailKind,
    SubscriberMailState,
    SubscriberStatus,
)
from actwatch.db import metadata
from actwatch.db.schema import bulletins

QUOTED = re.compile(r"'([a-z_]+)'")
EXPECTED = {
    ("feeds", "status"): FeedStatus,
    ("item_matches", "state"): MatchState,
    ("bulletins", "state"): BulletinState,
    ("subscribers", "status"): SubscriberStatus,
    ("deliveries", "state"): DeliveryState,
    ("items", "date_source"): DateSource,
    ("feed_fetches", "outcome"): FetchOutcome,
    ("subscriber_mail", "kind"): SubscriberMailKind,
    ("subscriber_mail", "state"): SubscriberMailState,
}


def _checks() -> dict[str, tuple[str, str]]:
    found = {}
    for table in metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                found[str(constraint.name)] = (table.name, str(constraint.sqltext))
    return found


def test_the_schema_builds_each_check_from_its_enum() -> None:
    checks = _checks()
    built = {(table, sql.split(" IN ")[0]): QUOTED.findall(sql) for table, sql in checks.values()}
    assert built == {key: [member.value for member in enum] for key, enum in EXPECTED.items()}


def test_the_migrated_database_allows_exactly_the_enum_values(engine: Engine) -> None:
    """What the migrations created matches the schema built from the enums (alembic's compare
    does not look at CHECK constraints, so this does)."""
    reflected = inspect(engine)
    for name, (table, sql) in _checks().items():
        in_database = {
            str(check["name"]): str(check["sqltext"])
            for check in reflected.get_check_constraints(table)
        }
        assert name in in_database, (table, name, sorted(in_database))
        assert QUOTED.findall(in_database[name]) == QUOTED.findall(sql), name


def test_a_member_is_stored_and_read_back_as_its_plain_value(engine: Engine) -> None:
    moment = datetime(2017, 12, 1, tzinfo=UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(bulletins).values(
                season="autumn-2017",
                state=BulletinState.IN_REVIEW,
                created_at=moment,
                updated_at=moment,
            )
        )
        stored = connection.execute(select(bulletins.c.state)).scalar_one()
    assert stored == "in_review" and type(stored) is str
