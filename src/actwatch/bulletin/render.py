"""Render a composed bulletin: HTML email (Jinja2 -> MJML -> HTML), plain text, Markdown post.

Delivery renders once per distinct copy: `strands` makes the copy of a reader who chose those
strands (`bulletin.copies`: every item on them, wherever the editor placed it, with the
headline, introduction, subject and counts that fit), and `links` carries the reader's own
unsubscribe and preferences addresses, so the templates never hold placeholders to fill in
later.

The email (HTML and text) shows at most `bulletin.section_cap` entries per section and counts
the rest, linked to the web archive; the archive post (Markdown) shows everything. The cap is
applied here, at render time and after a reader's copy is made, so one composed bulletin
serves all three and every reader.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment
from mjml import mjml2html

from actwatch.bulletin.copies import for_strands, reader_copy, strands_with_news, subject_of
from actwatch.bulletin.model import STATUS_LABELS, Bulletin, CommencementList, Section
from actwatch.bulletin.templates import environment
from actwatch.config import Config
from actwatch.core.words import count

# Gmail clips a message over ~102 KB; the bulletin must stay well under.
HTML_BUDGET = 100_000
_MJML_TAG = re.compile(r"</?mj-", re.IGNORECASE)


class RenderError(Exception):
    """A template produced something that cannot be sent (bad MJML, over the size budget)."""


@dataclass(frozen=True)
class Links:
    """Addresses the bulletin links to: the season's archive page and the reader's own links."""

    archive: str
    unsubscribe: str
    preferences: str
    home: str

    def full_list(self, slug: str) -> str:
        return f"{self.archive}#{slug}"


def preview_links(config: Config, season: str) -> Links:
    """The links of a draft preview, built from `web.base_url`."""
    base = str(config.web.base_url).rstrip("/")
    return Links(
        archive=f"{base}/archive/{season}",
        unsubscribe=f"{base}/unsubscribe",
        preferences=f"{base}/preferences",
        home=f"{base}/",
    )


def copy_for(bulletin: Bulletin, strands: Collection[str] | None) -> Bulletin:
    """The copy of a reader who chose `strands` (slugs; None: every strand): their news, and
    the headline, subject and introduction that fit it (`bulletin.copies`)."""
    return reader_copy(for_strands(bulletin, strands), strands)


def subject(bulletin: Bulletin, strands: Collection[str] | None = None) -> str:
    """The subject line of the email, for a reader who chose `strands` (None: every strand)."""
    return subject_of(copy_for(bulletin, strands))


@dataclass(frozen=True)
class _Copy:
    """A reader's copy, whole (before the email's cap), and its at-a-glance line."""

    bulletin: Bulletin
    at_a_glance: str
    filtered: bool


def _copy(bulletin: Bulletin, strands: Collection[str] | None) -> _Copy:
    copy = copy_for(bulletin, strands)
    filtered = copy is not bulletin and strands is not None
    glance = at_a_glance(copy, strands if filtered else None, whole=bulletin)
    return _Copy(copy, glance, filtered)


def copy_identity(bulletin: Bulletin, strands: Collection[str] | None) -> str:
    """A digest of what the copy of a reader who chose `strands` says: readers whose copies
    are the same (the same items, words and counts, whatever they chose) get the same digest,
    so delivery renders each distinct copy once."""
    copy = _copy(bulletin, strands)
    shown = repr((copy.filtered, copy.at_a_glance, copy.bulletin))
    return hashlib.sha256(shown.encode("utf-8", "surrogatepass")).hexdigest()


def _context(copy: _Copy, links: Links, shown: Bulletin | None = None) -> dict[str, Any]:
    return {
        "bulletin": shown or copy.bulletin,
        "links": links,
        "status_labels": STATUS_LABELS,
        "at_a_glance": copy.at_a_glance,
        "filtered": copy.filtered,
    }


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def at_a_glance(
    bulletin: Bulletin, strands: Collection[str] | None = None, *, whole: Bulletin | None = None
) -> str:
    """'This season: 12 announcements, 1 commencement, 2 pilots, news on 6 strands. Of the 9
    strands, 2 are in force and 1 partly in force.'

    For a reader's copy (`strands` they chose; `whole`: the bulletin it came from) the counts
    are the copy's ('On your strands this season: 3 announcements, news on 2 strands.'), and a
    copy with nothing on their strands says so in one line."""
    if whole is not None and strands is not None and bulletin.is_empty and not whole.is_empty:
        return (
            "Nothing on your strands this season. The whole bulletin "
            f"({count(whole.item_count, 'announcement')}) is on the web archive."
        )
    if bulletin.is_empty:
        return "No announcements about the Act this season."
    parts = [count(bulletin.item_count, "announcement")]
    if bulletin.commenced.total:
        parts.append(count(bulletin.commenced.total, "commencement"))
    if bulletin.pilots.total:
        parts.append(count(bulletin.pilots.total, "pilot"))
    if strands is not None:
        with_news = len(strands_with_news(bulletin, strands))
        if with_news:
            parts.append(f"news on {count(with_news, 'strand')}")
        sentence = f"On your strands this season: {', '.join(parts)}."
    else:
        if bulletin.strand_sections:
            parts.append(f"news on {count(len(bulletin.strand_sections), 'strand')}")
        sentence = f"This season: {', '.join(parts)}."
    counts = Counter(row.status for row in bulletin.tracker)
    progress = [
        (counts[status], STATUS_LABELS[status].lower())
        for status in ("in-force", "partly-in-force", "piloting")
        if counts[status]
    ]
    if progress:
        first, *rest = progress
        verb = "is" if first[0] == 1 else "are"
        phrases = [f"{first[0]} {verb} {first[1]}", *(f"{n} {label}" for n, label in rest)]
        sentence += f" Of the {count(len(bulletin.tracker), 'strand')}, {_join(phrases)}."
    return sentence


def _environment(config: Config | None, env: Environment | None) -> Environment:
    return env if env is not None else environment(config)


def render_mjml(
    bulletin: Bulletin,
    links: Links,
    *,
    strands: Collection[str] | None = None,
    config: Config | None = None,
    env: Environment | None = None,
) -> str:
    return _render_mjml(_copy(bulletin, strands), links, None, config, env)


def _render_mjml(
    copy: _Copy,
    links: Links,
    shown: Bulletin | None,
    config: Config | None,
    env: Environment | None,
) -> str:
    template = _environment(config, env).get_template("bulletin.mjml")
    return template.render(_context(copy, links, shown))


def section_cap(config: Config | None, cap: int | None = None) -> int | None:
    """Entries the email shows per section: `cap` if given, else the config's, else all."""
    if cap is not None:
        return cap
    return config.bulletin.section_cap if config is not None else None


def email_view(bulletin: Bulletin, cap: int | None) -> Bulletin:
    """The bulletin as the email shows it: at most `cap` entries per list (None: all)."""
    return bulletin if cap is None else _capped(bulletin, cap)


def render_html(
    bulletin: Bulletin,
    links: Links,
    *,
    strands: Collection[str] | None = None,
    config: Config | None = None,
    env: Environment | None = None,
    cap: int | None = None,
) -> str:
    """The HTML email, under HTML_BUDGET bytes, at most `cap` (default: the config's
    `bulletin.section_cap`) entries per section.

    A season too big for the budget shows fewer items per section (the rest are counted and
    linked on the web archive) rather than being clipped by the reader's mail client. Raises
    RenderError when the template's MJML is invalid, or when even one item per section is too
    much (an introduction far too long).
    """
    copy = _copy(bulletin, strands)
    bulletin = email_view(copy.bulletin, section_cap(config, cap))
    lengths = [len(s.entries) for s in _sections(bulletin)]
    lengths += [len(bulletin.commenced.entries), len(bulletin.coming_up.entries)]
    longest = max(lengths)
    size = 0
    for cap in range(max(longest, 1), 0, -1):
        html = _mjml_to_html(_render_mjml(copy, links, _capped(bulletin, cap), config, env))
        size = len(html.encode("utf-8"))
        if size <= HTML_BUDGET:
            return html
    raise RenderError(
        f"the HTML is {size:,} bytes, over the {HTML_BUDGET:,} byte budget even with one item "
        "per section: shorten the introduction"
    )


def _mjml_to_html(source: str) -> str:
    try:
        html = mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise RenderError(f"bulletin.mjml does not give valid MJML: {exc}") from None
    if _MJML_TAG.search(html):
        raise RenderError("bulletin.mjml left an unknown mj- tag in the HTML")
    return html


def _sections(bulletin: Bulletin) -> list[Section]:
    return [bulletin.pilots, *bulletin.strand_sections, bulletin.other]


def _capped(bulletin: Bulletin, cap: int) -> Bulletin:
    """The bulletin with at most `cap` entries in each list (totals unchanged)."""

    def section(s: Section) -> Section:
        return dataclasses.replace(s, entries=s.entries[:cap])

    def dated(c: CommencementList) -> CommencementList:
        return dataclasses.replace(c, entries=c.entries[:cap])

    return dataclasses.replace(
        bulletin,
        pilots=section(bulletin.pilots),
        strand_sections=tuple(section(s) for s in bulletin.strand_sections),
        other=section(bulletin.other),
        commenced=dated(bulletin.commenced),
        coming_up=dated(bulletin.coming_up),
    )


def render_text(
    bulletin: Bulletin,
    links: Links,
    *,
    strands: Collection[str] | None = None,
    config: Config | None = None,
    env: Environment | None = None,
    cap: int | None = None,
) -> str:
    """The plain-text part of the email, capped like the HTML."""
    copy = _copy(bulletin, strands)
    shown = email_view(copy.bulletin, section_cap(config, cap))
    return _render_plain("bulletin.txt", copy, shown, links, config, env)


def render_markdown(
    bulletin: Bulletin,
    links: Links,
    *,
    strands: Collection[str] | None = None,
    config: Config | None = None,
    env: Environment | None = None,
) -> str:
    """The archive post: YAML front matter (title, date, categories) and a Markdown body, with
    every entry of every section."""
    copy = _copy(bulletin, strands)
    return _render_plain("bulletin.md", copy, copy.bulletin, links, config, env)


def _render_plain(
    template_name: str,
    copy: _Copy,
    shown: Bulletin,
    links: Links,
    config: Config | None,
    env: Environment | None,
) -> str:
    template = _environment(config, env).get_template(template_name)
    text = template.render(_context(copy, links, shown))
    # Templates are easier to read with spare blank lines; the mail should not have them.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
