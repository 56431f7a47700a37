"""Review's public questions about bulletins and its one public write, for other stages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from actwatch.review import NotFoundError, audit, audit_trail, bulletin_state, find_bulletin_id
from tests.review.conftest import Draft

NOW = datetime(2017, 12, 4, 10, 0, tzinfo=UTC)


def test_state_reference_and_audit(draft: Draft) -> None:
    assert find_bulletin_id(draft.engine, "autumn-2017") == draft.bulletin_id
    assert find_bulletin_id(draft.engine, str(draft.bulletin_id)) == draft.bulletin_id
    assert bulletin_state(draft.engine, draft.bulletin_id) == "draft"
    with pytest.raises(NotFoundError):
        bulletin_state(draft.engine, draft.bulletin_id + 1)
    with pytest.raises(NotFoundError):
        find_bulletin_id(draft.engine, "spring-1999")

    audit(
        draft.engine,
        actor="actwatch send --to\r\nforged",
        action="test_send",
        bulletin_id=draft.bulletin_id,
        at=NOW,
        to="jo@example.org",
    )
    [latest, *_] = audit_trail(draft.engine, draft.bulletin_id)
    assert (latest.actor, latest.action, latest.at) == (
        "actwatch send --to forged",
        "test_send",
        NOW,
    )
    assert latest.detail == {"to": "jo@example.org"}
