"""RSS, Atom and RDF through feedparser: what feedparser read, as format-neutral raw entries.

feedparser never fetches here: it only sees the bytes httpx brought back. Its warnings
("bozo" exceptions) become warnings in words that say whose fault they are: a server that
sent the wrong charset or media type is not a document that declared the wrong encoding.

Two speed patches to feedparser live here (see `apply_speed_patches`); the test
`tests/feeds/test_feedparser_patches.py` fails if either stops applying, and pyproject pins
feedparser to the minor range that test covers.
"""

from __future__ import annotations

import calendar
import copy
import functools
import io
import re
import time
from datetime import UTC, datetime
from typing import Any

import feedparser
import feedparser.mixin

from actwatch.core.states import DateSource
from actwatch.feeds.dates import register_fallback_date_handlers
from actwatch.feeds.entries import (
    FeedRefused,
    ParsedEntry,
    ParsedFeed,
    RawEntry,
    build_entry,
    describe_undated,
)
from actwatch.feeds.normalize import clean_line, text_of

LEGISLATION_NAMESPACE = "http://www.legislation.gov.uk/namespaces/metadata"
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
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_OVERRIDE = re.compile(r"document declared as (\S+), but parsed as (\S+)")


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


def apply_speed_patches() -> list[str]:
    """Patch feedparser for speed, without changing what it returns; idempotent.

    - feedparser re-resolves the xml:base of every element with urllib (`urljoin(base, base)` on
      each start tag): a fifth of its time on a typical feed. Both URL functions it uses are
      pure, so a small cache gives the same answers without the work.
    - It deep-copies a flat dict of strings for every element; a flat copy is equivalent.

    Returns the patches that could not be applied (feedparser changed): parsing stays correct
    without them, only slower, and the patch test fails so that someone looks.
    """
    missing = []
    mixin = feedparser.mixin
    for name in ("make_safe_absolute_uri", "_urljoin"):
        function = getattr(mixin, name, None)
        if function is None:
            missing.append(f"feedparser.mixin.{name}")
        elif not hasattr(function, "cache_info"):
            setattr(mixin, name, functools.lru_cache(maxsize=1024)(function))
    current = getattr(mixin, "copy", None)
    if current is copy:
        mixin.copy = _FlatCopy
    elif current is not _FlatCopy:
        missing.append("feedparser.mixin.copy")
    return missing


apply_speed_patches()
register_fallback_date_handlers()


def parse_xml_feed(body: bytes, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    check_body(body, content_type)
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    parsed = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        # nh3 sanitises (faster, stricter) and resolves relative links against xml:base, the
        # entry's link or the feed's URL, in that order; feedparser's own passes would be wasted.
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    version = parsed.get("version") or ""
    raw_entries = parsed.get("entries") or []
    bozo = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not version and not raw_entries:
        raise FeedRefused(_not_a_feed(body, content_type, bozo))
    if not raw_entries and bozo is not None and _is_xml_error(bozo):
        # A broken document that yields nothing is a failure, not an empty feed.
        raise FeedRefused(f"malformed XML and no entries could be recovered: {bozo}")

    feed_info = parsed.get("feed") or {}
    home = _home_link(feed_info)
    ukm = _legislation_prefix(parsed.get("namespaces") or {})
    entries: list[ParsedEntry] = []
    skipped = 0
    for raw in raw_entries:
        entry = build_entry(_raw_entry(raw, url, ukm), url, home, now)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    warnings = []
    if bozo is not None and (described := describe_bozo(bozo, body, content_type)):
        count = len(raw_entries)
        recovered = (
            f"; {count} entr{'y' if count == 1 else 'ies'} recovered" if _is_xml_error(bozo) else ""
        )
        warnings.append(described + recovered)
    if skipped:
        warnings.append(
            f"{skipped} entr{'y' if skipped == 1 else 'ies'} without a usable link or id skipped"
        )
    if undated := describe_undated(entries):
        warnings.append(undated)
    title_detail = feed_info.get("title_detail") or {}
    title = text_of(str(feed_info.get("title") or ""), title_detail.get("type", "text/html"))
    return ParsedFeed(
        entries=entries,
        title=title or None,
        format=FEED_FORMATS.get(version, version or None),
        warnings=warnings,
        skipped_entries=skipped,
        undated_entries=sum(entry.date_source == DateSource.FIRST_SEEN for entry in entries),
    )


def check_body(body: bytes, content_type: str | None) -> None:
    """Refuse what is plainly not an XML feed, and any document that declares expanding
    entities."""
    stripped = body.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise FeedRefused("the server sent an empty body")
    if stripped[:1] in (b"{", b"["):
        raise FeedRefused("the server sent JSON, but this feed's format is xml (RSS, Atom or RDF)")
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


def describe_bozo(error: Any, body: bytes, content_type: str | None) -> str | None:
    """What feedparser complained of, blaming the server or the document as the case is; None
    when, read rightly, there is nothing wrong."""
    name = type(error).__name__
    detail = clean_line(str(error))
    media_type = (content_type or "").split(";")[0].strip().lower()
    if name == "CharacterEncodingOverride":
        return _describe_encoding(detail, body, content_type)
    if name == "CharacterEncodingUnknown":
        return f"the character encoding is unknown: {detail}"
    if name == "NonXMLContentType":
        return f"the server sent the feed as {media_type or 'no media type'}, not as XML"
    if name == "UndeclaredNamespace":
        return f"the document uses an undeclared XML namespace: {detail}"
    if _is_xml_error(error):
        return f"malformed XML ({detail}), read leniently"
    return f"{name}: {detail}" if detail else name


def _describe_encoding(detail: str, body: bytes, content_type: str | None) -> str | None:
    match = _OVERRIDE.search(detail)
    if match is None:
        return f"the declared character encoding was wrong: {detail}"
    declared, actual = match[1].lower(), match[2].lower()
    server = _CHARSET.search(content_type or "")
    server_charset = server[1].lower() if server else None
    document = _XML_ENCODING.match(body[:512])
    document_encoding = document[1].decode("ascii").lower() if document else None
    server_wrong = server_charset is not None and _same_codec(server_charset, declared)
    document_wrong = document_encoding is not None and _same_codec(document_encoding, declared)
    if server_wrong and document_wrong:
        return (
            f"both the server (charset={server_charset}) and the document "
            f"(encoding={document_encoding}) declare the wrong character encoding; read as {actual}"
        )
    if server_wrong:
        return (
            f"the server's Content-Type declares charset={server_charset}, but the document is "
            f"{actual}; read as {actual}"
        )
    if document_wrong:
        return (
            f"the document declares encoding={document_encoding}, but it is {actual}; "
            f"read as {actual}"
        )
    if server_charset is None and (document_encoding or "utf-8") == actual:
        # A text/* type without a charset meant US-ASCII to RFC 3023; RFC 7303 lets the XML
        # declaration decide, and it was right. Nothing is wrong.
        return None
    return f"the declared character encoding ({declared}) was wrong; read as {actual}"


def _same_codec(first: str, second: str) -> bool:
    import codecs

    try:
        return codecs.lookup(first).name == codecs.lookup(second).name
    except LookupError:
        return first == second


def _not_a_feed(body: bytes, content_type: str | None, bozo: Any) -> str:
    media_type = (content_type or "").split(";")[0].strip().lower()
    if "html" in media_type and b"<html" in body[:65536].lower():
        return "the server sent an HTML page, not a feed (is this a web page's URL?)"
    if bozo is not None and _is_xml_error(bozo):
        return f"not an RSS or Atom feed: malformed XML ({bozo})"
    return "not an RSS or Atom feed: the document has no feed or channel element"


def _is_xml_error(error: Any) -> bool:
    return type(error).__name__ in ("SAXParseException", "SAXException")


def _get(raw: Any, key: str, default: Any = None) -> Any:
    # Plain dict lookup: FeedParserDict.get() maps aliases (slowly) and, for `updated_parsed`,
    # falls back to the published date with a DeprecationWarning. Entries store canonical keys.
    return dict.get(raw, key, default)


def _raw_entry(raw: Any, feed_url: str, ukm: str | None) -> RawEntry:
    title_detail = _get(raw, "title_detail") or {}
    summary_detail = _get(raw, "summary_detail") or {}
    entry = RawEntry(
        guid=str(_get(raw, "id") or "") or None,
        link=_entry_link(raw),
        title=str(_get(raw, "title") or ""),
        title_type=_get(title_detail, "type", "text/plain"),
        summary=str(_get(raw, "summary") or ""),
        summary_type=_get(summary_detail, "type", "text/html"),
        published=_struct_to_datetime(_get(raw, "published_parsed")),
        updated=_struct_to_datetime(_get(raw, "updated_parsed")),
        date_text=_get(raw, "published") or _get(raw, "updated") or None,
        meta=_source_meta(raw, ukm),
    )
    for content in _get(raw, "content") or ():
        value = _get(content, "value")
        if value:
            entry.content = str(value)
            entry.content_type = _get(content, "type", "text/html")
            base = _get(content, "base")
            # feedparser reports the document's URL when no xml:base was declared.
            entry.content_base = base if base and base != feed_url else None
            break
    return entry


def _struct_to_datetime(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _entry_link(raw: Any) -> str | None:
    for link in _get(raw, "links") or ():
        href = _get(link, "href")
        if (
            href
            and _get(link, "rel", "alternate") == "alternate"
            and _get(link, "type", "") in HTML_LINK_TYPES
        ):
            return str(href).strip()
    link = _get(raw, "link")
    return str(link).strip() if link else None


def _home_link(feed_info: Any) -> str | None:
    for link in feed_info.get("links") or ():
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    link = feed_info.get("link")
    return str(link) if link else None


def _legislation_prefix(namespaces: dict[str, str]) -> str | None:
    """The prefix this document binds legislation.gov.uk's metadata namespace to: feedparser
    names such elements `<prefix>_<name>`, whatever prefix the document chose."""
    for prefix, uri in namespaces.items():
        if uri.rstrip("/") == LEGISLATION_NAMESPACE and prefix:
            return prefix.lower()
    return None


def _source_meta(raw: Any, ukm: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    author = _get(raw, "author")
    if author:
        meta["author"] = clean_line(str(author))
    categories = [clean_line(str(_get(tag, "term") or "")) for tag in _get(raw, "tags") or ()]
    if categories := [category for category in categories if category]:
        meta["categories"] = categories
    if ukm is not None and (f"{ukm}_documentmaintype" in raw or f"{ukm}_year" in raw):
        meta["legislation"] = _legislation_meta(raw, ukm)
    return meta


def _legislation_meta(raw: Any, ukm: str) -> dict[str, Any]:
    def attribute(key: str, name: str = "value") -> str | None:
        value = _get(raw, f"{ukm}_{key}")
        if isinstance(value, dict):
            text = value.get(name)
            return clean_line(str(text)) if text else None
        return clean_line(str(value)) if value else None

    meta: dict[str, Any] = {}
    if document_type := attribute("documentmaintype"):
        meta["type"] = document_type
    for key, name in (("year", "year"), ("number", "number")):
        value = attribute(key)
        if value is not None:
            meta[name] = int(value) if value.isdigit() else value
    if made := attribute("creationdate", "date"):
        meta["made"] = made
    alternative = _get(raw, f"{ukm}_alternativenumber")
    if isinstance(alternative, dict) and alternative.get("value"):
        meta["alternative_number"] = {
            "category": clean_line(str(alternative.get("category") or "")),
            "value": clean_line(str(alternative["value"])),
        }
    return meta
