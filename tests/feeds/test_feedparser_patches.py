"""The feedparser speed patches (actwatch.feeds.xmlfeed.apply_speed_patches): each applies, each
is used, and together they change nothing feedparser returns. pyproject pins feedparser to the
minor range this test covers; a new feedparser must pass it before the pin moves."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import feedparser.mixin
import pytest

from actwatch.feeds import xmlfeed
from tests.feeds.conftest import FEEDS

ROOT = Path(__file__).resolve().parents[2]
PINNED = "feedparser>=6.0.11,<6.1"

DUMP = r"""
import io, json, sys
import feedparser
import actwatch.feeds.dates as dates  # the date fallbacks only: no speed patches
dates.register_fallback_date_handlers()
if sys.argv[1] == "patched":
    import actwatch.feeds.xmlfeed
    assert actwatch.feeds.xmlfeed.apply_speed_patches() == []
out = {}
for path in sys.argv[2:]:
    parsed = feedparser.parse(
        io.BytesIO(open(path, "rb").read()),
        response_headers={
            "content-location": "https://example.org/feeds/x",
            "content-type": "application/xml",
        },
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    found = {"feed": parsed.feed, "entries": parsed.entries}
    out[path] = json.loads(json.dumps(found, default=str))
print(json.dumps(out, sort_keys=True))
"""


def test_feedparser_is_pinned_to_the_range_this_test_covers() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert PINNED in dependencies
    major, minor, patch = (
        int(part) for part in importlib.metadata.version("feedparser").split(".")
    )
    assert (major, minor) == (6, 0) and patch >= 11


def test_every_speed_patch_applies() -> None:
    assert xmlfeed.apply_speed_patches() == []
    assert hasattr(feedparser.mixin._urljoin, "cache_info")
    assert hasattr(feedparser.mixin.make_safe_absolute_uri, "cache_info")
    assert feedparser.mixin.copy is xmlfeed._FlatCopy


def test_every_speed_patch_is_used_while_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    feedparser.mixin._urljoin.cache_clear()
    feedparser.mixin.make_safe_absolute_uri.cache_clear()
    copies: list[object] = []
    flat_copy = xmlfeed._FlatCopy.deepcopy

    def counted(value: object) -> object:
        copies.append(value)
        return flat_copy(value)

    monkeypatch.setattr(xmlfeed._FlatCopy, "deepcopy", counted)
    xmlfeed.parse_xml_feed(
        (FEEDS / "communitycare.rss").read_bytes(),
        "https://www.communitycare.co.uk/feed/",
        "application/rss+xml",
        datetime(2024, 1, 1, tzinfo=UTC),
    )
    # Every start tag re-resolves the base: the cache answers all but the first.
    assert feedparser.mixin.make_safe_absolute_uri.cache_info().hits > 20
    assert feedparser.mixin._urljoin.cache_info().misses > 0
    assert copies


def test_the_patches_change_nothing_feedparser_returns() -> None:
    files = sorted(
        str(path) for path in FEEDS.iterdir() if path.suffix in (".rss", ".atom", ".rdf")
    )

    def dump(mode: str) -> object:
        result = subprocess.run(
            [sys.executable, "-c", DUMP, mode, *files],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            cwd=ROOT,
        )
        return json.loads(result.stdout)

    assert dump("patched") == dump("plain")


def test_legislation_metadata_does_not_depend_on_import_order_or_prefix() -> None:
    """feedparser fills its namespace table on first use; reading the metadata must work
    whether or not something parsed a feed before actwatch was imported, and whatever prefix
    the document binds legislation.gov.uk's namespace to."""
    script = r"""
import io, json
from datetime import UTC, datetime
import feedparser
body = open("tests/data/feeds/legislation-cswa.atom", "rb").read()
feedparser.parse(io.BytesIO(body))  # before actwatch is imported
renamed = body.replace(b"xmlns:ukm=", b"xmlns:meta=")
renamed = renamed.replace(b"<ukm:", b"<meta:").replace(b"</ukm:", b"</meta:")
from actwatch.feeds.parse import parse_feed
now = datetime(2024, 1, 1, tzinfo=UTC)
print(json.dumps([
    [
        entry.source_meta.get("legislation")
        for entry in parse_feed(doc, "https://x.example/f", None, now).entries
    ]
    for doc in (body, renamed)
]))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    original, renamed = json.loads(result.stdout)
    assert original == renamed
    assert original[0] == {
        "type": "UnitedKingdomStatutoryInstrument",
        "year": 2018,
        "number": 346,
        "made": "2018-03-01",
        "alternative_number": {"category": "C", "value": "30"},
    }
