"""Parse fetched bytes into format-neutral entries: runs inside the parse worker processes.

A small registry of parsers: `xml` (RSS, Atom and RDF, through feedparser) and `json`
(JSON Feed 1.0 and 1.1). A feed's `format` in the config chooses one; `auto` (the default)
goes by the Content-Type the server sent, then by the body's first character. Every parser
returns the same `ParsedFeed` of `ParsedEntry` values.

Problems are data: `parse_feed` never raises, it returns a `ParsedFeed` whose `error` says what
went wrong in words an operator can act on, and whose `warnings` keep what was wrong with a feed
that could still be read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from actwatch.feeds.entries import FeedRefused, ParsedEntry, ParsedFeed
from actwatch.feeds.jsonfeed import parse_json_feed
from actwatch.feeds.xmlfeed import check_body, check_entities, parse_xml_feed

Parser = Callable[[bytes, str, str | None, datetime], ParsedFeed]
PARSERS: dict[str, Parser] = {"xml": parse_xml_feed, "json": parse_json_feed}
FORMATS = ("auto", *PARSERS)
_JSON_MEDIA_TYPES = frozenset({"application/feed+json", "application/json", "text/json"})

__all__ = [
    "FORMATS",
    "PARSERS",
    "FeedRefused",
    "ParsedEntry",
    "ParsedFeed",
    "check_body",
    "check_entities",
    "choose_parser",
    "parse_feed",
]


def choose_parser(format: str, content_type: str | None, body: bytes) -> str:
    """The registry key for this body: the configured format, else what the server says it
    sent, else what the body looks like (servers often call JSON Feeds text/plain)."""
    if format != "auto":
        return format
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in _JSON_MEDIA_TYPES or media_type.endswith("+json"):
        return "json"
    if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return "json"
    return "xml"


def parse_feed(
    body: bytes, url: str, content_type: str | None, now: datetime, format: str = "auto"
) -> ParsedFeed:
    """Parse one fetched body. Never raises: failures come back in `ParsedFeed.error`."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        parser = PARSERS[choose_parser(format, content_type, body)]
        result = parser(body, url, content_type, now)
    except FeedRefused as exc:
        result = ParsedFeed(error=str(exc))
    except MemoryError:
        result = ParsedFeed(error="the document needed more memory than allowed to parse")
    except Exception as exc:  # a parser bug must cost one feed, never the pass
        result = ParsedFeed(error=f"the feed could not be parsed ({type(exc).__name__}: {exc})")
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    return result
