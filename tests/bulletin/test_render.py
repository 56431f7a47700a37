"""Rendering: golden files for a fixed season, then what must hold for any bulletin.

Golden files live in tests/data/bulletin/. After an intended change to a template, rewrite
them with `ACTWATCH_UPDATE_GOLDEN=1 pytest tests/bulletin/test_render.py` and read the diff.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from actwatch.bulletin.compose import compose
from actwatch.bulletin.model import Bulletin, StoredItem
from actwatch.bulletin.render import (
    HTML_BUDGET,
    Links,
    RenderError,
    preview_links,
    render_html,
    render_markdown,
    render_mjml,
    render_text,
)
from actwatch.bulletin.seasons import parse_season
from actwatch.config import Config
from tests.bulletin.fixtures import NOW, fixture, stored_commencements, stored_items
from tests.conftest import DATA

GOLDEN = DATA / "bulletin"
UPDATE = os.environ.get("ACTWATCH_UPDATE_GOLDEN") == "1"
RENDERERS = {"html": render_html, "txt": render_text, "md": render_markdown}


def golden_bulletin(config: Config) -> Bulletin:
    data = fixture()
    return compose(
        config,
        parse_season(config, data["season"]),
        items=stored_items(data),
        commencements=stored_commencements(data),
        headline=data["headline"],
        intro_md=data["intro_md"],
        issued_on=datetime.fromisoformat(data["now"]).date(),
    )


@pytest.mark.parametrize("suffix", list(RENDERERS))
def test_golden_file(config: Config, suffix: str) -> None:
    bulletin = golden_bulletin(config)
    rendered = RENDERERS[suffix](bulletin, preview_links(config, "autumn-2017"))
    path = GOLDEN / f"autumn-2017.{suffix}"
    if UPDATE:
        path.write_text(rendered, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: run with ACTWATCH_UPDATE_GOLDEN=1"
    assert rendered == path.read_text(encoding="utf-8"), (
        f"{path.name} changed; if intended, rewrite with ACTWATCH_UPDATE_GOLDEN=1 and review"
    )


def test_html_is_complete_email_html(config: Config) -> None:
    html = render_html(golden_bulletin(config), preview_links(config, "autumn-2017"))
    assert html.startswith("<!doctype html>")
    assert not re.search(r"</?mj-", html)
    assert len(html.encode()) < HTML_BUDGET
    assert "<title>Autumn 2017 news: Children &amp; Social Work Act - the first" in html
    for text in (
        "What came into force",
        "Pilots and early adopters",
        "Where are we now",
        "Coming up",
        "subject to statutory commencement orders",
        'href="https://actwatch.example.org/unsubscribe"',
        'href="https://actwatch.example.org/preferences"',
        'href="https://actwatch.example.org/archive/autumn-2017"',
    ):
        assert text in html


def test_feed_text_and_the_intro_are_escaped_or_cleaned(config: Config) -> None:
    html = render_html(golden_bulletin(config), preview_links(config, "autumn-2017"))
    assert "what councils need to know &lt;before April&gt;" in html
    assert "<script>" not in html
    assert "&lt;script&gt;alert(" in html  # the editor's raw HTML is shown, never run
    assert "<strong>in force</strong>" in html  # the editor's Markdown is rendered
    assert 'href="mailto:editor@actwatch.example.org"' in html
    markdown = render_markdown(golden_bulletin(config), preview_links(config, "autumn-2017"))
    assert "\\<before April\\>" in markdown
    assert "<script>" not in markdown


def test_hostile_feed_items_cannot_break_out(config: Config) -> None:
    hostile = StoredItem(
        id=1,
        title='"><mj-raw><script>alert(1)</script></mj-raw> [click](javascript:alert(1))',
        link="javascript:alert(document.cookie)",
        source="<b>Evil</b> & co",
        published_at=datetime(2017, 10, 1, tzinfo=UTC),
        summary="</mj-text></mj-column> *bold* <img src=x onerror=alert(1)>",
        event_type="guidance",
        strands=("care-leavers",),
    )
    bulletin = compose(
        config, parse_season(config, "autumn-2017"), items=[hostile], issued_on=NOW.date()
    )
    links = preview_links(config, "autumn-2017")
    html = render_html(bulletin, links)
    assert "<script>" not in html
    assert "<img" not in html
    assert 'href="javascript:' not in html and 'href=""' not in html
    assert "&lt;mj-raw&gt;" in html
    text = render_text(bulletin, links)
    assert "javascript:alert(document" not in text
    markdown = render_markdown(bulletin, links)
    assert "[click](" not in markdown and "]()" not in markdown
    assert "\\[click\\]" in markdown and "\\*bold\\*" in markdown
    # The front matter stays valid YAML with the title intact.
    front = yaml.safe_load(markdown.split("---\n")[1])
    assert front["categories"] == ["Archive"]


def test_markdown_front_matter(config: Config) -> None:
    markdown = render_markdown(golden_bulletin(config), preview_links(config, "autumn-2017"))
    assert markdown.startswith("---\n")
    front = yaml.safe_load(markdown.split("---\n")[1])
    assert front == {
        "title": "Autumn 2017 news: Children & Social Work Act - the first provisions take effect",
        "date": NOW.date(),
        "season": "autumn-2017",
        "categories": ["Archive"],
    }
    assert "## Safeguarding partnerships {#safeguarding-partnerships}" in markdown


def test_text_fits_a_plain_mail_client(config: Config) -> None:
    text = render_text(golden_bulletin(config), preview_links(config, "autumn-2017"))
    for line in text.splitlines():
        # Only a bare URL may run past 72 columns: breaking it would break the link.
        assert len(line) <= 72 or re.fullmatch(r"\s*(\S+: )?https?://\S+", line), line
    assert "<" not in text.replace("<before April>", "").replace("<script>", "").replace(
        "</script>", ""
    )
    assert "\n\n\n" not in text


def test_strand_filter_keeps_only_the_items_on_the_chosen_strands(config: Config) -> None:
    bulletin = golden_bulletin(config)
    links = Links(
        archive="https://actwatch.example.org/archive/autumn-2017",
        unsubscribe="https://actwatch.example.org/u/TOKEN-123",
        preferences="https://actwatch.example.org/p/TOKEN-123",
        home="https://actwatch.example.org/",
    )
    chosen = {"care-leavers"}
    for render in (render_html, render_text, render_markdown):
        out = render(bulletin, links, strands=chosen)
        assert "Local offer for care leavers" in out
        assert "Social Work England: government consults" not in out
        assert "Corporate parenting: what councils" not in out
        # A pilot on another strand is another strand's news; the tracker stays for everyone.
        assert "Safeguarding early adopters" not in out
        assert "Social Work England" in out  # as a tracker row
    html = render_html(bulletin, links, strands=chosen)
    assert "https://actwatch.example.org/u/TOKEN-123" in html
    assert "https://actwatch.example.org/p/TOKEN-123" in html


def test_sections_over_the_cap_link_to_the_full_list(config: Config) -> None:
    base = datetime(2017, 9, 2, tzinfo=UTC)
    many = [
        StoredItem(
            id=n,
            title=f"Care leavers update {n}",
            link=f"https://www.gov.uk/government/news/care-leavers-{n}",
            source="GOV.UK",
            published_at=base + timedelta(days=n),
            summary="A summary.",
            event_type="guidance",
            strands=("care-leavers",),
        )
        for n in range(11)
    ]
    bulletin = compose(
        config, parse_season(config, "autumn-2017"), items=many, issued_on=NOW.date()
    )
    links = preview_links(config, "autumn-2017")
    html = render_html(bulletin, links, config=config)  # the config's section_cap: 8
    assert html.count("Care leavers update") == 8
    assert 'href="https://actwatch.example.org/archive/autumn-2017#care-leavers"' in html
    assert "3 more items on the web archive" in html
    assert (
        "3 more on the web archive: https://actwatch.example.org/archive/autumn-2017#care-leavers"
        in render_text(bulletin, links, config=config).replace("\n  ", " ")
    )
    assert render_html(bulletin, links, cap=11).count("Care leavers update") == 11


def test_the_worst_case_stays_under_the_size_budget(config: Config) -> None:
    """Every section full to the cap with long titles and summaries."""
    base = datetime(2017, 9, 1, 12, tzinfo=UTC)
    items = []
    kinds = [("pilot", ()), ("guidance", ())]
    for index, slug in enumerate([*config.strands, None]):
        for n in range(20):
            event, _ = kinds[1]
            items.append(
                StoredItem(
                    id=index * 100 + n,
                    title=(
                        "A long announcement title about the Act and its implementation " * 3
                    ).strip(),
                    link=f"https://www.gov.uk/government/news/{slug}-{n}-" + "x" * 60,
                    source="GOV.UK (Department for Education)",
                    published_at=base + timedelta(hours=index * 20 + n),
                    summary="A sentence of about average length for a GOV.UK summary. " * 6,
                    event_type="pilot" if slug is None and n % 2 else event,
                    strands=(slug,) if slug else (),
                )
            )
    bulletin = compose(
        config,
        parse_season(config, "autumn-2017"),
        items=items,
        headline="a headline of some length for the worst case",
        intro_md="An introduction. " * 120,
        issued_on=NOW.date(),
    )
    html = render_html(bulletin, preview_links(config, "autumn-2017"))
    assert len(html.encode()) < HTML_BUDGET


def test_an_oversized_bulletin_is_refused(config: Config) -> None:
    bulletin = golden_bulletin(config)
    huge = compose(
        config,
        bulletin.season,
        items=[],
        intro_md="word " * 30_000,
        issued_on=NOW.date(),
    )
    with pytest.raises(RenderError, match="byte budget even with one item per section"):
        render_html(huge, preview_links(config, "autumn-2017"))


def test_a_season_too_big_for_the_budget_shows_fewer_items(config: Config) -> None:
    base = datetime(2017, 9, 1, 12, tzinfo=UTC)
    items = [
        StoredItem(
            id=index * 100 + n,
            title=f"{slug} news {n} " + "with a long title " * 6,
            link=f"https://www.gov.uk/government/news/{slug}-{n}-" + "x" * 150,
            source="GOV.UK",
            published_at=base + timedelta(hours=index * 20 + n),
            summary="A long summary sentence that goes on. " * 8,
            event_type="guidance",
            strands=(slug,),
        )
        for index, slug in enumerate(config.strands)
        for n in range(8)
    ]
    bulletin = compose(
        config,
        parse_season(config, "autumn-2017"),
        items=items,
        intro_md="An introduction of some length. " * 1500,
        issued_on=NOW.date(),
    )
    links = preview_links(config, "autumn-2017")
    assert all(len(section.entries) == 8 for section in bulletin.strand_sections)
    assert len(render_mjml(bulletin, links).encode()) > HTML_BUDGET
    html = render_html(bulletin, links)
    assert len(html.encode()) <= HTML_BUDGET
    # Every strand keeps its newest items and links the rest.
    assert html.count("news 7 with a long title") == 9
    assert html.count("news 0 with a long title") == 0
    assert html.count("more items on the web archive") == 9


def test_mjml_autoescape_is_on(config: Config) -> None:
    mjml = render_mjml(golden_bulletin(config), preview_links(config, "autumn-2017"))
    assert "&lt;before April&gt;" in mjml
    assert "Children &amp; Social Work Act" in mjml


def test_an_editor_can_override_one_template(config: Config, tmp_path: Path) -> None:
    folder = config.templates_dir
    assert folder is not None
    folder.mkdir(parents=True)
    (folder / "bulletin.txt").write_text(
        "{{ bulletin.title }} ({{ bulletin.item_count }} items)\n", encoding="utf-8"
    )
    links = preview_links(config, "autumn-2017")
    bulletin = golden_bulletin(config)
    assert render_text(bulletin, links, config=config) == (
        "Autumn 2017 news: Children & Social Work Act - the first provisions take effect"
        " (10 items)\n"
    )
    # The other templates are still the built-in ones.
    assert "Where are we now" in render_html(bulletin, links, config=config)
