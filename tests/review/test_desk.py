"""The editor's desk in the review stage, on SQLite and PostgreSQL: including an item whatever
the matcher said (or saying exactly why not), the preview text stored, frozen and rendered,
"send now", and the audit trail in words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from actwatch.bulletin.model import StoredItem
from actwatch.db.schema import bulletins, item_matches
from actwatch.review import (
    ConflictError,
    ReviewError,
    StateError,
    approve,
    audit_entries,
    build_review,
    dismiss_uncertain,
    frozen_copy,
    include_item,
    move_to_strand,
    render_for_approval,
    schedule,
    send_now,
    send_test_copy,
    set_included,
    set_preheader,
    set_summary,
    submit,
    withdraw,
)
from actwatch.review.records import due_scheduled
from actwatch.review.states import actions_from
from tests.bulletin.fixtures import insert_item
from tests.review.conftest import Draft

NOW = datetime(2017, 12, 3, 10, 0, tzinfo=UTC)
PREHEADER = re.compile(r'<div style="display:none;[^>]*>([^<]*)')


def item(draft: Draft, n: int, *, state: str, month: int = 10, year: int = 2017) -> int:
    return insert_item(
        draft.engine,
        StoredItem(
            id=0,
            title=f"Staying close pilot news {n}",
            link=f"https://www.gov.uk/government/news/staying-close-{n}",
            source="GOV.UK",
            published_at=datetime(year, month, 10, 9, tzinfo=UTC),
            summary=f"Pilot news number {n}.",
            event_type="pilot",
            strands=("care-leavers",),
        ),
        state=state,
    )


def bulletin_row(draft: Draft) -> Any:
    with draft.engine.connect() as connection:
        return connection.execute(
            select(bulletins).where(bulletins.c.id == draft.bulletin_id)
        ).one()


def editor_verdict(draft: Draft, item_id: int) -> str | None:
    with draft.engine.connect() as connection:
        found: str | None = connection.execute(
            select(item_matches.c.editor_state).where(item_matches.c.item_id == item_id)
        ).scalar_one()
    return found


def shown(draft: Draft) -> set[int]:
    view = build_review(draft.engine, draft.config, draft.bulletin_id, now=NOW)
    return {entry.item_id for section in view.sections for entry in section.items}


def test_include_takes_an_item_the_matcher_rejected_and_the_verdict_stands(draft: Draft) -> None:
    rejected = item(draft, 1, state="rejected")
    assert rejected not in shown(draft)
    included = include_item(draft.engine, draft.config, draft.bulletin_id, rejected, actor="Jo")
    assert included.how == "overruled" and included.verdict == "rejected"
    assert rejected in shown(draft)
    assert editor_verdict(draft, rejected) == "relevant"
    [entry] = [e for e in audit_entries(draft.engine, draft.config, draft.bulletin_id)][:1]
    assert entry.action == "include_item"
    assert entry.what == (
        f"Included “Staying close pilot news 1” (item {rejected}), overruling the matcher "
        "(not relevant)."
    )

    # Excluded, then included again: back in, the plain way.
    set_included(draft.engine, draft.bulletin_id, rejected, False, actor="Jo")
    assert include_item(
        draft.engine, draft.config, draft.bulletin_id, rejected, actor="Jo"
    ).how == ("back")
    with pytest.raises(ReviewError, match="already included"):
        include_item(draft.engine, draft.config, draft.bulletin_id, rejected, actor="Jo")


def test_include_takes_an_uncertain_item_from_the_queue(draft: Draft) -> None:
    unsure = item(draft, 2, state="uncertain")
    included = include_item(draft.engine, draft.config, draft.bulletin_id, unsure, actor="Jo")
    assert included.how == "queue" and unsure in shown(draft)


def test_include_explains_why_not_and_what_to_do(draft: Draft) -> None:
    later = item(draft, 3, state="rejected", month=1, year=2018)
    with pytest.raises(ReviewError) as raised:
        include_item(draft.engine, draft.config, draft.bulletin_id, later, actor="Jo")
    message = str(raised.value)
    assert f"item {later} was published on 10 January 2018, in Winter 2017-18" in message
    assert "bulletin 1 is Autumn 2017 (01 September 2017 to 30 November 2017)" in message
    assert "`actwatch draft winter-2017` creates it" in message and "actwatch add" in message
    with pytest.raises(ReviewError, match=r"there is no item 99999 .*actwatch items"):
        include_item(draft.engine, draft.config, draft.bulletin_id, 99_999, actor="Jo")
    assert bulletin_row(draft).revision == 1  # nothing changed


def test_the_preheader_is_stored_frozen_and_rendered_hidden(draft: Draft) -> None:
    default = render_for_approval(draft.engine, draft.config, draft.bulletin_id)
    [hidden] = PREHEADER.findall(default.html)
    assert hidden.startswith("Autumn 2017: what came into force")
    with pytest.raises(ReviewError, match="too long"):
        set_preheader(draft.engine, draft.bulletin_id, "x" * 201, actor="Jo")
    set_preheader(draft.engine, draft.bulletin_id, "  Staying close goes\nnational ", actor="Jo")
    view = build_review(draft.engine, draft.config, draft.bulletin_id, now=NOW)
    assert view.preheader == view.preview_text == "Staying close goes national"
    assert view.subject == view.title
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo", now=NOW)
    copy = frozen_copy(draft.engine, draft.bulletin_id)
    assert PREHEADER.findall(copy.html) == ["Staying close goes national"]
    assert copy.email_bulletin.preheader == "Staying close goes national"
    assert "Staying close goes national" not in copy.text  # the preheader is the HTML's alone
    # Changing it is an edit like any other: the approval goes.
    set_preheader(draft.engine, draft.bulletin_id, "", actor="Jo")
    stored = bulletin_row(draft)
    assert stored.state == "in_review" and stored.content_hash is None and stored.preheader == ""
    again = render_for_approval(draft.engine, draft.config, draft.bulletin_id)
    assert PREHEADER.findall(again.html) == [hidden]


def test_send_now_schedules_the_approved_copy_for_the_next_check(draft: Draft) -> None:
    with pytest.raises(StateError, match="cannot send now a bulletin that is draft"):
        send_now(draft.engine, draft.bulletin_id, actor="Jo", now=NOW)
    approval = approve(draft.engine, draft.config, draft.bulletin_id, by="Jo", now=NOW)
    assert "send_now" in actions_from("approved") and "send_now" in actions_from("scheduled")
    with pytest.raises(ConflictError, match="approved copy changed"):
        send_now(draft.engine, draft.bulletin_id, actor="Jo", expected_hash="0" * 64, now=NOW)
    due = send_now(
        draft.engine,
        draft.bulletin_id,
        actor="Jo",
        revision=approval.revision,
        expected_hash=approval.content_hash,
        now=NOW,
    )
    stored = bulletin_row(draft)
    assert due == NOW and stored.state == "scheduled" and stored.scheduled_for == NOW
    assert due_scheduled(draft.engine, NOW) == [draft.bulletin_id]
    assert audit_entries(draft.engine, draft.config, draft.bulletin_id)[0].what == (
        "Asked for it to be sent now."
    )


def test_the_audit_trail_reads_as_sentences(draft: Draft, tmp_path: Any) -> None:
    from actwatch.mail import MaildirTransport

    first = sorted(shown(draft))[0]
    unsure = item(draft, 4, state="uncertain")
    set_summary(draft.engine, draft.bulletin_id, first, "Short and clear.", actor="Jo")
    move_to_strand(draft.engine, draft.config, draft.bulletin_id, first, "care-leavers", actor="Jo")
    dismiss_uncertain(draft.engine, unsure, actor="Jo")
    submit(draft.engine, draft.bulletin_id, actor="Jo")
    approve(draft.engine, draft.config, draft.bulletin_id, by="Jo Broad", now=NOW)
    send_test_copy(
        draft.engine,
        draft.config,
        draft.bulletin_id,
        "jo@example.org",
        actor="Jo",
        transport=MaildirTransport(tmp_path / "outbox"),
    )
    at = NOW + timedelta(days=2)
    schedule(draft.engine, draft.bulletin_id, actor="Jo", at=at, now=NOW)
    withdraw(draft.engine, draft.bulletin_id, actor="Jo", reason="Held back\nfor now")
    entries = audit_entries(draft.engine, draft.config, draft.bulletin_id)
    said = [entry.what for entry in sorted(entries, key=lambda entry: entry.id)]
    assert said[0] == f"Created the draft with {len(shown(draft))} items."
    assert said[1].startswith("Rewrote the summary of “") and f"(item {first})." in said[1]
    assert said[2].endswith(f"(item {first}) under Care leavers.")
    assert said[3:5] == ["Marked it as in review.", said[4]]
    assert re.fullmatch(r"Approved this copy \(content hash [0-9a-f]{12}\)\.", said[4])
    assert said[5] == "Sent the approved copy as a test to jo@example.org."
    assert said[6] == "Scheduled it to be sent on 5 December 2017 at 10:00 GMT."
    assert said[7] == "Withdrew it: “Held back for now”."
    assert [entry.state_change for entry in sorted(entries, key=lambda e: -e.id)[:2]] == [
        "Scheduled → Withdrawn",
        "Approved → Scheduled",
    ]
    everything = audit_entries(draft.engine, draft.config)
    assert f"Marked “Staying close pilot news 4” (item {unsure}) not relevant." in [
        entry.what for entry in everything
    ]
    for entry in everything:
        assert not re.search(r"\d{4}-\d\d-\d\dT", entry.what), entry.what
        assert "True" not in entry.what and "False" not in entry.what, entry.what
