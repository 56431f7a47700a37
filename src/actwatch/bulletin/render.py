"""Render a composed bulletin: HTML email (Jinja2 -> MJML -> HTML), plain text, Markdown post.

Delivery renders once per distinct choice of strands: `strands` keeps only those strand
sections, and `links` carries the reader's own unsubscribe and preferences addresses, so the
templates never hold placeholders to fill in later.

The email (HTML and text) shows at most `bulletin.section_cap` entries per section and counts
the rest, linked to the web archive; the archive post (Markdown) shows everything. The cap is
applied here, at render time, so one composed bulletin serves all three.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment
from mjml import mjml2html

from actwatch.bulletin.model import STATUS_LABELS, Bulletin, CommencementList, Section
from actwatch.bulletin.templates import environment
from actwatch.config import Config

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


def _only_strands(bulletin: Bulletin, strands: Collection[str] | None) -> Bulletin:
    if strands is None:
        return bulletin
    chosen = set(strands)
    kept = tuple(s for s in bulletin.strand_sections if s.slug in chosen)
    return dataclasses.replace(bulletin, strand_sections=kept)


def _context(bulletin: Bulletin, links: Links, strands: Collection[str] | None) -> dict[str, Any]:
    bulletin = _only_strands(bulletin, strands)
    return {
        "bulletin": bulletin,
        "links": links,
        "status_labels": STATUS_LABELS,
        "at_a_glance": at_a_glance(bulletin),
        "filtered": strands is not None,
    }


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def at_a_glance(bulletin: Bulletin) -> str:
    """'This season: 12 announcements, 1 commencement, 2 pilots, news on 6 strands. Of the 9
    strands, 2 are in force and 1 partly in force.'"""
    if bulletin.is_empty:
        return "No announcements about the Act this season."
    parts = [_count(bulletin.item_count, "announcement")]
    if bulletin.commenced.total:
        parts.append(_count(bulletin.commenced.total, "commencement"))
    if bulletin.pilots.total:
        parts.append(_count(bulletin.pilots.total, "pilot"))
    if bulletin.strand_sections:
        parts.append(f"news on {_count(len(bulletin.strand_sections), 'strand')}")
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
        sentence += f" Of the {_count(len(bulletin.tracker), 'strand')}, {_join(phrases)}."
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
    template = _environment(config, env).get_template("bulletin.mjml")
    return template.render(_context(bulletin, links, strands))


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
    bulletin = email_view(bulletin, section_cap(config, cap))
    lengths = [len(s.entries) for s in _sections(bulletin)]
    lengths += [len(bulletin.commenced.entries), len(bulletin.coming_up.entries)]
    longest = max(lengths)
    size = 0
    for cap in range(max(longest, 1), 0, -1):
        html = _mjml_to_html(
            render_mjml(_capped(bulletin, cap), links, strands=strands, config=config, env=env)
        )
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
    bulletin = email_view(bulletin, section_cap(config, cap))
    return _render_plain("bulletin.txt", bulletin, links, strands, config, env)


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
    return _render_plain("bulletin.md", bulletin, links, strands, config, env)


def _render_plain(
    template_name: str,
    bulletin: Bulletin,
    links: Links,
    strands: Collection[str] | None,
    config: Config | None,
    env: Environment | None,
) -> str:
    template = _environment(config, env).get_template(template_name)
    text = template.render(_context(bulletin, links, strands))
    # Templates are easier to read with spare blank lines; the mail should not have them.
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
