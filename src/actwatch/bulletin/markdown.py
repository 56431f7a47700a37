"""Markdown for the archive post, read the same way by every program that reads it.

The post is written for static sites: kramdown (Jekyll's Markdown) after Liquid (Jekyll's
templates), and CommonMark (the archive page here, markdown-it). Text from a feed or an editor
must stay text in all three, so it is escaped for each:

- Markdown: `\\` before `* _ [ ] < > | $ # \\`` and before what would start a block at a line's
  start (`-`, `+`, `=`, `:`, `1.`);
- kramdown and Liquid: `{` and `}` become `&#123;` `&#125;`, so no `{:` attribute list, no
  `{::nomarkdown}` extension and no `{{ ... }}` or `{% ... %}` survives (Liquid runs before any
  Markdown, so a backslash would not stop it); `~` and `^` (kramdown's fences and end-of-block
  marker) and `&` (entities) become entities too. Both readers turn entities back into text.

The editor's introduction is Markdown written by a person: it is read once (markdown-it,
CommonMark, raw HTML off) and written out again from its syntax tree, keeping only paragraphs,
headings, lists, quotes, emphasis, code and links to http(s) or mailto addresses. Images are not
kept: an image becomes a link to it, labelled with its description, in the email, on the archive
page and in the post alike (an email client would not load it, a tracking pixel has no place in
the archive, and one rule everywhere means the editor sees what readers get). `introduction()`
is the one function the email, the archive page and the post all render it with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode
from markupsafe import Markup

# What an introduction may contain once it is HTML: prose, links and lists, no more.
INTRO_TAGS = {
    "p", "br", "strong", "b", "em", "i", "a", "ul", "ol", "li", "blockquote", "h3", "h4", "code",
}  # fmt: skip
# The archive page also shows the post's own headings and the tracker table.
ARCHIVE_TAGS = INTRO_TAGS | {"h2", "table", "thead", "tbody", "tr", "th", "td", "hr"}
SAFE_SCHEMES = ("http", "https", "mailto")

_PARSER = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_ARCHIVE_PARSER = MarkdownIt(
    "commonmark", {"html": False, "linkify": False, "typographer": False}
).enable("table")
_BACKSLASHED = re.compile(r"([\\`*_\[\]<>|$#])")
_ENTITIES = {"&": "&amp;", "{": "&#123;", "}": "&#125;", "~": "&#126;", "^": "&#94;"}
_ENTITY = re.compile("[&{}~^]")
_LINE_START = re.compile(r"^([-+=:])|^(\d+)([.)])", re.M)
_URL_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~:/?#@!$&'*+,;=%]|%(?![0-9A-Fa-f]{2})")
_ANCHOR = re.compile(r"\s*\{#([a-z0-9-]+)\}\s*$")
_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)


def escape_text(text: str) -> str:
    """Text (not Markdown) made safe inside a line of the post, for every reader above."""
    escaped = _BACKSLASHED.sub(r"\\\1", text)
    return _ENTITY.sub(lambda m: _ENTITIES[m.group()], escaped)


def escape_line_starts(markdown: str) -> str:
    """What would start a list, a heading underline or a definition at a line's start, escaped."""
    return _LINE_START.sub(
        lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\" + m.group(3), markdown
    )


def md_text(text: str | None) -> str:
    """One line of plain text (a title, a source's name) for the post."""
    return escape_line_starts(escape_text(" ".join((text or "").split())))


def safe_url(url: str | None) -> str:
    """Only web and mail links reach a reader: a `javascript:` or `data:` link becomes nothing."""
    if not url:
        return ""
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    return url if scheme in SAFE_SCHEMES else ""


def md_url(url: str | None) -> str:
    """A link target for the post: a safe URL with everything that could end it, or that Liquid
    or kramdown would read (`{`, `}`, `(`, `)`, spaces, quotes), percent-encoded."""
    return (
        _URL_UNSAFE.sub(lambda m: quote(m.group(), safe=""), safe_url(url))
        .replace("(", "%28")
        .replace(")", "%29")
    )


@dataclass(frozen=True)
class Introduction:
    markdown: str  # for the post: kramdown, Liquid and CommonMark read it alike
    html: Markup  # for the email and the archive page
    text: str  # for the plain-text email


@lru_cache(maxsize=64)
def introduction(source: str) -> Introduction:
    """The editor's introduction, rendered once for every place it appears."""
    tree = SyntaxTreeNode(_PARSER.parse((source or "").strip()))
    blocks = [_block(node) for node in tree.children]
    markdown = "\n\n".join(block for block in blocks if block.strip())
    return Introduction(markdown, render_html(markdown), _plain(tree))


def render_html(markdown: str) -> Markup:
    """Markdown the post carries, as the clean HTML the email and the archive page show."""
    html = _ARCHIVE_PARSER.render(markdown)
    return _clean(html, ARCHIVE_TAGS)


def archive_html(post: str) -> Markup:
    """The whole archive post as HTML: front matter dropped, kramdown's {#id} header anchors
    kept as ids, the tracker as a table."""
    body = _FRONT_MATTER.sub("", post, count=1)
    tokens = _ARCHIVE_PARSER.parse(body)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and index + 1 < len(tokens):
            inline = tokens[index + 1]
            found = _ANCHOR.search(inline.content)
            if found:
                token.attrSet("id", found.group(1))
                inline.content = _ANCHOR.sub("", inline.content)
                if inline.children:
                    last = inline.children[-1]
                    last.content = _ANCHOR.sub("", last.content)
    html = _ARCHIVE_PARSER.renderer.render(tokens, _ARCHIVE_PARSER.options, {})
    return _clean(html, ARCHIVE_TAGS | {"h1", "h2"}, ids=True)


def _clean(html: str, tags: set[str], *, ids: bool = False) -> Markup:
    attributes: dict[str, set[str]] = {"a": {"href", "title"}, "th": {"style"}, "td": {"style"}}
    if ids:
        attributes.update({tag: {"id"} for tag in ("h1", "h2", "h3", "h4")})
    cleaned = nh3.clean(
        html,
        tags=tags,
        attributes=attributes,
        url_schemes=set(SAFE_SCHEMES),
        link_rel="noopener",
        filter_style_properties={"text-align"},
    )
    return Markup(cleaned.strip())  # noqa: S704 - nh3 has just cleaned it


# The introduction's syntax tree, written out again as Markdown every reader agrees on.


def _block(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "paragraph":
        return escape_line_starts(_inline(node.children[0]) if node.children else "")
    if kind == "heading":
        level = 3 if int(node.tag[1]) <= 3 else 4
        text = _inline(node.children[0]) if node.children else ""
        return f"{'#' * level} {text}" if text.strip() else ""
    if kind in ("bullet_list", "ordered_list"):
        start = int(str(node.attrs.get("start", 1))) if kind == "ordered_list" else 1
        items = []
        for number, item in enumerate(node.children, start):
            marker = f"{number}." if kind == "ordered_list" else "-"
            inner = "\n\n".join(b for b in (_block(child) for child in item.children) if b)
            items.append(_indent(inner, marker + " ", " " * (len(marker) + 1)))
        return "\n".join(items)
    if kind == "blockquote":
        inner = "\n\n".join(b for b in (_block(child) for child in node.children) if b)
        return "\n".join(f"> {line}".rstrip() for line in inner.splitlines())
    if kind in ("fence", "code_block"):
        # Shown as text, line by line: a code block has no place in a bulletin's introduction.
        lines = [escape_line_starts(escape_text(line)) for line in node.content.splitlines()]
        return "  \n".join(line for line in lines if line.strip())
    return ""  # thematic breaks, and anything else the subset leaves out


def _indent(text: str, first: str, rest: str) -> str:
    lines = text.splitlines() or [""]
    return "\n".join(
        [first + lines[0], *((rest + line) if line.strip() else "" for line in lines[1:])]
    )


def _inline(node: SyntaxTreeNode) -> str:
    return "".join(_span(child) for child in node.children)


def _span(node: SyntaxTreeNode) -> str:
    kind = node.type
    if kind == "text":
        return escape_text(node.content)
    if kind == "softbreak":
        return "\n"
    if kind == "hardbreak":
        return "  \n"
    if kind in ("em", "strong"):
        inner = _inline(node)
        mark = "*" if kind == "em" else "**"
        if not inner.strip() or inner != inner.strip():
            return inner
        return f"{mark}{inner}{mark}"
    if kind == "code_inline":
        code = node.content
        # Entities mean nothing inside a code span, so code that Liquid or kramdown would read
        # is shown as escaped text instead.
        if not code.strip() or any(ch in code for ch in "`{}\n"):
            return escape_text(code)
        return f"`{code}`"
    if kind == "link":
        label = _inline(node) or escape_text(str(node.attrs.get("href", "")))
        target = md_url(str(node.attrs.get("href", "")))
        return f"[{label}]({target})" if target else label
    if kind == "image":
        label = escape_text(node.content or "image")
        target = md_url(str(node.attrs.get("src", "")))
        return f"[{label}]({target})" if target else label
    return escape_text(node.content)


def _plain(tree: SyntaxTreeNode) -> str:
    """The introduction as plain text: links written out after their words."""
    out: list[str] = []
    for node in tree.children:
        text = _plain_block(node)
        if text.strip():
            out.append(text)
    return "\n\n".join(out)


def _plain_block(node: SyntaxTreeNode, indent: str = "") -> str:
    from actwatch.bulletin.filters import wrap

    kind = node.type
    if kind in ("paragraph", "heading"):
        words = _plain_inline(node.children[0]) if node.children else ""
        return wrap(words, 72, indent)
    if kind in ("bullet_list", "ordered_list"):
        start = int(str(node.attrs.get("start", 1))) if kind == "ordered_list" else 1
        items = []
        for number, item in enumerate(node.children, start):
            marker = f"{number}. " if kind == "ordered_list" else "- "
            parts = []
            for index, child in enumerate(item.children):
                if child.type == "paragraph" and child.children:
                    first = indent + marker if index == 0 else indent + " " * len(marker)
                    parts.append(
                        wrap(
                            _plain_inline(child.children[0]),
                            72,
                            indent + " " * len(marker),
                            first,
                        )
                    )
                else:
                    parts.append(_plain_block(child, indent + " " * len(marker)))
            items.append("\n".join(p for p in parts if p))
        return "\n".join(items)
    if kind == "blockquote":
        inner = "\n\n".join(_plain_block(child, indent + "> ") for child in node.children)
        return inner
    if kind in ("fence", "code_block"):
        return "\n".join(indent + line for line in node.content.splitlines() if line.strip())
    return ""


def _plain_inline(node: SyntaxTreeNode) -> str:
    parts = []
    for child in node.children:
        kind = child.type
        if kind in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif kind in ("em", "strong"):
            parts.append(_plain_inline(child))
        elif kind == "link":
            label = _plain_inline(child)
            href = safe_url(str(child.attrs.get("href", "")))
            if href.startswith("mailto:"):
                href = href.removeprefix("mailto:")
            parts.append(f"{label} ({href})" if href and href != label else label)
        elif kind == "image":
            src = safe_url(str(child.attrs.get("src", "")))
            label = child.content or "image"
            parts.append(f"{label} ({src})" if src else label)
        else:
            parts.append(child.content)
    return "".join(parts)
