"""Turn what a feed says about an entry into the plain, comparable values actwatch stores.

Everything here is pure and cheap: it runs in the parse workers once per entry, so a pass over
thousands of entries spends its time in feedparser, not here.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import re
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import nh3

from actwatch.core.text import one_line

# GOV.UK prefixes every feed title with the page's display type ("Press release: ...").
# Only these known types are split off, so a title like "Social work: a new regulator" stays whole.
GOVUK_DISPLAY_TYPES = {
    name.lower(): name
    for name in (
        "Accredited official statistics",
        "Announcement",
        "Authored article",
        "Call for evidence",
        "Call for evidence outcome",
        "Case study",
        "Closed call for evidence",
        "Closed consultation",
        "Collection",
        "Consultation",
        "Consultation outcome",
        "Corporate report",
        "Correspondence",
        "Decision",
        "Detailed guide",
        "FOI release",
        "Form",
        "Government response",
        "Guidance",
        "Guide",
        "Impact assessment",
        "Independent report",
        "International treaty",
        "Manual",
        "Map",
        "National statistics",
        "National statistics announcement",
        "News story",
        "Notice",
        "Official statistics",
        "Official statistics announcement",
        "Open call for evidence",
        "Open consultation",
        "Oral statement to Parliament",
        "Policy paper",
        "Press release",
        "Promotional material",
        "Regulation",
        "Research and analysis",
        "Service standard report",
        "Speech",
        "Statement to Parliament",
        "Statistical data set",
        "Statistics",
        "Statutory guidance",
        "Transparency data",
        "World news story",
        "Written statement to Parliament",
    )
}
_TITLE_PREFIX = re.compile(r"^\s*([A-Za-z][A-Za-z ]{1,45}?)\s*:\s+(\S.*)$", re.DOTALL)

# A space before block-level tags keeps words apart once the tags are gone.
_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|table|blockquote|section|article|pre|hr|dd|dt)\b)",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")
_HAS_MARKUP = re.compile(r"[<&]")

SUMMARY_MAX_CHARS = 4000
TITLE_MAX_CHARS = 1000
# Dates this far ahead of now come from a wrong clock or a typo; trusting them would put the
# entry into a season that has not begun.
FUTURE_TOLERANCE_SECONDS = 86400


def clean_line(text: str) -> str:
    """One line of plain text: no controls (they could end up in a mail header), no line breaks,
    single spaces."""
    return one_line(text)


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment (scripts and styles dropped), as one clean line."""
    if not fragment:
        return ""
    if _HAS_MARKUP.search(fragment):
        fragment = html.unescape(nh3.clean(_BLOCK_TAG.sub(" <", fragment), tags=set()))
    return clean_line(fragment)


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


def split_display_type(title: str, link: str | None) -> tuple[str, str | None]:
    """Split GOV.UK's display type off a title.

    ("Press release: New regulator", a gov.uk link) -> ("New regulator", "Press release")
    """
    if not link or not _is_govuk(link):
        return title, None
    match = _TITLE_PREFIX.match(title)
    if not match:
        return title, None
    display_type = GOVUK_DISPLAY_TYPES.get(match[1].strip().lower())
    if display_type is None:
        return title, None
    return match[2].strip(), display_type


def _is_govuk(link: str) -> bool:
    host = urlsplit(link).hostname or ""
    return host == "www.gov.uk" or host == "gov.uk"


def struct_to_datetime(value: time.struct_time | None, now: datetime) -> datetime | None:
    """feedparser's UTC struct_time as an aware datetime; None if absent or absurd."""
    if value is None:
        return None
    try:
        stamp = calendar.timegm(value)
        moment = datetime.fromtimestamp(stamp, UTC)
    except (OverflowError, ValueError, OSError):
        return None
    if moment.year < 1990 or stamp > now.timestamp() + FUTURE_TOLERANCE_SECONDS:
        return None
    return moment


def content_hash(title: str, summary: str, content_html: str | None) -> str:
    """What decides that an entry changed: its words, not its link, dates or markup whitespace.

    The link stays out so that an entry whose link and id both moved is still recognised.
    """
    digest = hashlib.sha256()
    for part in (title, summary, _SPACE.sub(" ", content_html or "")):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()
