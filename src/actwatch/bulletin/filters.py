"""Jinja2 filters the bulletin templates use: dates, safe links, Markdown, wrapped text."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable
from datetime import date
from urllib.parse import urlsplit

import nh3
from jinja2 import Environment
from markdown_it import MarkdownIt
from markupsafe import Markup

# What an editor's introduction may contain once it is HTML: prose, links and lists, no more.
INTRO_TAGS = {
    "p", "br", "strong", "b", "em", "i", "a", "ul", "ol", "li", "blockquote", "h3", "h4", "code",
}  # fmt: skip
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
# Inline Markdown specials; '(' and '#' only matter after ']' or at a line start.
_RAW_HTML = re.compile(r"<(?!(?:https?|mailto):[^\s<>]*>)")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def long_date(day: date | None) -> str:
    """31 October 2017."""
    return f"{day.day} {day:%B %Y}" if day else ""


def short_date(day: date | None) -> str:
    """31 Oct 2017."""
    return f"{day.day} {day:%b %Y}" if day else ""


def safe_url(url: str | None) -> str:
    """Only web and mail links reach a reader: a `javascript:` link from a feed becomes nothing."""
    if not url:
        return ""
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    return url if scheme in ("http", "https", "mailto") else ""


def markdown_html(text: str) -> Markup:
    """The editor's Markdown as clean HTML (raw HTML in it is shown as text, never run)."""
    html = _MARKDOWN.render(text or "")
    cleaned = nh3.clean(
        html,
        tags=INTRO_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener",
    )
    return Markup(cleaned.strip())  # noqa: S704 - nh3 has just cleaned it


def clean_html(fragment: str) -> Markup:
    """Any other HTML fragment, cleaned to the same small set of tags."""
    return Markup(nh3.clean(fragment or "", tags=INTRO_TAGS, link_rel="noopener"))  # noqa: S704


def md_text(text: str | None) -> str:
    """Plain text made safe inside Markdown: no accidental emphasis, links or raw HTML."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join((text or "").split()))


def md_intro(text: str | None) -> str:
    """The editor's Markdown for the archive post, with any raw HTML shown as text."""
    return _RAW_HTML.sub("&lt;", (text or "").strip())


def md_url(url: str | None) -> str:
    return safe_url(url).replace("(", "%28").replace(")", "%29").replace(" ", "%20")


def yaml_string(text: str | None) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(" ".join((text or "").split()), ensure_ascii=False)


def wrap(text: str | None, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """Fill one paragraph for a plain-text mail client; URLs are never broken."""
    first = indent if first is None else first
    return textwrap.fill(
        " ".join((text or "").split()),
        width=width,
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def wrap_markdown(text: str | None, width: int = 72) -> str:
    """The editor's Markdown, each paragraph and list item filled to `width`."""
    blocks = re.split(r"\n\s*\n", (text or "").strip())
    filled = []
    for block in blocks:
        lines = block.splitlines()
        if all(re.match(r"\s*([-*+]|\d+[.)])\s", line) for line in lines if line.strip()):
            items = []
            for line in lines:
                marker, _, rest = line.strip().partition(" ")
                items.append(wrap(rest, width, " " * (len(marker) + 1), f"{marker} "))
            filled.append("\n".join(items))
        else:
            filled.append(wrap(block, width))
    return "\n\n".join(block for block in filled if block)


def upper_first(text: str) -> str:
    """'section 36, Schedule 3' -> 'Section 36, Schedule 3' (unlike capitalize)."""
    return text[:1].upper() + text[1:]


def underline(text: str, char: str = "-") -> str:
    return char * min(len(text), 72)


def join_names(names: Iterable[str]) -> str:
    listed = [str(name) for name in names]
    if len(listed) <= 1:
        return "".join(listed)
    return ", ".join(listed[:-1]) + " and " + listed[-1]


def plural(count: int, singular: str, many: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (many or singular + 's')}"


def install(environment: Environment) -> None:
    environment.filters.update(
        long_date=long_date,
        short_date=short_date,
        safe_url=safe_url,
        markdown_html=markdown_html,
        clean_html=clean_html,
        md_text=md_text,
        md_url=md_url,
        md_intro=md_intro,
        yaml_string=yaml_string,
        wrap=wrap,
        wrap_markdown=wrap_markdown,
        underline=underline,
        upper_first=upper_first,
        join_names=join_names,
        plural=plural,
    )
