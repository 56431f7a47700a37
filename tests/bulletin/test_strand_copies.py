"""Strand filtering by item, not by section (issue 12, item 6).

A reader's copy holds every item tagged with any strand they chose, wherever the editor placed
it, and no other item; its counts describe it; a copy with nothing on their strands says so in
one line. Checked for every choice of strands on a season of multi-strand items, placed by
the editor away from some of their strands, as composed values and as rendered email.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from actwatch.bulletin import parse_season
from actwatch.bulletin.compose import compose
from actwatch.bulletin.copies import for_strands
from actwatch.bulletin.model import Bulletin, EditorChoice, StoredCommencement, StoredItem
from actwatch.bulletin.render import (
    copy_for,
    copy_identity,
    preview_links,
    render_html,
    render_markdown,
    render_text,
)
from actwatch.config import Config
from actwatch.core.words import count
from tests.bulletin.conftest import PINNED_STRANDS


def item(
    number: int,
    title: str,
    strands: tuple[str, ...],
    *,
    day: int = 1,
    month: int = 10,
    event_type: str | None = None,
    host: str = "www.cypnow.co.uk",
) -> StoredItem:
    return StoredItem(
        id=number,
        title=title,
        link=f"https://{host}/news/item-{number}",
        source="CYP Now" if "cypnow" in host else "GOV.UK",
        published_at=datetime(2017, month, day, 9, tzinfo=UTC),
        summary=f"What item {number} says.",
        event_type=event_type,
        strands=strands,
    )


# Tagged as the matcher tags them; instruments carry the strands of the provisions they commence.
ITEMS = [
    item(
        101,
        "DfE announces funding to cover extended support for care leavers",
        ("care-leavers", "schools-accountability"),
        host="www.gov.uk",
    ),
    item(102, "Virtual school heads get new guidance", ("schools-accountability",), day=3),
    item(103, "Care Leaver Covenant signs up 50 firms", ("care-leavers", "mixed-economy"), day=5),
    item(
        104,
        "Early adopters test safeguarding partnerships and corporate parenting",
        ("safeguarding-partnerships", "corporate-parenting"),
        day=7,
        event_type="pilot",
    ),
    item(105, "Adoption support fund extended", (), day=9),
    item(
        106,
        "Social Work England consults on its rules",
        ("social-work-england", "sector-led-improvement"),
        day=11,
    ),
    item(
        107,
        "The Children and Social Work Act 2017 (Commencement No. 3) Regulations 2017",
        ("corporate-parenting", "care-leavers"),
        day=13,
        event_type="commencement",
        host="www.legislation.gov.uk",
    ),
    item(
        109,
        "The Children and Social Work Act 2017 (Commencement No. 2) Regulations 2017",
        ("safeguarding-partnerships",),
        day=2,
        event_type="commencement",
        host="www.legislation.gov.uk",
    ),
    item(
        110,
        "Councils begin the move to safeguarding partnerships",
        ("safeguarding-partnerships", "regional-commissioning"),
        day=20,
        event_type="commencement",
    ),
    item(
        111,
        "The Children and Social Work Act 2017 (Commencement No. 1) Regulations 2017",
        (),
        day=4,
        event_type="commencement",
        host="www.legislation.gov.uk",
    ),
]
COMMENCEMENTS = [
    StoredCommencement(107, "s.1", date(2018, 4, 1)),
    StoredCommencement(107, "s.2", date(2018, 4, 1)),
    StoredCommencement(107, "s.3", date(2018, 4, 1)),
    StoredCommencement(109, "s.16", date(2017, 10, 15)),
    StoredCommencement(111, "s.8", date(2017, 10, 31)),
]
# The editor files the care leavers funding under schools, and Social Work England's
# consultation under sector-led improvement.
CHOICES = {
    **{i.id: EditorChoice(i.id) for i in ITEMS},
    101: EditorChoice(101, strand="schools-accountability"),
    106: EditorChoice(106, strand="sector-led-improvement"),
}
TAGS = {i.id: set(i.strands) for i in ITEMS}


@pytest.fixture
def season_bulletin(config: Config) -> Bulletin:
    return compose(
        config,
        parse_season(config, "autumn-2017"),
        items=ITEMS,
        commencements=COMMENCEMENTS,
        choices=CHOICES,
        issued_on=date(2017, 12, 4),
    )


def shown_items(bulletin: Bulletin) -> Iterator[int]:
    """Every item a bulletin shows, wherever it is."""
    for section in (bulletin.pilots, *bulletin.strand_sections, bulletin.other):
        yield from (entry.item_id for entry in section.entries)
    for listed in (bulletin.commenced, bulletin.coming_up):
        for row in listed.entries:
            if row.instrument is not None:
                yield row.instrument.item_id
            yield from (report.item_id for report in row.coverage)


def expected(chosen: frozenset[str] | None) -> set[int]:
    """The items on the chosen strands; every strand (or None) is the whole bulletin, news on
    no strand included."""
    if chosen is None or len(chosen) == len(PINNED_STRANDS):
        return set(TAGS)
    return {number for number, tags in TAGS.items() if tags & chosen}


def choices(config: Config) -> Iterator[frozenset[str] | None]:
    yield None
    strands = list(config.strands)
    for size in range(1, len(strands) + 1):
        for combination in itertools.combinations(strands, size):
            yield frozenset(combination)


def test_the_season_places_items_away_from_some_of_their_strands(
    season_bulletin: Bulletin,
) -> None:
    """The premise: every item is shown once, and some sit under a strand a reader of their
    other strand did not choose."""
    shown = list(shown_items(season_bulletin))
    assert sorted(shown) == sorted(TAGS)
    sections = {s.slug: [e.item_id for e in s.entries] for s in season_bulletin.strand_sections}
    assert 101 in sections["schools-accountability"] and "care-leavers" in sections
    assert 101 not in sections["care-leavers"]
    assert 106 in sections["sector-led-improvement"] and "social-work-england" not in sections


def test_every_copy_holds_the_items_on_its_strands_and_no_others(
    config: Config, season_bulletin: Bulletin
) -> None:
    for chosen in choices(config):
        copy = copy_for(season_bulletin, chosen)
        shown = list(shown_items(copy))
        assert len(shown) == len(set(shown)), chosen  # nobody gets an item twice
        assert set(shown) == expected(chosen), chosen
        # Counts describe the copy.
        assert copy.item_count == len(expected(chosen)), chosen
        for section in (copy.pilots, *copy.strand_sections, copy.other):
            assert section.total == len(section.entries), (chosen, section.slug)
        assert copy.commenced.total == len(copy.commenced.entries)
        assert copy.coming_up.total == len(copy.coming_up.entries)


def test_the_care_leavers_funding_reaches_a_care_leavers_reader(
    config: Config, season_bulletin: Bulletin
) -> None:
    """The issue's case: strands care leavers and schools, placed under schools."""
    copy = for_strands(season_bulletin, {"care-leavers"})
    sections = {s.slug: [e.item_id for e in s.entries] for s in copy.strand_sections}
    # Under the heading the editor gave it, beside the reader's own strand's news.
    assert sections == {"schools-accountability": [101], "care-leavers": [103]}
    links = preview_links(config, "autumn-2017")
    for render in (render_html, render_text):
        out = render(season_bulletin, links, strands={"care-leavers"}, config=config)
        assert "DfE announces funding to cover extended support for care leavers" in out
        assert "Virtual school heads get new guidance" not in out


@pytest.mark.parametrize(
    "chosen",
    [
        None,
        frozenset({"care-leavers"}),
        frozenset({"schools-accountability"}),
        frozenset({"safeguarding-partnerships"}),
        frozenset({"regional-commissioning"}),
        frozenset({"social-work-england", "mixed-economy"}),
        frozenset({"corporate-parenting", "care-leavers"}),
    ],
    ids=str,
)
def test_the_rendered_email_links_exactly_the_readers_items(
    config: Config, season_bulletin: Bulletin, chosen: frozenset[str] | None
) -> None:
    links = preview_links(config, "autumn-2017")
    wanted = expected(chosen)
    text = render_text(season_bulletin, links, strands=chosen, config=config)
    html = render_html(season_bulletin, links, strands=chosen, config=config)
    markdown = render_markdown(season_bulletin, links, strands=chosen, config=config)
    assert len(html.encode()) < 100_000
    for number in TAGS:
        for out in (text, html, markdown):
            assert (f"/news/item-{number}" in out) == (number in wanted), (number, chosen)
    flat = " ".join(text.split())
    if chosen is None:
        assert f"This season: {count(len(wanted), 'announcement')}, " in flat
    else:
        with_news = [s for s in config.strands if s in chosen and any(s in TAGS[n] for n in wanted)]
        assert f"On your strands this season: {count(len(wanted), 'announcement')}" in flat
        assert f"news on {count(len(with_news), 'strand')}." in flat
    # The tracker is everyone's: every strand's row, whatever the choice.
    for strand in config.strands.values():
        assert f"* {strand.name}: " in text


def test_a_copy_with_nothing_on_its_strands_says_so_in_one_line(
    config: Config, season_bulletin: Bulletin
) -> None:
    chosen = {"relationships-education"}
    copy = copy_for(season_bulletin, chosen)
    assert list(shown_items(copy)) == [] and copy.item_count == 0
    links = preview_links(config, "autumn-2017")
    line = (
        "Nothing on your strands this season. The whole bulletin "
        f"({count(len(TAGS), 'announcement')}) is on the web archive."
    )
    for render in (render_text, render_html):
        out = " ".join(render(season_bulletin, links, strands=chosen, config=config).split())
        assert line in out
        assert "No announcements about the Act this season" not in out
        assert "Pilots and early adopters" not in out and "Other news about the Act" not in out


def test_readers_with_the_same_copy_share_one_identity_and_others_do_not(
    config: Config, season_bulletin: Bulletin
) -> None:
    """What delivery renders once per: every choice of strands, grouped by `copy_identity`,
    gives one rendered copy per group and a different one for each group."""
    links = preview_links(config, "autumn-2017")
    texts: dict[str, set[str]] = {}
    for chosen in choices(config):
        identity = copy_identity(season_bulletin, chosen)
        text = render_text(season_bulletin, links, strands=chosen, config=config)
        texts.setdefault(identity, set()).add(text)
    assert all(len(rendered) == 1 for rendered in texts.values())
    assert len({rendered.pop() for rendered in texts.values()}) == len(texts)
    assert len(texts) < 2 ** len(config.strands) // 2  # far fewer copies than choices
    # RSE has no news and is not named: choosing it as well changes nothing.
    leavers = copy_identity(season_bulletin, {"care-leavers"})
    assert copy_identity(season_bulletin, {"care-leavers", "relationships-education"}) == leavers
    assert copy_identity(season_bulletin, set(config.strands)) == copy_identity(
        season_bulletin, None
    )


def test_copies_that_differ_only_in_their_words_are_told_apart(
    config: Config, season_bulletin: Bulletin
) -> None:
    """Relationships education has no news, so its readers' copies differ from others' only
    where the introduction names it."""
    plain = copy_identity(season_bulletin, {"care-leavers"})
    assert copy_identity(season_bulletin, {"care-leavers", "relationships-education"}) == plain
    named = dataclasses.replace(
        season_bulletin,
        intro_md="Relationships and sex education guidance is due next year.\n\nMore soon.",
    )
    with_rse = copy_identity(named, {"care-leavers", "relationships-education"})
    assert with_rse != copy_identity(named, {"care-leavers"})
    text = render_text(named, preview_links(config, "autumn-2017"), strands={"care-leavers"})
    assert "guidance is due next year" not in text and "More soon." in text
