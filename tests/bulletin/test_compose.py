"""Composing a season from plain values: where each item goes, caps, the editor's choices,
the tracker and what is coming up."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from actwatch.bulletin.compose import compose, summarise
from actwatch.bulletin.model import Bulletin, EditorChoice, StoredCommencement, StoredItem
from actwatch.bulletin.render import (
    email_view,
    preview_links,
    render_markdown,
    render_text,
    section_cap,
)
from actwatch.bulletin.seasons import parse_season
from actwatch.config import Config
from tests.bulletin.fixtures import NOW, stored_commencements, stored_items


def autumn(config: Config, **kwargs: object) -> Bulletin:
    arguments: dict[str, object] = {
        "items": stored_items(),
        "commencements": stored_commencements(),
        "issued_on": NOW.date(),
    }
    arguments.update(kwargs)
    return compose(config, parse_season(config, "autumn-2017"), **arguments)  # type: ignore[arg-type]


def titles(section_entries: object) -> list[str]:
    return [entry.title for entry in section_entries]  # type: ignore[attr-defined]


def test_each_item_appears_once_in_the_right_section(config: Config) -> None:
    bulletin = autumn(config)
    assert bulletin.title == "Autumn 2017 news: Children & Social Work Act"
    assert bulletin.item_count == 10  # the summer item is not autumn news
    [commenced] = bulletin.commenced.entries
    assert commenced.in_force_on == date(2017, 10, 31)
    assert commenced.provisions == "sections 8, 9, 33 and 42"
    # Only s.42 has a strand (the others are outside the strands): the label says so.
    assert commenced.strands == ("Social Work England (section 42)",)
    assert commenced.instrument is not None and "Commencement No. 1" in commenced.instrument.title
    assert titles(bulletin.pilots.entries) == [
        "Safeguarding early adopters announced to test new local arrangements"
    ]
    sections = {section.slug: titles(section.entries) for section in bulletin.strand_sections}
    # Config order; the regional adoption item sits under its first strand only.
    assert list(sections) == [
        "regional-commissioning",
        "sector-led-improvement",
        "corporate-parenting",
        "safeguarding-partnerships",
        "social-work-england",
        "care-leavers",
    ]
    assert sections["regional-commissioning"] == ["Regional adoption agencies: three more go live"]
    assert titles(bulletin.other.entries) == ["Permanence in care plans: what the new duty means"]
    shown = [
        *titles(bulletin.pilots.entries),
        *titles(bulletin.other.entries),
        *(title for titles_ in sections.values() for title in titles_),
        *(c.instrument.title for c in bulletin.commenced.entries if c.instrument),
        # One instrument may bring in provisions for different purposes: listed per purpose.
        *{c.instrument.title for c in bulletin.coming_up.entries if c.instrument},
    ]
    assert len(shown) == len(set(shown)) == 10


def test_coming_up_lists_future_dates_known_by_the_seasons_end(config: Config) -> None:
    bulletin = autumn(config)
    first, regulations = bulletin.coming_up.entries
    assert first.in_force_on == regulations.in_force_on == date(2018, 4, 1)
    assert first.provisions == "sections 1-3" and first.purpose is None
    assert first.strands == ("Corporate parenting (section 1)", "Care leavers (sections 2 and 3)")
    assert regulations.provisions == "sections 34 and 35"
    assert regulations.purpose == "for the purpose of making regulations"
    assert regulations.strands == ("Relationships and sex education",)
    assert first.instrument == regulations.instrument
    # Composed for summer 2017, the instrument made in November is unknown.
    summer = compose(
        config,
        parse_season(config, "summer-2017"),
        items=stored_items(),
        commencements=stored_commencements(),
        issued_on=NOW.date(),
    )
    assert summer.coming_up.entries == () and summer.commenced.entries == ()


def test_tracker_status_per_strand(config: Config) -> None:
    tracker = {row.slug: row for row in autumn(config).tracker}
    assert list(tracker) == list(config.strands)
    statuses = {slug: row.status for slug, row in tracker.items()}
    assert statuses == {
        "regional-commissioning": "policy-programme",  # no sections of its own
        "mixed-economy": "policy-programme",
        "sector-led-improvement": "policy-programme",
        "corporate-parenting": "awaiting-commencement",  # s.1 comes in April
        "safeguarding-partnerships": "piloting",  # early adopters
        "schools-accountability": "awaiting-commencement",
        "social-work-england": "partly-in-force",  # s.42 of ss.36-58
        "relationships-education": "awaiting-commencement",
        "care-leavers": "awaiting-commencement",
    }
    assert tracker["corporate-parenting"].next_date == date(2018, 4, 1)
    assert tracker["safeguarding-partnerships"].latest_news == date(2017, 10, 25)
    assert tracker["schools-accountability"].latest_news is None
    assert tracker["care-leavers"].latest_news == date(2017, 11, 30)


def test_partly_in_force_and_in_force(config: Config) -> None:
    spring = parse_season(config, "spring-2018")
    instrument = StoredItem(
        id=50,
        title="The Children and Social Work Act 2017 (Commencement No. 3) Regulations 2018",
        link="https://www.legislation.gov.uk/uksi/2018/346/contents/made",
        source="legislation.gov.uk",
        published_at=datetime(2018, 3, 1, 12, tzinfo=UTC),
        event_type="commencement",
    )
    rows = [
        StoredCommencement(
            50, "12-32", date(2018, 3, 19), purpose="for the purpose of making regulations"
        ),
        StoredCommencement(50, "1", date(2018, 4, 1)),
        StoredCommencement(50, "2-3", date(2018, 4, 1)),
    ]
    bulletin = compose(
        config, spring, items=[instrument], commencements=rows, issued_on=date(2018, 6, 2)
    )
    statuses = {row.slug: row.status for row in bulletin.tracker}
    assert statuses["safeguarding-partnerships"] == "partly-in-force"
    assert statuses["corporate-parenting"] == "in-force"
    assert statuses["care-leavers"] == "in-force"
    assert [c.in_force_on for c in bulletin.commenced.entries] == [
        date(2018, 3, 19),
        date(2018, 4, 1),
    ]
    assert bulletin.commenced.entries[0].purpose == "for the purpose of making regulations"
    assert bulletin.commenced.entries[1].provisions == "sections 1-3"


def test_the_narrowest_reference_decides_a_provisions_strand(config: Config) -> None:
    strands = dict(config.strands)
    strands["sector-led-improvement"] = strands["sector-led-improvement"].model_copy(
        update={"sections": ["42"]}
    )
    overlapping = config.model_copy(update={"strands": strands})
    tracker = {row.slug: row.status for row in autumn(overlapping).tracker}
    assert tracker["sector-led-improvement"] == "in-force"
    assert tracker["social-work-england"] == "awaiting-commencement"
    [commenced] = autumn(overlapping).commenced.entries
    assert commenced.strands == ("Sector-led improvement (section 42)",)


def test_news_of_a_commencement_without_provisions_is_listed_by_date(config: Config) -> None:
    news = StoredItem(
        id=60,
        title="Corporate parenting duties now in force",
        link="https://www.gov.uk/government/news/corporate-parenting-now-in-force",
        source="GOV.UK",
        published_at=datetime(2017, 10, 3, 9, tzinfo=UTC),
        summary="From today every council must have regard to the principles.",
        event_type="commencement",
        strands=("corporate-parenting",),
    )
    bulletin = autumn(config, items=[*stored_items(), news])
    dated = {c.in_force_on: c for c in bulletin.commenced.entries}
    assert dated[date(2017, 10, 3)].instrument is not None
    assert dated[date(2017, 10, 3)].strands == ("Corporate parenting",)
    assert list(dated) == [date(2017, 10, 3), date(2017, 10, 31)]


def test_sections_hold_every_entry_and_the_email_caps_them_when_rendered(config: Config) -> None:
    base = datetime(2017, 10, 1, tzinfo=UTC)
    many = [
        StoredItem(
            id=100 + n,
            title=f"Care leavers news {n:02d}",
            link=f"https://example.org/care-leavers/{n}",
            source="Community Care",
            published_at=base + timedelta(days=n),
            event_type="other",
            strands=("care-leavers",),
        )
        for n in range(12)
    ]
    bulletin = autumn(config, items=many)
    [section] = bulletin.strand_sections
    assert section.total == 12 and len(section.entries) == 12 and section.more == 0
    assert section.entries[0].title == "Care leavers news 11"  # newest first
    # The email shows the config's cap per section and counts the rest.
    [capped] = email_view(bulletin, section_cap(config)).strand_sections
    assert len(capped.entries) == config.bulletin.section_cap == 8 and capped.more == 4
    assert capped.entries == section.entries[:8]
    links = preview_links(config, "autumn-2017")
    text = render_text(bulletin, links, config=config)
    assert "Care leavers news 04" in text and "Care leavers news 03" not in text
    assert "4 more on the web archive" in text
    markdown = render_markdown(bulletin, links, config=config)
    assert all(f"Care leavers news {n:02d}" in markdown for n in range(12))


def test_editor_choices_exclude_move_order_and_resummarise(config: Config) -> None:
    choices = {item.id: EditorChoice(item.id) for item in stored_items()}
    choices[4] = EditorChoice(4, included=False)
    choices[7] = EditorChoice(7, strand="mixed-economy", summary="Our own words.")
    choices[3] = EditorChoice(3, position=1)
    choices[2] = EditorChoice(2, strand="safeguarding-partnerships", position=0)
    del choices[6]  # not yet in the draft: a refresh adds it
    bulletin = autumn(config, choices=choices)
    sections = {section.slug: section for section in bulletin.strand_sections}
    assert "corporate-parenting" not in sections  # its one item was excluded
    assert "social-work-england" not in sections
    assert "regional-commissioning" not in sections
    [moved] = sections["mixed-economy"].entries
    assert moved.summary == "Our own words."
    assert moved.strands[0] == "Mixed economy of providers"
    assert bulletin.item_count == 8
    # A pilot stays a pilot: the strand choice only matters for strand sections.
    assert titles(bulletin.pilots.entries) == [
        "Safeguarding early adopters announced to test new local arrangements"
    ]


def test_editor_positions_come_first_then_newest(config: Config) -> None:
    base = datetime(2017, 10, 1, tzinfo=UTC)
    news = [
        StoredItem(
            n,
            f"item {n}",
            f"https://example.org/{n}",
            "GOV.UK",
            base + timedelta(days=n),
            event_type="guidance",
            strands=("care-leavers",),
        )
        for n in range(1, 5)
    ]
    choices = {n: EditorChoice(n) for n in range(1, 5)}
    choices[1] = EditorChoice(1, position=0)
    bulletin = autumn(config, items=news, choices=choices, commencements=[])
    assert titles(bulletin.strand_sections[0].entries) == ["item 1", "item 4", "item 3", "item 2"]


def test_an_empty_season_composes(config: Config) -> None:
    bulletin = compose(
        config, parse_season(config, "winter-2030"), items=[], issued_on=date(2031, 3, 2)
    )
    assert bulletin.is_empty and bulletin.strand_sections == ()
    assert len(bulletin.tracker) == len(config.strands)
    assert {row.status for row in bulletin.tracker} <= {"awaiting-commencement", "policy-programme"}


def test_event_labels_say_something_new(config: Config) -> None:
    bulletin = autumn(config)
    labels = {
        entry.title: entry.event_label
        for section in bulletin.strand_sections
        for entry in section.entries
    }
    assert labels["Partners in Practice: second wave of councils named"] == "Funding"
    assert labels["Regional adoption agencies: three more go live"] is None  # "other"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two. Three.", "One. Two."),
        ("  Spaces\n and   lines. ", "Spaces and lines."),
        ("", ""),
        (
            "It amends s. 16 and Sch. 3 of the Act. No. 2 follows. Then more.",
            "It amends s. 16 and Sch. 3 of the Act. No. 2 follows.",
        ),
        ("word " * 100, ("word " * 63).strip() + "…"),
    ],
)
def test_summaries_are_one_or_two_sentences(text: str, expected: str) -> None:
    assert summarise(text) == expected


def test_a_long_second_sentence_is_left_out() -> None:
    first = "A first sentence of fair length."
    assert summarise(f"{first} {'X' * 400}.") == first


def test_compose_is_pure(config: Config) -> None:
    assert autumn(config) == autumn(config)
    changed = dataclasses.replace(stored_items()[0], title="Changed")
    assert autumn(config, items=[changed, *stored_items()[1:]]) != autumn(config)


def test_an_excerpt_ending_a_sentence_gets_no_ellipsis() -> None:
    text = "LSCBs then wound up. […] The post X appeared first on Community Care."
    assert summarise(text) == "LSCBs then wound up."


def test_wordpress_excerpt_boilerplate_is_dropped() -> None:
    text = (
        "Most councils have now published a local offer. Many say little about housing […] "
        "The post Councils publish local offers appeared first on Community Care."
    )
    assert (
        summarise(text)
        == "Most councils have now published a local offer. Many say little about housing…"
    )


def test_so_far_as_not_already_in_force_completes_a_strand(config: Config) -> None:
    instrument = StoredItem(
        id=70,
        title="The Children and Social Work Act 2017 (Commencement No. 5) Regulations 2018",
        link="https://www.legislation.gov.uk/uksi/2018/945/contents/made",
        source="legislation.gov.uk",
        published_at=datetime(2018, 8, 8, tzinfo=UTC),
        event_type="commencement",
    )
    rows = [
        StoredCommencement(
            70, "s.36-58", date(2018, 9, 1), purpose="so far as not already in force."
        ),
        StoredCommencement(70, "Part 2", date(2018, 9, 1)),
        StoredCommencement(
            70, "Sch 3", date(2018, 9, 1), purpose="so far as not already in force."
        ),
    ]
    autumn_2018 = parse_season(config, "autumn-2018")
    bulletin = compose(
        config, autumn_2018, items=[instrument], commencements=rows, issued_on=date(2018, 12, 2)
    )
    assert {row.slug: row.status for row in bulletin.tracker}["social-work-england"] == "in-force"
    purposes = [c.purpose for c in bulletin.commenced.entries]
    assert "so far as not already in force" in purposes
