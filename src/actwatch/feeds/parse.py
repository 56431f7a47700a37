"""Parse fetched bytes into normalised entries: runs inside the parse worker processes.

feedparser never fetches here: it only ever sees the bytes httpx brought back. Problems are data:
`parse_feed` never raises, it returns a `ParsedFeed` whose `error` says what went wrong in words
an operator can act on, and whose `warning` keeps what feedparser complained of in a feed it
could still read.
"""

from __future__ import annotations

import copy
import functools
import io
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import feedparser
import feedparser.mixin
import nh3

from actwatch.core.links import canonical_link
from actwatch.feeds.normalize import (
    SUMMARY_MAX_CHARS,
    TITLE_MAX_CHARS,
    clean_line,
    content_hash,
    html_to_text,
    split_display_type,
    struct_to_datetime,
    truncate,
)

LEGISLATION_NAMESPACE = "http://www.legislation.gov.uk/namespaces/metadata"
# Whatever prefix a document binds it to, legislation.gov.uk metadata arrives as `ukm_*` keys.
feedparser.mixin._FeedParserMixin.namespaces.setdefault(LEGISLATION_NAMESPACE, "ukm")


def _memoise_feedparser_urls() -> None:
    """feedparser re-resolves the xml:base of every element with urllib (`urljoin(base, base)`
    on each start tag): a fifth of its time on a typical feed. Both functions are pure, so a
    small cache returns the same answers without the work."""
    mixin = feedparser.mixin
    for name in ("make_safe_absolute_uri", "_urljoin"):
        function = getattr(mixin, name, None)
        if function is not None and not hasattr(function, "cache_info"):
            setattr(mixin, name, functools.lru_cache(maxsize=1024)(function))


class _FlatCopy:
    """feedparser deep-copies each element's content parameters (a flat dict of strings) when it
    closes the element; a flat copy is the same thing at a fraction of the cost."""

    @staticmethod
    def deepcopy(value: Any) -> Any:
        if isinstance(value, dict) and all(
            item is None or isinstance(item, str | int) for item in value.values()
        ):
            return type(value)(value)
        return copy.deepcopy(value)


_memoise_feedparser_urls()
if getattr(feedparser.mixin, "copy", None) is copy:
    feedparser.mixin.copy = _FlatCopy

HTML_LINK_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
FEED_FORMATS = {
    "rss090": "RSS 0.90",
    "rss091n": "RSS 0.91",
    "rss091u": "RSS 0.91",
    "rss092": "RSS 0.92",
    "rss093": "RSS 0.93",
    "rss094": "RSS 0.94",
    "rss20": "RSS 2.0",
    "rss10": "RSS 1.0",
    "rss": "RSS",
    "atom01": "Atom 0.1",
    "atom02": "Atom 0.2",
    "atom03": "Atom 0.3",
    "atom10": "Atom 1.0",
    "atom": "Atom",
    "cdf": "CDF",
}
BOZO_LABELS = {
    "CharacterEncodingOverride": "the declared character encoding was wrong",
    "CharacterEncodingUnknown": "the character encoding is unknown",
    "NonXMLContentType": "not served as XML",
    "UndeclaredNamespace": "undeclared XML namespace",
    "SAXParseException": "malformed XML",
}

# Entity declarations are how billion-laughs and quadratic-blowup documents amplify a small body
# into gigabytes. A feed has no need of them except to name a character (`&#160;`), so anything
# else is refused before a parser sees it. (feedparser and expat >= 2.4 have defences of their
# own; this makes the refusal explicit and independent of the installed expat.)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY\s+(%\s*)?([^\s>]+)\s*([^>]*)>", re.IGNORECASE)
_CHARACTER_REFERENCE = re.compile(rb"""^(["'])&#(?:[0-9]{1,7}|x[0-9A-Fa-f]{1,6});\1$""")
_UTF16_32_STARTS = (b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<", b"\x00\x00")
_HTML_START = re.compile(
    rb"^(?:\s|<\?xml[^>]*>|<!--.*?-->)*<(?:!doctype\s+html|html)\b", re.I | re.S
)


@dataclass(slots=True)
class ParsedEntry:
    canonical_link: str
    link: str
    guid: str | None
    title: str
    type_hint: str | None
    summary: str
    content_html: str | None
    published: datetime | None
    updated: datetime | None
    content_hash: str
    source_meta: dict[str, Any]


@dataclass(slots=True)
class ParsedFeed:
    entries: list[ParsedEntry] = field(default_factory=list)
    title: str | None = None
    format: str | None = None
    warning: str | None = None
    error: str | None = None
    skipped_entries: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0


class FeedRefused(Exception):
    """The body is not something to hand to a feed parser; the message says why."""


def parse_feed(body: bytes, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    """Parse one fetched body. Never raises: failures come back in `ParsedFeed.error`."""
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        result = _parse(body, url, content_type, now)
    except FeedRefused as exc:
        result = ParsedFeed(error=str(exc))
    except MemoryError:
        result = ParsedFeed(error="the document needed more memory than allowed to parse")
    except Exception as exc:  # a parser bug must cost one feed, never the pass
        result = ParsedFeed(error=f"the feed could not be parsed ({type(exc).__name__}: {exc})")
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - cpu_started
    return result


def _parse(body: bytes, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    check_body(body, content_type)
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        # nh3 sanitises below (faster, stricter); feedparser's own pass would be wasted work.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    version = parsed.get("version") or ""
    raw_entries = parsed.get("entries") or []
    bozo = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not version and not raw_entries:
        raise FeedRefused(_not_a_feed(body, content_type, bozo))

    feed_info = parsed.get("feed") or {}
    entries: list[ParsedEntry] = []
    skipped = 0
    for raw in raw_entries:
        entry = normalise_entry(raw, url, now)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    if not entries and bozo is not None and _is_xml_error(bozo):
        # A broken document that yields nothing is a failure, not an empty feed.
        raise FeedRefused(f"malformed XML and no entries could be recovered: {bozo}")
    warning = _describe_bozo(bozo) if bozo is not None else None
    if skipped:
        note = f"{skipped} entr{'y' if skipped == 1 else 'ies'} without a usable link or id skipped"
        warning = f"{warning}; {note}" if warning else note
    title = html_to_text(str(feed_info.get("title") or "")) or None
    return ParsedFeed(
        entries=entries,
        title=title,
        format=FEED_FORMATS.get(version, version or None),
        warning=warning,
        skipped_entries=skipped,
    )


def check_body(body: bytes, content_type: str | None) -> None:
    """Refuse what is plainly not a feed, and any document that declares expanding entities."""
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise FeedRefused("the server sent an empty body")
    if stripped[:1] in (b"{", b"["):
        raise FeedRefused("the server sent JSON, not an RSS or Atom feed")
    if _HTML_START.match(stripped[:4096]):
        raise FeedRefused("the server sent an HTML page, not a feed (is this a web page's URL?)")
    check_entities(body)


def check_entities(body: bytes) -> None:
    head = body
    if body.startswith(_UTF16_32_STARTS):
        # Wide encodings would hide the declarations from a byte search: look at the text.
        for codec in ("utf-32", "utf-16", "utf-16-le", "utf-16-be"):
            try:
                head = body.decode(codec).encode("utf-8")
            except UnicodeDecodeError:
                continue
            if b"<" in head:
                break
    first = _FIRST_ELEMENT.search(head)
    prolog = head[: first.start()] if first else head
    if b"<!" not in prolog:
        return
    for match in _ENTITY_DECLARATION.finditer(prolog):
        is_parameter, name, value = match[1], match[2], match[3].strip()
        if is_parameter or not _CHARACTER_REFERENCE.match(value):
            shown = name.decode("utf-8", "replace")[:40]
            raise FeedRefused(
                f"refused: the document declares the XML entity {shown!r}; entity declarations "
                "are how entity-expansion (billion laughs) attacks work, and feeds need none"
            )


def _not_a_feed(body: bytes, content_type: str | None, bozo: Any) -> str:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if "html" in media_type and b"<html" in body[:65536].lower():
        return "the server sent an HTML page, not a feed (is this a web page's URL?)"
    if "json" in media_type:
        return "the server sent JSON, not an RSS or Atom feed"
    if bozo is not None and _is_xml_error(bozo):
        return f"not an RSS or Atom feed: malformed XML ({bozo})"
    return "not an RSS or Atom feed: the document has no feed or channel element"


def _is_xml_error(error: Any) -> bool:
    return type(error).__name__ in ("SAXParseException", "SAXException")


def _describe_bozo(error: Any) -> str:
    name = type(error).__name__
    label = BOZO_LABELS.get(name, name)
    detail = clean_line(str(error))
    return f"{label}: {detail}" if detail else label


def _get(raw: Any, key: str) -> Any:
    # Plain dict lookup: FeedParserDict.get() maps aliases and, for `updated_parsed`, falls back
    # to the published date with a DeprecationWarning. Entries store the canonical keys.
    return dict.get(raw, key)


def normalise_entry(raw: Any, feed_url: str, now: datetime) -> ParsedEntry | None:
    guid = clean_line(str(_get(raw, "id") or "")) or None
    link = _entry_link(raw)
    canonical = canonical_link(link, feed_url) if link else None
    if canonical is None and guid is not None:
        canonical = canonical_link(guid, None)
    if canonical is None:
        if guid is None:
            return None
        # An entry with only an opaque id still needs a stable identity of its own.
        canonical = f"urn:actwatch:{canonical_link(feed_url) or feed_url}#{guid}"
    title = truncate(html_to_text(str(_get(raw, "title") or "")), TITLE_MAX_CHARS)
    title, type_hint = split_display_type(title, canonical)

    content_html: str | None = None
    for content in _get(raw, "content") or ():
        value = content.get("value")
        if value:
            content_html = sanitise_html(str(value), canonical, feed_url)
            break
    summary = html_to_text(str(_get(raw, "summary") or ""))
    if not summary and content_html is not None:
        summary = html_to_text(content_html)
    summary = truncate(summary, SUMMARY_MAX_CHARS)
    if not title:
        title = truncate(summary, 120) if summary else canonical

    published = struct_to_datetime(_get(raw, "published_parsed"), now)
    updated = struct_to_datetime(_get(raw, "updated_parsed"), now)
    return ParsedEntry(
        canonical_link=canonical,
        link=link or canonical,
        guid=guid,
        title=title,
        type_hint=type_hint,
        summary=summary,
        content_html=content_html,
        published=published or updated,
        updated=updated,
        content_hash=content_hash(title, summary, content_html),
        source_meta=_source_meta(raw, type_hint),
    )


def sanitise_html(fragment: str, entry_link: str, feed_url: str) -> str | None:
    """Safe HTML with relative links made absolute against the entry's own page."""
    base = entry_link if entry_link.startswith(("http://", "https://")) else feed_url
    try:
        cleaned = nh3.clean(fragment, url_relative=("rewrite_with_base", base))
    except ValueError:  # a base nh3 cannot parse
        cleaned = nh3.clean(fragment, url_relative="deny")
    return cleaned.strip() or None


def _entry_link(raw: Any) -> str | None:
    for link in _get(raw, "links") or ():
        href = link.get("href")
        if (
            href
            and link.get("rel", "alternate") == "alternate"
            and link.get("type", "") in HTML_LINK_TYPES
        ):
            return str(href).strip()
    link = _get(raw, "link")
    return str(link).strip() if link else None


def _source_meta(raw: Any, type_hint: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if type_hint:
        meta["display_type"] = type_hint
    author = _get(raw, "author")
    if author:
        meta["author"] = clean_line(str(author))
    categories = [clean_line(str(tag.get("term") or "")) for tag in _get(raw, "tags") or ()]
    if categories := [category for category in categories if category]:
        meta["categories"] = categories
    if "ukm_documentmaintype" in raw or "ukm_year" in raw:
        meta["legislation"] = _legislation_meta(raw)
    return meta


def _legislation_meta(raw: Any) -> dict[str, Any]:
    def attribute(key: str, name: str = "value") -> str | None:
        value = _get(raw, key)
        if isinstance(value, dict):
            text = value.get(name)
            return clean_line(str(text)) if text else None
        return clean_line(str(value)) if value else None

    meta: dict[str, Any] = {}
    if document_type := attribute("ukm_documentmaintype"):
        meta["type"] = document_type
    for key, name in (("ukm_year", "year"), ("ukm_number", "number")):
        value = attribute(key)
        if value is not None:
            meta[name] = int(value) if value.isdigit() else value
    if made := attribute("ukm_creationdate", "date"):
        meta["made"] = made
    alternative = _get(raw, "ukm_alternativenumber")
    if isinstance(alternative, dict) and alternative.get("value"):
        meta["alternative_number"] = {
            "category": clean_line(str(alternative.get("category") or "")),
            "value": clean_line(str(alternative["value"])),
        }
    return meta
