"""Jinja2 filters the bulletin templates use: dates, safe links, Markdown, wrapped text."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable
from datetime import date

from jinja2 import Environment
from markupsafe import Markup

from actwatch.bulletin.markdown import introduction, md_text, md_url, safe_url
from actwatch.core.words import count

__all__ = ["markdown_html", "md_text", "md_url", "safe_url"]


def long_date(day: date | None) -> str:
    """31 October 2017."""
    return f"{day.day} {day:%B %Y}" if day else ""


def short_date(day: date | None) -> str:
    """31 Oct 2017."""
    return f"{day.day} {day:%b %Y}" if day else ""


def intro_html(text: str | None) -> Markup:
    """The editor's introduction as the email and the archive page show it."""
    return introduction(text or "").html


markdown_html = intro_html  # the name the web editor's preview imports


def intro_markdown(text: str | None) -> str:
    """The editor's introduction as the archive post carries it."""
    return introduction(text or "").markdown


def intro_text(text: str | None) -> str:
    """The editor's introduction in the plain-text email."""
    return introduction(text or "").text


def yaml_string(text: str | None) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML), with `{` and `}` written as
    escapes so that not even a site running Liquid over its front matter finds a tag."""
    quoted = json.dumps(" ".join((text or "").split()), ensure_ascii=False)
    return quoted.replace("{", "\\u007b").replace("}", "\\u007d")


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


def install(environment: Environment) -> None:
    environment.filters.update(
        long_date=long_date,
        short_date=short_date,
        safe_url=safe_url,
        intro_html=intro_html,
        intro_markdown=intro_markdown,
        intro_text=intro_text,
        # The names templates written before the introduction had one renderer used.
        markdown_html=intro_html,
        md_intro=intro_markdown,
        md_text=md_text,
        md_url=md_url,
        yaml_string=yaml_string,
        wrap=wrap,
        wrap_markdown=wrap_markdown,
        underline=underline,
        upper_first=upper_first,
        join_names=join_names,
        plural=count,
    )
