"""Parsed entries, the same whatever format they came from.

Each format parser (`xmlfeed` for RSS, Atom and RDF through feedparser; `jsonfeed` for JSON Feed)
reads a document into `RawEntry` values: what the entry says, with each text's declared type.
`build_entry` turns those into a `ParsedEntry`: links as published (plus the canonical form
that decides identity), text that follows its declared type, sanitised HTML with relative links
resolved, and a date that says where it came from. Matching and storing only ever see
`ParsedEntry`, so nothing after this point knows which format an item came from.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import nh3

from actwatch.core.links import canonical_link, link_forms
from actwatch.core.states import DateSource
from actwatch.feeds.normalize import (
    SUMMARY_MAX_CHARS,
    TITLE_MAX_CHARS,
    clean_html,
    clean_line,
    content_hash,
    html_to_text,
    is_html_type,
    split_display_type,
    text_of,
    truncate,
)

# Dates this far ahead of now come from a wrong clock or a typo; trusting them would put the
# entry into a season that has not begun.
FUTURE_TOLERANCE = timedelta(days=1)
EARLIEST_PLAUSIBLE = datetime(1990, 1, 1, tzinfo=UTC)
UNTITLED_CHARS = 120
_ALLOWED_TAGS = set(nh3.ALLOWED_TAGS)


@dataclass(slots=True)
class ParsedEntry:
    canonical_link: str
    """Identity: the canonical form of the link, or a urn for an entry that has only an id."""
    link: str
    """What readers get: the link as published (made absolute, tracking parameters removed)."""
    guid: str | None
    title: str
    type_hint: str | None
    summary: str
    content_html: str | None
    published: datetime | None
    updated: datetime | None
    date_source: str
    """A `DateSource` value: first_seen when the entry gave no usable date."""
    content_hash: str
    source_meta: dict[str, Any]


@dataclass(slots=True)
class ParsedFeed:
    entries: list[ParsedEntry] = field(default_factory=list)
    title: str | None = None
    format: str | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    skipped_entries: int = 0
    undated_entries: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def warning(self) -> str | None:
        return "; ".join(self.warnings) or None


class FeedRefused(Exception):
    """The body is not something to hand to a feed parser; the message says why."""


@dataclass(slots=True)
class RawEntry:
    """One entry as its format wrote it. Types are "text" or "html" (or a MIME type)."""

    guid: str | None = None
    link: str | None = None
    title: str | None = None
    title_type: str | None = "text"
    summary: str | None = None
    summary_type: str | None = "text"
    content: str | None = None
    content_type: str | None = "html"
    content_base: str | None = None
    """The xml:base in effect for the content, when the document declared one."""
    published: datetime | None = None
    updated: datetime | None = None
    date_text: str | None = None
    """The date as written, when there was one (to say why an entry is undated)."""
    meta: dict[str, Any] = field(default_factory=dict)


def build_entry(
    raw: RawEntry, feed_url: str, home_link: str | None, now: datetime
) -> ParsedEntry | None:
    """A format-neutral entry, or None when the entry has neither a usable link nor an id."""
    guid = clean_line(raw.guid or "") or None
    forms = link_forms(raw.link, feed_url) if raw.link else None
    if forms is None and guid is not None:
        forms = link_forms(guid)  # an id that is a URL (RSS permalinks, GOV.UK's Atom ids)
    link, canonical = forms if forms is not None else (None, None)
    if canonical is None:
        if guid is None:
            return None
        # An entry with only an opaque id still needs a stable identity of its own.
        canonical = f"urn:actwatch:{canonical_link(feed_url) or feed_url}#{guid}"

    title = truncate(text_of(raw.title or "", raw.title_type), TITLE_MAX_CHARS)
    title, type_hint = split_display_type(title, canonical)
    content_html = None
    if raw.content:
        base = raw.content_base or link or feed_url
        if is_html_type(raw.content_type):
            content_html = sanitise_html(raw.content, base)
        else:
            content_html = text_to_html(raw.content)
    summary = text_of(raw.summary or "", raw.summary_type)
    if not summary and content_html is not None:
        summary = html_to_text(content_html)
    summary = truncate(summary, SUMMARY_MAX_CHARS)

    meta = raw.meta
    if type_hint:
        meta["display_type"] = type_hint
    if not title:
        # No title is not a reason to show a link or a urn as one: the words of the entry are.
        title = truncate(summary, UNTITLED_CHARS)
        meta["untitled"] = True

    published, published_note = plausible(raw.published, now)
    updated, updated_note = plausible(raw.updated, now)
    # Plain strings: entries cross from the parse workers pickled, and enum members unpickle
    # through a lookup each.
    if published is not None:
        date_source = DateSource.PUBLISHED.value
    elif updated is not None:
        date_source = DateSource.UPDATED.value
    else:
        date_source = DateSource.FIRST_SEEN.value
        meta["undated"] = (
            published_note
            or updated_note
            or (f"unreadable date {raw.date_text!r}" if raw.date_text else "no date given")
        )
    return ParsedEntry(
        canonical_link=canonical,
        link=link or home_link or feed_url,
        guid=guid,
        title=title,
        type_hint=type_hint,
        summary=summary,
        content_html=content_html,
        published=published or updated,
        updated=updated,
        date_source=date_source,
        content_hash=content_hash(title, summary, content_html),
        source_meta=meta,
    )


def plausible(moment: datetime | None, now: datetime) -> tuple[datetime | None, str | None]:
    """The date if it can be believed, else None and why not."""
    if moment is None:
        return None, None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if moment > now + FUTURE_TOLERANCE:
        return None, f"date in the future ({moment:%Y-%m-%d})"
    if moment < EARLIEST_PLAUSIBLE:
        return None, f"implausibly old date ({moment:%Y-%m-%d})"
    return moment, None


def sanitise_html(fragment: str, base: str) -> str | None:
    """Safe HTML with relative links resolved against `base` (the xml:base in effect, else the
    entry's link, else the feed's URL)."""
    try:
        cleaned = clean_html(fragment, tags=_ALLOWED_TAGS, url_relative=("rewrite_with_base", base))
    except ValueError:  # a base nh3 cannot parse
        cleaned = clean_html(fragment, tags=_ALLOWED_TAGS, url_relative="deny")
    return cleaned.strip() or None


def text_to_html(text: str) -> str | None:
    """Plain-text content as HTML paragraphs (a blank line separates paragraphs)."""
    paragraphs = [part.strip() for part in text.replace("\r\n", "\n").split("\n\n")]
    body = "".join(
        f"<p>{html.escape(part).replace(chr(10), '<br>')}</p>" for part in paragraphs if part
    )
    return body or None


def describe_undated(entries: list[ParsedEntry]) -> str | None:
    undated = [entry for entry in entries if entry.date_source == DateSource.FIRST_SEEN]
    if not undated:
        return None
    reasons: dict[str, int] = {}
    for entry in undated:
        reason = str(entry.source_meta.get("undated", "no date given"))
        reason = reason.split(" (")[0].split(" '")[0]
        reasons[reason] = reasons.get(reason, 0) + 1
    detail = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
    count = len(undated)
    return (
        f"{count} entr{'y' if count == 1 else 'ies'} without a usable date ({detail}): "
        "dated when first seen"
    )
