"""Parsing stored feed files, and refusing what is not a feed (or is an attack)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from actwatch.feeds.parse import check_entities, parse_feed
from tests.feeds.conftest import FEEDS, billion_laughs

NOW = datetime(2020, 1, 1, tzinfo=UTC)


def parse_file(name: str) -> Any:
    return parse_feed((FEEDS / name).read_bytes(), f"https://feeds.example.org/{name}", None, NOW)


def test_wordpress_content_is_sanitised_with_links_made_absolute() -> None:
    entry = parse_file("communitycare.rss").entries[0]
    html = entry.content_html
    assert html is not None
    assert "<script" not in html and "trackReader" not in html and "onerror" not in html
    # Relative links resolve against the article, not the feed.
    assert 'href="https://www.communitycare.co.uk/2019/11/29/swe-guide/"' in html
    assert 'src="https://www.communitycare.co.uk/wp-content/uploads/swe.jpg"' in html


def test_entry_without_summary_takes_text_of_its_content() -> None:
    body = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><id>tag:x,2018:1</id><link href="https://example.org/1"/><title>One</title>
    <updated>2018-01-01T00:00:00Z</updated>
    <content type="html">&lt;p&gt;Body text&lt;/p&gt;</content></entry></feed>"""
    entry = parse_feed(body, "https://example.org/feed", "application/atom+xml", NOW).entries[0]
    assert entry.summary == "Body text"
    assert entry.content_html == "<p>Body text</p>"


def test_entry_with_only_an_id_gets_a_stable_identity_and_one_with_nothing_is_skipped() -> None:
    body = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
    <item><title>Only a guid</title><guid isPermaLink="false">abc-123</guid></item>
    <item><title>Nothing at all</title></item></channel></rss>"""
    parsed = parse_feed(body, "https://example.org/feed", "application/rss+xml", NOW)
    assert [entry.canonical_link for entry in parsed.entries] == [
        "urn:actwatch:https://example.org/feed#abc-123"
    ]
    assert parsed.warnings == [
        "1 entry without a usable link or id skipped",
        "1 entry without a usable date (1 no date given): dated when first seen",
    ]


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"", "application/rss+xml", "the server sent an empty body"),
        (b"  \r\n ", "application/rss+xml", "the server sent an empty body"),
        (b'{"items": []}', "application/json", "the server sent JSON that is not a JSON Feed"),
        (b"[1, 2]", "text/plain", "the server sent JSON that is not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1"', None, "the JSON is malformed"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "text/html", "an HTML page, not a feed"),
        (
            b"<html><head><title>x</title></head></html>",
            "application/xml",
            "an HTML page, not a feed",
        ),
        (
            b'<?xml version="1.0"?><config><a>1</a></config>',
            "application/xml",
            "not an RSS or Atom feed",
        ),
        (
            b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel <<< title=>\n</rss',
            None,
            "malformed XML",
        ),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>B</tit',
            None,
            "malformed XML and no entries could be recovered",
        ),
    ],
)
def test_not_a_feed_is_an_error_in_words(body: bytes, content_type: str | None, error: str) -> None:
    parsed = parse_feed(body, "https://example.org/feed", content_type, NOW)
    assert parsed.error is not None and error in parsed.error
    assert parsed.entries == []


def test_empty_but_valid_feed_is_fine() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Nothing</title></channel></rss>'
    )
    parsed = parse_feed(body, "https://example.org/feed", "application/rss+xml", NOW)
    assert parsed.error is None and parsed.entries == [] and parsed.format == "RSS 2.0"


def test_a_recovered_entry_dropped_for_lacking_a_link_is_not_an_unrecoverable_feed() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>B</title>'
        b"<item><title>Unclosed</ti"
    )
    parsed = parse_feed(body, "https://example.org/feed", None, NOW)
    assert parsed.error is None and parsed.entries == []
    assert parsed.warnings[0].startswith("malformed XML (")
    assert parsed.warnings[0].endswith("read leniently; 1 entry recovered")
    assert parsed.warnings[1] == "1 entry without a usable link or id skipped"


def test_bozo_feed_with_entries_is_kept_with_its_warning() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>A & B</title><item>'
        b"<title>Tom & Jerry</title><link>https://example.org/tj</link></item></channel></rss>"
    )
    parsed = parse_feed(body, "https://example.org/feed", "application/rss+xml", NOW)
    assert parsed.error is None
    assert [entry.title for entry in parsed.entries] == ["Tom & Jerry"]
    assert parsed.warning is not None and parsed.warning.startswith("malformed XML")


def test_misdeclared_encoding_is_read_correctly_and_noted() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Café</title>'
        "<item><title>Café – résumé</title><link>https://example.org/a</link></item></channel></rss>"
    ).encode("cp1252")
    parsed = parse_feed(body, "https://example.org/feed", "application/rss+xml", NOW)
    assert [entry.title for entry in parsed.entries] == ["Café – résumé"]
    # The server said nothing of the charset: the document's own declaration was wrong.
    assert parsed.warnings[0] == (
        "the document declares encoding=utf-8, but it is windows-1252; read as windows-1252"
    )


def test_billion_laughs_is_refused_before_parsing() -> None:
    parsed = parse_feed(billion_laughs(), "https://example.org/feed", "application/rss+xml", NOW)
    assert (
        parsed.error is not None and "entity" in parsed.error and "billion laughs" in parsed.error
    )
    assert parsed.seconds < 0.5


@pytest.mark.parametrize(
    "declaration",
    [
        '<!ENTITY big "' + "A" * 10_000 + '">',  # quadratic blow-up: one big entity used often
        '<!ENTITY xxe SYSTEM "file:///etc/passwd">',  # external entity
        '<!ENTITY % param "x">',  # parameter entity
    ],
)
def test_other_entity_declarations_are_refused(declaration: str) -> None:
    body = f'<?xml version="1.0"?><!DOCTYPE rss [{declaration}]><rss version="2.0"></rss>'.encode()
    parsed = parse_feed(body, "https://example.org/feed", None, NOW)
    assert parsed.error is not None and parsed.error.startswith("refused")


def test_entities_hidden_in_utf16_are_refused() -> None:
    body = billion_laughs().decode().replace('version="1.0"', 'version="1.0" encoding="utf-16"')
    parsed = parse_feed(body.encode("utf-16"), "https://example.org/feed", None, NOW)
    assert parsed.error is not None and parsed.error.startswith("refused")


def test_character_entities_are_allowed() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;">]><rss version="2.0">'
        b"<channel><title>t</title><item><title>A&nbsp;B</title><link>https://example.org/a</link>"
        b"</item></channel></rss>"
    )
    check_entities(body)
    parsed = parse_feed(body, "https://example.org/feed", "application/rss+xml", NOW)
    assert parsed.error is None and parsed.entries[0].title == "A B"


def test_feedparser_alone_stays_bounded_on_billion_laughs() -> None:
    """Defence in depth: even without our refusal, feedparser (which strips unsafe entity
    declarations) and the installed expat (amplification limit) neither blow up nor hang."""
    script = """
import io, resource, sys, time
import feedparser
from tests.feeds.conftest import billion_laughs
started = time.perf_counter()
headers = {"content-type": "application/rss+xml"}
result = feedparser.parse(io.BytesIO(billion_laughs(12)), response_headers=headers)
titles = [len(entry.get("title", "")) for entry in result.entries]
# VmHWM is this program's own peak: ru_maxrss would include the parent's at fork (Linux
# keeps it across exec), so a large test process would fail this test.
try:
    status = open("/proc/self/status").read()
    rss = int(status.split("VmHWM:")[1].split()[0])
except (OSError, IndexError, ValueError):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(time.perf_counter() - started, rss, max(titles or [0]))
"""
    output = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=FEEDS.parents[2],
    ).stdout.split()
    seconds, max_rss_kib, longest_title = float(output[0]), int(output[1]), int(output[2])
    assert seconds < 5
    assert max_rss_kib < 200_000
    assert longest_title < 1000


def test_a_parser_crash_costs_one_feed_not_the_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import feedparser

    def explode(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(feedparser, "parse", explode)
    parsed = parse_feed(b"<rss/>", "https://example.org/feed", None, NOW)
    assert parsed.error == "the feed could not be parsed (RuntimeError: boom)"


def test_a_wrong_charset_from_the_server_is_blamed_on_the_server() -> None:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Café</title><link>https://example.org/a</link></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body, "https://example.org/feed", "application/xml; charset=us-ascii", NOW)
    assert [entry.title for entry in parsed.entries] == ["Café"]
    assert parsed.warnings[0] == (
        "the server's Content-Type declares charset=us-ascii, but the document is utf-8; "
        "read as utf-8"
    )


def test_text_xml_without_a_charset_is_not_a_problem_when_the_document_says_its_encoding() -> None:
    """RFC 3023 made text/xml without a charset US-ASCII; RFC 7303 lets the XML declaration
    decide. A feed that declares UTF-8 and is UTF-8 gets no warning."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Café</title><link>https://example.org/a</link>"
        "<pubDate>Mon, 01 Jul 2019 10:00:00 +0100</pubDate></item></channel></rss>"
    ).encode()
    parsed = parse_feed(body, "https://example.org/feed", "text/xml", NOW)
    assert [entry.title for entry in parsed.entries] == ["Café"] and parsed.warnings == []
