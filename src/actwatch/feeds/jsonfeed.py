"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) as format-neutral raw entries.

JSON Feed says what each text is: `title` and `summary` are plain text, `content_text` is plain
text and `content_html` is HTML. An item must have an `id` (1.0 allowed numbers: they are kept
as their text). Dates are RFC 3339; broken ones go through the same fallbacks as RSS dates.
"""

from __future__ import annotations

import calendar
import json
from datetime import UTC, datetime
from typing import Any

from actwatch.core.states import DateSource
from actwatch.feeds.dates import parse_broken_date
from actwatch.feeds.entries import (
    FeedRefused,
    ParsedEntry,
    ParsedFeed,
    RawEntry,
    build_entry,
    describe_undated,
)
from actwatch.feeds.normalize import clean_line

VERSION_PREFIX = "https://jsonfeed.org/version/"
VERSIONS = {
    "https://jsonfeed.org/version/1": "JSON Feed 1.0",
    "https://jsonfeed.org/version/1.1": "JSON Feed 1.1",
}


def parse_json_feed(body: bytes, url: str, content_type: str | None, now: datetime) -> ParsedFeed:
    if not body.strip():
        raise FeedRefused("the server sent an empty body")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FeedRefused(f"not a JSON Feed: the JSON is malformed ({exc})") from None
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith(
        VERSION_PREFIX
    ):
        raise FeedRefused(
            "the server sent JSON that is not a JSON Feed (no https://jsonfeed.org/version/ "
            "version), nor an RSS or Atom feed"
        )
    version = str(document["version"])
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedRefused("not a usable JSON Feed: it has no list of items")
    home = _string(document.get("home_page_url"))
    entries: list[ParsedEntry] = []
    skipped = 0
    for item in items:
        entry = build_entry(_raw_entry(item), url, home, now) if isinstance(item, dict) else None
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    warnings = []
    if version not in VERSIONS:
        warnings.append(f"unknown JSON Feed version {version!r}, read as 1.1")
    if skipped:
        warnings.append(
            f"{skipped} entr{'y' if skipped == 1 else 'ies'} without a usable link or id skipped"
        )
    if undated := describe_undated(entries):
        warnings.append(undated)
    return ParsedFeed(
        entries=entries,
        title=clean_line(_string(document.get("title")) or "") or None,
        format=VERSIONS.get(version, "JSON Feed"),
        warnings=warnings,
        skipped_entries=skipped,
        undated_entries=sum(entry.date_source == DateSource.FIRST_SEEN for entry in entries),
    )


def _raw_entry(item: dict[str, Any]) -> RawEntry:
    identifier = item.get("id")
    guid = str(identifier) if isinstance(identifier, str | int) and identifier != "" else None
    content_html = _string(item.get("content_html"))
    content_text = _string(item.get("content_text"))
    published_text = _string(item.get("date_published"))
    modified_text = _string(item.get("date_modified"))
    return RawEntry(
        guid=guid,
        link=_string(item.get("url")) or _string(item.get("external_url")),
        title=_string(item.get("title")),
        title_type="text",
        summary=_string(item.get("summary")),
        summary_type="text",
        content=content_html or content_text,
        content_type="html" if content_html else "text",
        published=parse_date(published_text),
        updated=parse_date(modified_text),
        date_text=published_text or modified_text,
        meta=_meta(item),
    )


def parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        parsed = parse_broken_date(text)
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _meta(item: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    authors = item.get("authors")
    if not isinstance(authors, list):
        authors = [item["author"]] if isinstance(item.get("author"), dict) else []
    names = [
        clean_line(str(author.get("name") or "")) for author in authors if isinstance(author, dict)
    ]
    if names := [name for name in names if name]:
        meta["author"] = ", ".join(names)
    tags = item.get("tags")
    if isinstance(tags, list) and (categories := [clean_line(str(tag)) for tag in tags if tag]):
        meta["categories"] = categories
    external = _string(item.get("external_url"))
    if external and _string(item.get("url")):
        meta["external_url"] = external
    return meta


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
