"""The review state machine on SQLite and PostgreSQL: audited transitions, freezing on approval,
an edit after approval discarding it, stale revisions refused, the sending rules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from actwatch.bulletin import load_bulletin
from actwatch.db.schema import audit_log, bulletins, items
from actwatch.review import (
    ConflictError,
    ReviewError,
    StateError,
    approve,
    bulletin_from_context,
    content_hash,
    finish_sending,
    frozen_copy,
    reject,
    render_for_approval,
    reopen,
    schedule,
    set_headline,
    set_included,
    start_sending,
    submit,
    unschedule,
    withdraw,
)
from actwatch.review.states import TRANSITIONS, actions_from
from tests.review.conftest import Draft

NOW = datetime(2017, 12, 3, 10, 0, tzinfo=UTC)
TODAY = NOW.date()


def row(draft: Draft) -> Any:
    with draft.engine.connect() as connection:
        return connection.execute(
            select(bulletins).where(bulletins.c.id == draft.bulletin_id)
        ).one()


def trail(draft: Draft) -> list[tuple[str, str, str | None, str | None]]:
    with draft.engine.connect() as connection:
        return [
            (r.actor, r.action, r.from_state, r.to_state)
            for r in connection.execute(
                select(audit_log)
                .where(audit_log.c.bulletin_id == draft.bulletin_id)
                .order_by(audit_log.c.id)
            )
        ][1:]  # after create_draft


def test_approval_freezes_exactly_what_was_rendered(draft: Draft) -> None:
    rendered = render_for_approval(draft.engine, draft.config, draft.bulletin_id, today=TODAY)
    approval = approve(
        draft.engine,
        draft.config,
        draft.bulletin_id,
        by="Jo Broad",
        revision=1,
        expected_hash=rendered.content_hash,
        now=NOW,
    )
    stored = row(draft)
    assert stored.state == "approved" and stored.approved_by == "Jo Broad"
    assert stored.approved_at == NOW and stored.approved_revision == stored.revision == 1
    assert stored.frozen_html == rendered.html and stored.frozen_text == rendered.text
    assert stored.frozen_markdown == rendered.markdown
    assert (
        stored.content_hash
        == approval.content_hash
        == content_hash(rendered.html, rendered.text, rendered.markdown)
    )
    # Frozen as approved: no draft marker in the copy subscribers get.
    assert "IN REVIEW" not in stored.frozen_html and "[DRAFT]" not in stored.frozen_text
    assert trail(draft) == [
        ("Jo Broad", "submit", "draft", "in_review"),
        ("Jo Broad", "approve", "in_review", "approved"),
    ]
    # The composed bulletin round-trips through the stored JSON (delivery re-renders from it).
    copy = frozen_copy(draft.engine, draft.bulletin_id)
    composed = load_bulletin(draft.engine, draft.config, draft.bulletin_id)
    expected = dataclasses.replace(
        composed, state="approved", issued_on=NOW.astimezone(draft.config.schedule.zone).date()
    )
    assert copy.email_bulletin == expected


def test_the_approved_copy_does_not_follow_later_changes_to_items(draft: Draft) -> None:
    before = render_for_approval(draft.engine, draft.config, draft.bulletin_id, today=TODAY)
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    with draft.engine.begin() as connection:
        connection.execute(
            update(items).where(items.c.id == draft.ids[2]).values(title="Retitled by the feed")
        )
    copy = frozen_copy(draft.engine, draft.bulletin_id)
    assert copy.html == before.html and "Retitled by the feed" not in copy.text


def test_approving_content_that_changed_since_the_editor_looked_is_refused(draft: Draft) -> None:
    seen = render_for_approval(draft.engine, draft.config, draft.bulletin_id)
    with draft.engine.begin() as connection:
        connection.execute(
            update(items).where(items.c.id == draft.ids[2]).values(title="Updated meanwhile")
        )
    with pytest.raises(ConflictError, match="content changed"):
        approve(
            draft.engine,
            draft.config,
            draft.bulletin_id,
            by="Jo Broad",
            expected_hash=seen.content_hash,
        )
    assert row(draft).state == "draft" and row(draft).content_hash is None


def test_an_edit_after_approval_returns_to_review_and_discards_it(draft: Draft) -> None:
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    schedule(draft.engine, draft.bulletin_id, actor="Jo Broad", at=NOW + timedelta(days=1), now=NOW)
    edit = set_included(draft.engine, draft.bulletin_id, draft.ids[4], False, actor="Sam", now=NOW)
    assert edit.approval_reset and edit.state == "in_review" and edit.revision == 2
    stored = row(draft)
    assert stored.state == "in_review" and stored.revision == 2
    for column in ("approved_by", "approved_at", "approved_revision", "frozen_html"):
        assert getattr(stored, column) is None, column
    assert stored.frozen_context is None and stored.content_hash is None
    assert stored.scheduled_for is None
    assert trail(draft)[-2:] == [
        ("Sam", "reset_approval", "scheduled", "in_review"),
        ("Sam", "exclude_item", None, None),
    ]
    with pytest.raises(StateError, match="no approved copy"):
        frozen_copy(draft.engine, draft.bulletin_id)
    with pytest.raises(StateError, match="cannot schedule"):
        schedule(draft.engine, draft.bulletin_id, actor="Jo", at=NOW + timedelta(days=2), now=NOW)


def test_a_stale_revision_changes_nothing(draft: Draft) -> None:
    set_headline(draft.engine, draft.bulletin_id, "One", actor="Jo", revision=1)
    with pytest.raises(ConflictError, match="changed since you looked"):
        set_headline(draft.engine, draft.bulletin_id, "Two", actor="Sam", revision=1)
    with pytest.raises(ConflictError):
        approve(draft.engine, draft.config, draft.bulletin_id, by="Sam", revision=1)
    assert row(draft).headline == "One" and row(draft).state == "draft"


def test_a_tampered_frozen_copy_is_refused(draft: Draft) -> None:
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    with draft.engine.begin() as connection:
        connection.execute(
            update(bulletins).values(frozen_html=bulletins.c.frozen_html + "<p>extra</p>")
        )
    with pytest.raises(StateError, match="does not match its hash"):
        frozen_copy(draft.engine, draft.bulletin_id)


def test_sending_only_when_due_once_then_nothing_changes(draft: Draft) -> None:
    with pytest.raises(StateError, match="no approved copy"):
        start_sending(draft.engine, draft.bulletin_id, actor="delivery", now=NOW)
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    due = NOW + timedelta(hours=2)
    schedule(draft.engine, draft.bulletin_id, actor="Jo Broad", at=due, now=NOW)
    with pytest.raises(StateError, match="not due"):
        start_sending(draft.engine, draft.bulletin_id, actor="delivery", now=NOW)
    copy = start_sending(draft.engine, draft.bulletin_id, actor="delivery", now=due)
    assert copy.state == "sending" and copy.content_hash == row(draft).content_hash
    with pytest.raises(StateError):
        start_sending(draft.engine, draft.bulletin_id, actor="delivery", now=due)
    with pytest.raises(StateError, match="can no longer change"):
        set_headline(draft.engine, draft.bulletin_id, "Too late", actor="Jo")
    with pytest.raises(StateError):
        withdraw(draft.engine, draft.bulletin_id, actor="Jo")
    finish_sending(draft.engine, draft.bulletin_id, actor="delivery", now=due, sent=3)
    stored = row(draft)
    assert stored.state == "sent" and stored.sent_at == due and stored.send_started_at == due
    assert frozen_copy(draft.engine, draft.bulletin_id).html == stored.frozen_html
    assert actions_from("sent") == []


def test_reject_withdraw_reopen(draft: Draft) -> None:
    with pytest.raises(ReviewError, match="say why"):
        reject(draft.engine, draft.bulletin_id, actor="Jo", reason="  ")
    submit(draft.engine, draft.bulletin_id, actor="Jo", now=NOW)
    reject(draft.engine, draft.bulletin_id, actor="Jo", reason="Too thin", now=NOW)
    with pytest.raises(StateError, match="reopen it"):
        set_headline(draft.engine, draft.bulletin_id, "x", actor="Jo")
    with pytest.raises(StateError, match="cannot approve"):
        approve(draft.engine, draft.config, draft.bulletin_id, by="Jo")
    reopen(draft.engine, draft.bulletin_id, actor="Jo", now=NOW)
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo", now=NOW)
    schedule(draft.engine, draft.bulletin_id, actor="Jo", at=NOW + timedelta(days=1), now=NOW)
    unschedule(draft.engine, draft.bulletin_id, actor="Jo", now=NOW)
    withdraw(draft.engine, draft.bulletin_id, actor="Jo", reason="Held back", now=NOW)
    stored = row(draft)
    assert stored.state == "withdrawn" and stored.content_hash is None
    assert [t[1:] for t in trail(draft)] == [
        ("submit", "draft", "in_review"),
        ("reject", "in_review", "rejected"),
        ("reopen", "rejected", "in_review"),
        ("approve", "in_review", "approved"),
        ("schedule", "approved", "scheduled"),
        ("unschedule", "scheduled", "approved"),
        ("withdraw", "approved", "withdrawn"),
    ]


def test_scheduling_needs_a_future_aware_time(draft: Draft) -> None:
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo", now=NOW)
    with pytest.raises(ReviewError, match="future"):
        schedule(draft.engine, draft.bulletin_id, actor="Jo", at=NOW - timedelta(1), now=NOW)
    with pytest.raises(ValueError, match="naive"):
        schedule(draft.engine, draft.bulletin_id, actor="Jo", at=datetime(2030, 1, 1), now=NOW)


def test_every_state_has_a_way_on_or_is_final() -> None:
    from actwatch.core.states import BulletinState

    targets = {t.target for t in TRANSITIONS.values()}
    assert targets <= set(BulletinState)
    for state in BulletinState:
        assert actions_from(state) or state == "sent", state
    assert bulletin_from_context is not None
