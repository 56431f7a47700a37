"""The frozen copy's composed bulletin survives changes to the bulletin model: written and read
with pydantic, a field added later with a default (or one removed) does not make an approved
bulletin waiting to be sent unreadable; what cannot be read stops sending before any state
changes. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from actwatch.bulletin import load_bulletin
from actwatch.db.schema import audit_log, bulletins
from actwatch.review import (
    FrozenCopyError,
    approve,
    decode_frozen,
    encode_bulletin,
    frozen_copy,
    start_sending,
)
from actwatch.review.freeze import to_jsonable
from tests.review.conftest import Draft

NOW = datetime(2017, 12, 4, 10, 0, tzinfo=UTC)


def _stored_context(draft: Draft) -> dict[str, Any]:
    with draft.engine.connect() as connection:
        context: dict[str, Any] = connection.execute(
            select(bulletins.c.frozen_context).where(bulletins.c.id == draft.bulletin_id)
        ).scalar_one()
    return context


def _store_context(draft: Draft, context: dict[str, Any]) -> None:
    with draft.engine.begin() as connection:
        connection.execute(
            update(bulletins)
            .where(bulletins.c.id == draft.bulletin_id)
            .values(frozen_context=context)
        )


def _drop(data: Any, field: str) -> int:
    """Remove `field` wherever it appears in the stored JSON; how many were removed."""
    dropped = 0
    if isinstance(data, dict):
        if field in data:
            del data[field]
            dropped += 1
        for value in data.values():
            dropped += _drop(value, field)
    elif isinstance(data, list):
        for value in data:
            dropped += _drop(value, field)
    return dropped


def test_the_stored_copy_round_trips(draft: Draft) -> None:
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    copy = frozen_copy(draft.engine, draft.bulletin_id)
    composed = load_bulletin(draft.engine, draft.config, draft.bulletin_id)
    issued = NOW.astimezone(draft.config.schedule.zone).date()
    expected = dataclasses.replace(composed, state="approved", issued_on=issued)
    assert copy.email_bulletin == copy.archive_bulletin == expected
    assert _stored_context(draft) == {"version": 2, "bulletin": encode_bulletin(expected)}


def test_a_stored_copy_missing_fields_added_later_decodes_with_their_defaults(
    draft: Draft,
) -> None:
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    context = _stored_context(draft)
    # Written before these fields existed: the model's defaults stand in for them.
    assert _drop(context, "type_hint") > 0  # on every entry (default None)
    assert _drop(context, "strand_names") == 1  # on the bulletin (default {})
    context["bulletin"]["a_field_since_removed"] = "ignored"
    _store_context(draft, context)

    copy = frozen_copy(draft.engine, draft.bulletin_id)
    assert copy.email_bulletin.strand_names == {}
    entries = [e for s in copy.email_bulletin.strand_sections for e in s.entries]
    assert entries and all(entry.type_hint is None for entry in entries)
    assert decode_frozen(context).email == copy.email_bulletin


def test_a_version_1_copy_still_decodes(draft: Draft) -> None:
    """Approved before the pydantic copy: the email's (capped) and the archive's bulletins
    were kept apart, written by the old hand-made encoder."""
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    bulletin = frozen_copy(draft.engine, draft.bulletin_id).archive_bulletin
    legacy = {"version": 1, "email": to_jsonable(bulletin), "archive": to_jsonable(bulletin)}
    _store_context(draft, legacy)
    copy = frozen_copy(draft.engine, draft.bulletin_id)
    assert copy.email_bulletin == copy.archive_bulletin == bulletin


@pytest.mark.parametrize(
    "broken",
    [
        {"version": 2, "bulletin": {"title": "no season, no sections"}},
        {"version": 9, "bulletin": {}},
        {},
    ],
)
def test_an_unreadable_copy_stops_sending_before_anything_changes(
    draft: Draft, broken: dict[str, Any]
) -> None:
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    _store_context(draft, broken)
    with pytest.raises(FrozenCopyError, match="approve"):
        start_sending(draft.engine, draft.bulletin_id, actor="actwatch send", now=NOW)
    with draft.engine.connect() as connection:
        state = connection.execute(select(bulletins.c.state)).scalar_one()
        actions = connection.execute(select(audit_log.c.action)).scalars().all()
    assert state == "approved"
    assert "start_sending" not in actions
