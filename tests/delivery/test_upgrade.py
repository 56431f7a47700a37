"""An approved bulletin whose stored frozen copy predates fields added to the bulletin model
(with defaults) still sends, whole, to everyone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update

from actwatch.db.schema import bulletins
from actwatch.delivery import send_bulletin
from tests.delivery.conftest import ENV, Approved
from tests.delivery.smtp import Sink


def _without(data: Any, fields: set[str]) -> Any:
    if isinstance(data, dict):
        return {key: _without(value, fields) for key, value in data.items() if key not in fields}
    if isinstance(data, list):
        return [_without(value, fields) for value in data]
    return data


def test_a_copy_missing_fields_added_since_still_sends(
    approved: Approved, add_readers: Callable[..., None], sink: Sink
) -> None:
    add_readers(approved)
    with approved.engine.begin() as connection:
        context = connection.execute(select(bulletins.c.frozen_context)).scalar_one()
        # As if approved by a release before these two fields existed.
        older = _without(context, {"type_hint", "strand_names"})
        assert older != context
        connection.execute(update(bulletins).values(frozen_context=older))

    report = send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    assert (report.sent, report.failed, report.error) == (3, 0, None)
    assert report.finished
    assert {rcpt for rcpt, _message in sink.messages()} == {
        "all@example.org",
        "leavers@example.org",
        "safe@example.org",
    }
