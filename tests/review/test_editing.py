"""The editor's changes: what each does to the composed bulletin, and what is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from actwatch.bulletin import load_bulletin
from actwatch.bulletin.model import StoredItem
from actwatch.db.schema import item_matches
from actwatch.review import (
    ManualItem,
    ReviewError,
    add_manual_item,
    dismiss_uncertain,
    move_item,
    move_to_strand,
    pick_uncertain,
    render_for_approval,
    set_included,
    set_intro,
    set_summary,
)
from actwatch.review.view import build_review, uncertain_everywhere
from tests.bulletin.fixtures import insert_item
from tests.review.conftest import Draft

NOW = datetime(2017, 12, 3, 10, 0, tzinfo=UTC)


def section_ids(draft: Draft, slug: str) -> list[int]:
    composed = load_bulletin(draft.engine, draft.config, draft.bulletin_id)
    for section in (composed.pilots, *composed.strand_sections, composed.other):
        if section.slug == slug:
            return [entry.item_id for entry in section.entries]
    return []


def extra(draft: Draft, n: int, strand: str, state: str = "relevant") -> int:
    return insert_item(
        draft.engine,
        StoredItem(
            id=0,
            title=f"Care leavers news {n}",
            link=f"https://www.gov.uk/government/news/care-leavers-{n}",
            source="GOV.UK",
            published_at=datetime(2017, 10, n, 9, tzinfo=UTC),
            summary=f"News number {n} about the local offer for care leavers.",
            event_type="guidance",
            strands=(strand,),
        ),
        state=state,
    )


def test_exclude_include_move_summarise_reorder(draft: Draft) -> None:
    from actwatch.bulletin import draft_bulletin, parse_season

    added = [extra(draft, n, "care-leavers") for n in (3, 4)]
    draft_bulletin(draft.engine, draft.config, parse_season(draft.config, "autumn-2017"), NOW)
    leavers = section_ids(draft, "care-leavers")
    assert len(leavers) == 3 and set(added) <= set(leavers)

    set_included(draft.engine, draft.bulletin_id, leavers[0], False, actor="Jo")
    assert leavers[0] not in section_ids(draft, "care-leavers")
    with pytest.raises(ReviewError, match="already excluded"):
        set_included(draft.engine, draft.bulletin_id, leavers[0], False, actor="Jo")
    set_included(draft.engine, draft.bulletin_id, leavers[0], True, actor="Jo")

    move_item(draft.engine, draft.config, draft.bulletin_id, leavers[2], -1, actor="Jo")
    assert section_ids(draft, "care-leavers") == [leavers[0], leavers[2], leavers[1]]
    with pytest.raises(ReviewError, match="already first"):
        move_item(draft.engine, draft.config, draft.bulletin_id, leavers[0], -1, actor="Jo")

    move_to_strand(
        draft.engine, draft.config, draft.bulletin_id, leavers[1], "corporate-parenting", actor="Jo"
    )
    assert leavers[1] in section_ids(draft, "corporate-parenting")
    with pytest.raises(ReviewError, match="unknown strand"):
        move_to_strand(draft.engine, draft.config, draft.bulletin_id, leavers[1], "nope", actor="J")

    set_summary(draft.engine, draft.bulletin_id, leavers[2], "  Our own\r\nwords.  ", actor="Jo")
    text = render_for_approval(draft.engine, draft.config, draft.bulletin_id).text
    assert "Our own words." in text
    with pytest.raises(ReviewError, match="not in bulletin"):
        set_summary(draft.engine, draft.bulletin_id, 9999, "x", actor="Jo")


def test_the_introduction_is_markdown_made_safe(draft: Draft) -> None:
    set_intro(
        draft.engine,
        draft.bulletin_id,
        "Dear all,\r\n\r\n<script>alert(1)</script> see [the Act](javascript:alert(1)) "
        "and [GOV.UK](https://www.gov.uk/).\x07",
        actor="Jo",
    )
    html = render_for_approval(draft.engine, draft.config, draft.bulletin_id).html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html
    assert 'href="javascript' not in html
    assert '<a href="https://www.gov.uk/"' in html
    with pytest.raises(ReviewError, match="too long"):
        set_intro(draft.engine, draft.bulletin_id, "x" * 10_001, actor="Jo")


def test_the_uncertain_queue(draft: Draft) -> None:
    unsure = extra(draft, 5, "care-leavers", state="uncertain")
    other = extra(draft, 6, "care-leavers", state="uncertain")
    view = build_review(draft.engine, draft.config, draft.bulletin_id, now=NOW)
    assert {q.item_id for q in view.uncertain} == {unsure, other}
    assert any("2 uncertain item(s)" in warning for warning in view.warnings)
    # The dashboard's queue spans every season; an editor's verdict takes items out of it.
    assert {q.item_id for q in uncertain_everywhere(draft.engine, draft.config)} == {unsure, other}

    pick_uncertain(draft.engine, draft.config, draft.bulletin_id, unsure, actor="Jo")
    assert unsure in section_ids(draft, "care-leavers")
    with pytest.raises(ReviewError, match="not in this season's uncertain queue"):
        pick_uncertain(draft.engine, draft.config, draft.bulletin_id, unsure, actor="Jo")

    dismiss_uncertain(draft.engine, other, actor="Jo")
    with draft.engine.connect() as connection:
        verdict = connection.execute(
            select(item_matches.c.editor_state).where(item_matches.c.item_id == other)
        ).scalar_one()
    assert verdict == "rejected"
    assert build_review(draft.engine, draft.config, draft.bulletin_id, now=NOW).uncertain == ()
    assert other not in {q.item_id for q in uncertain_everywhere(draft.engine, draft.config)}


def test_a_manual_item(draft: Draft) -> None:
    manual = ManualItem(
        link="https://www.example.org/letters/dcs-november",
        title="Letter to directors of children's services",
        summary="Sent by email; not published on GOV.UK.",
        strand="safeguarding-partnerships",
        event_type="guidance",
        published_on=date(2017, 11, 21),
    )
    edit, item_id = add_manual_item(
        draft.engine, draft.config, draft.bulletin_id, manual, actor="Jo"
    )
    assert edit.revision == 2
    assert item_id in section_ids(draft, "safeguarding-partnerships")
    view = build_review(draft.engine, draft.config, draft.bulletin_id, now=NOW)
    shown = [i for s in view.sections for i in s.items if i.item_id == item_id]
    assert shown and shown[0].manual and shown[0].source == "example.org"

    with pytest.raises(ReviewError, match="already item"):
        add_manual_item(draft.engine, draft.config, draft.bulletin_id, manual, actor="Jo")
    for bad, message in (
        ({"link": "javascript:alert(1)"}, "full http"),
        ({"link": "https://example.org/x", "title": " "}, "title"),
        ({"link": "https://example.org/y", "published_on": date(2017, 12, 5)}, "must fall in"),
    ):
        values = {**manual.__dict__, **bad}
        with pytest.raises(ReviewError, match=message):
            add_manual_item(
                draft.engine, draft.config, draft.bulletin_id, ManualItem(**values), actor="Jo"
            )
