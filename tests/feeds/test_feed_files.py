"""Each feed file in tests/data/feeds parses to the items its `.expected.json` lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from actwatch.feeds.parse import ParsedEntry, ParsedFeed, parse_feed
from tests.feeds.conftest import FEEDS

NOW = datetime(2024, 1, 1, tzinfo=UTC)
SIDECARS = sorted(FEEDS.glob("*.expected.json"))


def expected_for(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def parse_file(name: str) -> tuple[ParsedFeed, dict[str, Any]]:
    expected = expected_for(FEEDS / f"{name}.expected.json")
    body = (FEEDS / name).read_bytes()
    return parse_feed(body, expected["url"], expected["content_type"], NOW), expected


def entry_values(entry: ParsedEntry) -> dict[str, Any]:
    return {
        "guid": entry.guid,
        "link": entry.link,
        "canonical_link": entry.canonical_link,
        "title": entry.title,
        "type_hint": entry.type_hint,
        "summary": entry.summary,
        "content_html": entry.content_html,
        "published": entry.published.isoformat() if entry.published else None,
        "date_source": entry.date_source,
        "source_meta": entry.source_meta,
    }


def test_every_feed_file_has_its_expectations() -> None:
    files = {path.name for path in FEEDS.iterdir() if path.suffix in (".rss", ".atom", ".rdf")}
    files |= {path.name for path in FEEDS.glob("*.json") if ".expected." not in path.name}
    assert {path.name.removesuffix(".expected.json") for path in SIDECARS} == files


@pytest.mark.parametrize("name", [path.name.removesuffix(".expected.json") for path in SIDECARS])
def test_feed_file_parses_as_expected(name: str) -> None:
    parsed, expected = parse_file(name)
    assert parsed.error is None
    assert (parsed.format, parsed.title) == (expected["format"], expected["title"])
    assert parsed.warnings == expected["warnings"]
    got = [
        {key: entry_values(entry)[key] for key in want}
        for entry, want in zip(parsed.entries, expected["entries"], strict=False)
    ]
    assert got == expected["entries"]
    assert len(parsed.entries) == len(expected["entries"])
    for entry in parsed.entries:
        assert entry.published is None or entry.published.tzinfo is UTC
        assert "\n" not in entry.title
        assert (entry.date_source == "first_seen") == (entry.published is None)


def test_plain_text_titles_keep_their_angle_brackets() -> None:
    parsed, _ = parse_file("text-types.atom")
    titles = [entry.title for entry in parsed.entries]
    assert titles[0] == "Care leavers <under 25> keep their personal adviser"
    assert parsed.entries[0].summary.startswith("Use x<y and the <b> tag")
    # HTML is text once its markup is gone; its escaped brackets are text too.
    assert titles[1] == "Social Work England & the HCPC: what changes"
    assert titles[2] == "Relationships & sex education <RSE>"
    assert titles[4] == "A title that looks like markup: <script>alert(1)</script>"
    assert parsed.title == "Practice & Research <Notes>"


def test_mathml_and_svg_keep_their_words_and_lose_their_markup() -> None:
    parsed, _ = parse_file("text-types.atom")
    entry = parsed.entries[2]
    assert entry.summary == "Pupils per teacher: n t < 30 , as the chart shows: RSE 2020 ."
    assert entry.content_html is not None
    for banned in ("<math", "<svg", "<script", "alert", "x-tex", "n/t"):
        assert banned not in entry.content_html


def test_untitled_entries_are_not_titled_with_their_link() -> None:
    parsed, _ = parse_file("text-types.atom")
    untitled = parsed.entries[3]
    assert untitled.title == "An entry with no title: its words stand in, never its link."
    assert untitled.source_meta["untitled"] is True
    parsed, _ = parse_file("jsonfeed-1.1.json")
    assert all("://" not in entry.title and "urn:" not in entry.title for entry in parsed.entries)


def test_relative_links_resolve_against_xml_base_then_the_entry_then_the_feed() -> None:
    parsed, _ = parse_file("xml-base.atom")
    first, second = parsed.entries
    assert first.link == "https://www.example-council.gov.uk/news/2019/local-offer?id=7;lang=en"
    assert first.content_html is not None and second.content_html is not None
    # The content's own xml:base.
    assert 'href="https://www.example-council.gov.uk/children/care-leavers/offer.pdf"' in (
        first.content_html
    )
    assert 'src="https://www.example-council.gov.uk/images/offer.png"' in first.content_html
    # The feed's xml:base, in effect for the second entry's content.
    assert 'href="https://www.example-council.gov.uk/schools/virtual-school"' in (
        second.content_html
    )
    # No xml:base at all (RSS): the item's own link.
    parsed, _ = parse_file("plain.rss")
    assert 'href="https://blog.example.org/2019/07/report.pdf"' in (
        parsed.entries[0].content_html or ""
    )


def test_json_feed_entries_are_the_same_kind_as_rss_entries() -> None:
    json_entry = parse_file("jsonfeed-1.1.json")[0].entries[0]
    rss_entry = parse_file("plain.rss")[0].entries[0]
    assert type(json_entry) is type(rss_entry)
    assert set(entry_values(json_entry)) == set(entry_values(rss_entry))
    assert json_entry.title == "Social Work England <today>: the register moves"


@pytest.mark.parametrize(
    ("format", "content_type", "body", "chosen"),
    [
        ("auto", "application/feed+json", b"{}", "json"),
        ("auto", "application/json; charset=utf-8", b"{}", "json"),
        ("auto", "text/plain", b'\xef\xbb\xbf  {"version": 1}', "json"),
        ("auto", "application/rss+xml", b"<rss/>", "xml"),
        ("auto", None, b"<rss/>", "xml"),
        ("xml", "application/json", b"{}", "xml"),
        ("json", "application/rss+xml", b"<rss/>", "json"),
    ],
)
def test_the_parser_is_chosen_by_format_then_content_type_then_body(
    format: str, content_type: str | None, body: bytes, chosen: str
) -> None:
    from actwatch.feeds.parse import choose_parser

    assert choose_parser(format, content_type, body) == chosen


def test_a_json_feed_declared_as_xml_is_refused_in_words() -> None:
    body = (FEEDS / "jsonfeed-1.0.json").read_bytes()
    parsed = parse_feed(body, "https://old.example.org/feed.json", "application/json", NOW, "xml")
    assert parsed.error == "the server sent JSON, but this feed's format is xml (RSS, Atom or RDF)"
