"""Turn what a feed says about an entry into the plain, comparable values actwatch stores.

Everything here is pure and cheap: it runs in the parse workers once per entry, so a pass over
thousands of entries spends its time in feedparser, not here.
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any
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
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
# MathML and SVG elements whose text a reader sees; nh3 would drop them with their words.
MATHML_TAGS = frozenset(
    {
        "math",
        "mi",
        "mn",
        "mo",
        "ms",
        "mtext",
        "mspace",
        "mrow",
        "mfrac",
        "msqrt",
        "mroot",
        "mstyle",
        "merror",
        "mpadded",
        "mphantom",
        "mfenced",
        "menclose",
        "msub",
        "msup",
        "msubsup",
        "munder",
        "mover",
        "munderover",
        "mmultiscripts",
        "mprescripts",
        "none",
        "mtable",
        "mtr",
        "mlabeledtr",
        "mtd",
        "semantics",
    }
)
SVG_TEXT_TAGS = frozenset({"svg", "g", "text", "tspan", "textpath"})
FOREIGN_TEXT_TAGS = MATHML_TAGS | SVG_TEXT_TAGS
# Alternative encodings of a formula (TeX, content MathML) would repeat it; styles and scripts
# are not text at all.
_NO_TEXT = {"script", "style", "annotation", "annotation-xml"}
_FOREIGN_START = re.compile(r"<(?:[a-z]+:)?(?:math|svg)\b", re.IGNORECASE)
_FOREIGN_TAG = re.compile(
    r"</?(" + "|".join(sorted(FOREIGN_TEXT_TAGS, key=len, reverse=True)) + r")\b[^>]*>",
    re.IGNORECASE,
)
_HAS_MARKUP = re.compile(r"[<&]")

SUMMARY_MAX_CHARS = 4000
TITLE_MAX_CHARS = 1000


# One line of plain text: no controls (they could end up in a mail header), no line breaks,
# single spaces. The same function, not a wrapper: it runs several times per entry.
clean_line = one_line


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment as one clean line: markup dropped, entities decoded,
    scripts and styles dropped, the words of MathML and SVG kept."""
    if not fragment:
        return ""
    if _HAS_MARKUP.search(fragment):
        fragment = html.unescape(clean_html(_BLOCK_TAG.sub(" <", fragment), tags=set()))
    return clean_line(fragment)


def text_of(value: str, content_type: str | None) -> str:
    """A title or summary as text, following its declared type: text stays exactly as written
    (feedparser has already decoded its entities), HTML and XHTML become their visible text."""
    if not value:
        return ""
    if is_html_type(content_type):
        return html_to_text(value)
    return clean_line(value)


def is_html_type(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in _HTML_TYPES


def clean_html(fragment: str, *, tags: set[str], **options: Any) -> str:
    """`nh3.clean` that keeps the words inside MathML and SVG while dropping their markup
    (nh3 would drop those elements whole, words and all)."""
    if not _FOREIGN_START.search(fragment):
        return nh3.clean(fragment, tags=tags, **options)
    cleaned = nh3.clean(
        fragment, tags=tags | FOREIGN_TEXT_TAGS, clean_content_tags=_NO_TEXT, **options
    )
    return _strip_foreign_tags(cleaned)


def _strip_foreign_tags(cleaned: str) -> str:
    # Safe on nh3's output: its text is escaped, so removing whole tags cannot form new markup.
    return _FOREIGN_TAG.sub(" ", cleaned)


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
    if link.startswith(("https://www.gov.uk/", "https://gov.uk/")):
        return True  # a canonical link: the common case, without parsing it
    if "gov.uk" not in link[:40].lower():
        return False
    host = urlsplit(link).hostname or ""
    return host == "www.gov.uk" or host == "gov.uk"


def content_hash(title: str, summary: str, content_html: str | None) -> str:
    """What decides that an entry changed: its words, not its link, dates or markup whitespace.

    The link stays out so that an entry whose link and id both moved is still recognised.
    """
    digest = hashlib.sha256()
    for part in (title, summary, _SPACE.sub(" ", content_html or "")):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()
