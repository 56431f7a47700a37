"""A reader's own copy: the subject, banner and introduction fit the strands they chose."""

from __future__ import annotations

import dataclasses

from actwatch.bulletin.copies import intro_for, reader_copy, strands_named
from actwatch.bulletin.model import Bulletin
from actwatch.bulletin.render import copy_for, preview_links, render_html, render_text, subject
from actwatch.config import Config
from tests.bulletin.test_render import golden_bulletin

INTRO = """\
Social Work England opened for registration this autumn.

## Care leavers

Councils published their local offers for care leavers.

Also this season:

- early adopters are testing the new safeguarding partnerships;
- Partners in Practice councils share what works.

1. Corporate parenting duties begin in April.
2. Nothing about any strand here.

As ever, write to us with news we missed.
"""


def with_words(config: Config, *, headline: str = "", intro_md: str = INTRO) -> Bulletin:
    bulletin = golden_bulletin(config)
    composed = dataclasses.replace(bulletin, headline=headline, intro_md=intro_md)
    if not headline:
        return composed
    from actwatch.bulletin.seasons import bulletin_subject, bulletin_title

    return dataclasses.replace(
        composed,
        title=bulletin_title(config, bulletin.season, headline),
        subject=bulletin_subject(config, bulletin.season, headline),
    )


def test_the_words_that_name_a_strand_are_its_name_cues_and_programmes(config: Config) -> None:
    terms = golden_bulletin(config).strand_terms
    assert strands_named("Partners in Practice councils", terms) == {"sector-led-improvement"}
    assert strands_named("Local offers for Care Leavers", terms) == {"care-leavers"}
    assert strands_named("As ever, write to us", terms) == set()


def test_the_introduction_keeps_what_is_general_or_about_the_readers_strands(
    config: Config,
) -> None:
    terms = golden_bulletin(config).strand_terms
    kept = intro_for(INTRO, {"care-leavers"}, terms)
    assert kept == (
        "## Care leavers\n\n"
        "Councils published their local offers for care leavers.\n\n"
        "1. Nothing about any strand here.\n\n"
        "As ever, write to us with news we missed."
    )
    # A list left empty takes its lead-in paragraph with it.
    other = intro_for(INTRO, {"corporate-parenting"}, terms)
    assert other == (
        "1. Corporate parenting duties begin in April.\n"
        "2. Nothing about any strand here.\n\n"
        "As ever, write to us with news we missed."
    )
    # Someone who chose every strand the text names gets it as written.
    everything = {"social-work-england", "care-leavers", "safeguarding-partnerships"}
    everything |= {"sector-led-improvement", "corporate-parenting"}
    assert intro_for(INTRO, everything, terms) == INTRO


def test_a_headline_about_other_strands_leaves_the_readers_copy(config: Config) -> None:
    bulletin = with_words(config, headline="Social Work England opens its register")
    assert subject(bulletin) == ("Social Work England opens its register – Autumn 2017 news")
    mine = copy_for(bulletin, ["care-leavers"])
    assert mine.title == "Autumn 2017 news: Children & Social Work Act"
    # The subject leads with the first news item of this reader's copy instead.
    assert subject(bulletin, ["care-leavers"]) == (
        "Local offer for care leavers: draft guidance published – Autumn 2017 news"
    )
    # A reader of that strand keeps the editor's headline.
    assert subject(bulletin, ["social-work-england", "care-leavers"]) == subject(bulletin)
    html = render_html(bulletin, preview_links(config, "autumn-2017"), strands=["care-leavers"])
    assert "opens its register" not in html
    text = render_text(bulletin, preview_links(config, "autumn-2017"), strands=["care-leavers"])
    assert "Social Work England opened for registration" not in text
    assert "Councils published their local offers" in text


def test_a_general_headline_is_everyones(config: Config) -> None:
    bulletin = with_words(config, headline="a land of challenge and opportunity")
    assert subject(bulletin) == "A land of challenge and opportunity – Autumn 2017 news"
    assert subject(bulletin, ["care-leavers"]) == subject(bulletin)
    assert reader_copy(bulletin, None) is bulletin


def test_a_copy_with_no_news_item_has_the_seasons_title(config: Config) -> None:
    bulletin = with_words(config, headline="Social Work England opens its register")
    empty = dataclasses.replace(
        bulletin,
        pilots=dataclasses.replace(bulletin.pilots, entries=()),
        strand_sections=(),
        other=dataclasses.replace(bulletin.other, entries=()),
    )
    assert reader_copy(empty, ["care-leavers"]).subject == (
        "Autumn 2017 news: Children & Social Work Act"
    )


def test_a_heading_left_with_nothing_under_it_goes(config: Config) -> None:
    terms = golden_bulletin(config).strand_terms
    intro = "## In brief\n\n- New safeguarding partners everywhere.\n\n## Next time\n\nMore soon."
    assert intro_for(intro, {"care-leavers"}, terms) == "## Next time\n\nMore soon."


def test_the_text_part_reads_as_plain_text(config: Config) -> None:
    text = render_text(golden_bulletin(config), preview_links(config, "autumn-2017"))
    intro = text.split("This season:")[0]
    assert "**" not in intro and "](" not in intro
    assert "now in force, and the safeguarding" in " ".join(intro.split())
    assert "\n-- \n" in text  # the signature separator, with its space


def test_the_strands_the_words_name_tell_copies_apart(config: Config) -> None:
    from actwatch.bulletin.copies import strands_in_words

    bulletin = with_words(config, headline="Social Work England opens its register")
    assert strands_in_words(bulletin) == {
        "social-work-england",
        "care-leavers",
        "safeguarding-partnerships",
        "sector-led-improvement",
        "corporate-parenting",
    }
    assert strands_in_words(with_words(config, intro_md="")) == set()
