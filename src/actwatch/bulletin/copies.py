"""A reader's own copy: their news, and the words around it, fitted to the strands they chose.

`for_strands` keeps a reader's news: every item tagged with any strand they chose, wherever
the editor placed it (an item on care leavers and schools filed under schools reaches a
care-leavers reader, under the schools heading the editor gave it), and no other item. A
commencement row is theirs when its provisions or its instrument are on a chosen strand (the
instrument counts as on the row's strands), or when news reporting it is; news on no strand
("Other news about the Act") goes to readers of every strand only. The copy's counts (its
`item_count`, each section's `total`) describe the copy.

`reader_copy` makes the rest of the copy agree with what it shows:

- The headline (the banner's title and the subject) stays when it names no strand, or names a
  strand the reader chose. A headline that names only strands the reader did not choose is left
  off their copy: the banner shows the season's title, and the subject leads with the copy's
  first news item on a chosen strand instead (in the email's order: pilots, the strand
  sections, other news), or is the season's title when the copy has no news item.
- The introduction keeps every paragraph, heading, quote and list item that names no strand or
  names a chosen one. One that names only strands the reader did not choose is left out, and
  with it a lead-in paragraph ending in ':' whose list is now empty and a heading left with
  nothing under it. An ordered list keeps its first number.

What a text names: a strand's name, cues and programmes, the matcher's own vocabulary for it
(`Bulletin.strand_terms`, kept with the approved copy so every reader's copy comes from what was
approved). A copy of every strand is the bulletin itself, unchanged.

`render.copy_identity` says which readers get the same copy, so delivery renders each distinct
copy once.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from actwatch.bulletin.model import Bulletin, Commencement, CommencementList, Entry, Section
from actwatch.bulletin.seasons import upper_first
from actwatch.matching.cues import cue_pattern

# A subject longer than this is cut at a word: mail clients show about 60-80 characters.
SUBJECT_HEADLINE_CHARS = 90
_PARSER = MarkdownIt("commonmark", {"html": False})
_ORDERED_MARKER = re.compile(r"^(\s*)\d+([.)])")


@lru_cache(maxsize=64)
def _pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    parts = []
    for term in terms:
        try:
            parts.append(cue_pattern(term))
        except ValueError:
            continue  # a term with no words names nothing
    return re.compile("|".join(parts)) if parts else None


def strands_named(text: str, terms: Mapping[str, Iterable[str]]) -> set[str]:
    """The strands (slugs) whose name, cues or programmes appear in `text`."""
    named = set()
    for slug, words in terms.items():
        pattern = _pattern(tuple(words))
        if pattern is not None and pattern.search(text):
            named.add(slug)
    return named


def _off_topic(text: str, terms: Mapping[str, Iterable[str]], chosen: set[str]) -> bool:
    """Whether `text` is only about strands the reader did not choose."""
    named = strands_named(text, terms)
    return bool(named) and not named & chosen


@dataclass
class _Block:
    kind: str  # the opening token's type: paragraph_open, bullet_list_open, heading_open, ...
    lines: list[str]  # the editor's own lines, as written
    text: str  # what it says, for finding strand names
    level: int = 0  # a heading's level
    dropped: bool = False  # a list some of whose items were left out
    emptied: bool = False  # ... all of them


def _inline_text(tokens: list[Token], start: int, end: int) -> str:
    return " ".join(token.content for token in tokens[start:end] if token.type == "inline")


def _close(tokens: list[Token], start: int) -> int:
    """The index just after the block that opens at `start`."""
    token = tokens[start]
    if token.nesting != 1:
        return start + 1
    depth = 0
    for index in range(start, len(tokens)):
        depth += tokens[index].nesting
        if depth == 0:
            return index + 1
    return len(tokens)


def _list_block(
    tokens: list[Token],
    start: int,
    end: int,
    source: list[str],
    terms: Mapping[str, Iterable[str]],
    chosen: set[str],
) -> _Block:
    """A list with the items about other strands left out (an ordered list keeps its start)."""
    opening = tokens[start]
    kept: list[str] = []
    index = start + 1
    had_items = dropped = False
    while index < end - 1:
        item_end = _close(tokens, index)
        item = tokens[index]
        if item.type == "list_item_open" and item.map:
            had_items = True
            lines = source[item.map[0] : item.map[1]]
            while lines and not lines[-1].strip():
                lines = lines[:-1]
            if _off_topic(_inline_text(tokens, index, item_end), terms, chosen):
                dropped = True
            else:
                kept.extend(lines)
        index = item_end
    if opening.type == "ordered_list_open" and kept:
        first = int(str(opening.attrs.get("start", 1)))
        kept[0] = _ORDERED_MARKER.sub(lambda m: f"{m[1]}{first}{m[2]}", kept[0], count=1)
    return _Block(opening.type, kept, "", dropped=dropped, emptied=had_items and not kept)


def _blocks(source: str, terms: Mapping[str, Iterable[str]], chosen: set[str]) -> list[_Block]:
    lines = source.splitlines()
    tokens = _PARSER.parse(source)
    blocks: list[_Block] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        end = _close(tokens, index)
        if token.map is not None:
            if token.type in ("bullet_list_open", "ordered_list_open"):
                blocks.append(_list_block(tokens, index, end, lines, terms, chosen))
            else:
                text = (_inline_text(tokens, index, end) or token.content).strip()
                level = int(token.tag[1]) if token.type == "heading_open" else 0
                blocks.append(
                    _Block(token.type, lines[token.map[0] : token.map[1]], text, level=level)
                )
        index = end
    return blocks


def intro_for(intro_md: str, chosen: Collection[str], terms: Mapping[str, Iterable[str]]) -> str:
    """The introduction as a reader of the strands `chosen` (slugs) gets it."""
    if not intro_md.strip() or not terms:
        return intro_md
    wanted = set(chosen)
    blocks = _blocks(intro_md, terms, wanted)
    kept: list[_Block] = []
    changed = False
    for block in blocks:
        if block.kind in ("bullet_list_open", "ordered_list_open"):
            if block.emptied:
                changed = True
                # "This season in brief:" with nothing after it goes too.
                if kept and kept[-1].kind == "paragraph_open" and kept[-1].text.endswith(":"):
                    kept.pop()
                continue
            changed = changed or block.dropped
        elif _off_topic(block.text, terms, wanted):
            changed = True
            continue
        kept.append(block)
    # A heading with nothing left under it goes too.
    result: list[_Block] = []
    for position, block in enumerate(kept):
        if block.kind == "heading_open":
            following = kept[position + 1] if position + 1 < len(kept) else None
            if following is None or (
                following.kind == "heading_open" and following.level <= block.level
            ):
                changed = True
                continue
        result.append(block)
    text = "\n\n".join("\n".join(block.lines).strip("\n") for block in result if block.lines)
    if not changed and text.split() == intro_md.split():
        return intro_md
    return text


def _lead_title(bulletin: Bulletin, chosen: set[str]) -> str:
    """The title of the copy's first news item on a chosen strand (else its first news item),
    in the email's order."""
    entries = [
        entry
        for section in (bulletin.pilots, *bulletin.strand_sections, bulletin.other)
        for entry in section.entries
    ]
    for entry in entries:
        if strand_slugs(entry.strands, bulletin.strand_names) & chosen:
            return entry.title
    return entries[0].title if entries else ""


def _shortened(text: str, limit: int = SUBJECT_HEADLINE_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:-–— ")
    return f"{cut}…"


def reader_copy(bulletin: Bulletin, chosen: Collection[str] | None) -> Bulletin:
    """`bulletin` (already holding only the news of the strands `chosen`) with the headline,
    title, subject and introduction that copy should have. None: every strand, unchanged."""
    if chosen is None:
        return bulletin
    wanted = set(chosen)
    if wanted >= set(bulletin.strand_names):
        return bulletin
    terms = bulletin.strand_terms
    copy = dataclasses.replace(bulletin, intro_md=intro_for(bulletin.intro_md, wanted, terms))
    if not bulletin.headline or not _off_topic(bulletin.headline, terms, wanted):
        return copy
    season_title = bulletin.season_title or bulletin.title
    lead = _lead_title(copy, wanted)
    subject = season_title
    if lead and "{headline}" in bulletin.subject_frame:
        subject = bulletin.subject_frame.replace("{headline}", upper_first(_shortened(lead)))
    return dataclasses.replace(copy, headline="", title=season_title, subject=subject)


def strands_in_words(bulletin: Bulletin) -> set[str]:
    """The strands (slugs) the headline and introduction name: a reader's copy can differ by
    them, so copies are told apart by these as well as by the strands of their news."""
    text = "\n\n".join(part for part in (bulletin.headline, bulletin.intro_md) if part)
    return strands_named(text, bulletin.strand_terms) if text.strip() else set()


def subject_of(bulletin: Bulletin) -> str:
    """The email's subject (a bulletin composed before subjects had their own pattern: its
    title)."""
    return bulletin.subject or bulletin.title


def strand_slugs(labels: Iterable[str], names: Mapping[str, str]) -> set[str]:
    """The strands (slugs) that labels as the bulletin shows them name: a strand's name
    ('Care leavers'), a name with the provisions it has ('Corporate parenting (section 1)'),
    or a slug the config no longer names. `names`: slug -> name (`Bulletin.strand_names`)."""
    by_name = {name: slug for slug, name in names.items()}
    found = set()
    for label in labels:
        slug = by_name.get(label)
        if slug is None:
            slug = next((s for n, s in by_name.items() if label.startswith(f"{n} (")), None)
        if slug is None and label in names:
            slug = label
        if slug is not None:
            found.add(slug)
    return found


def _entries(bulletin: Bulletin) -> Iterable[tuple[Entry, tuple[str, ...]]]:
    """Every item the bulletin shows, with the labels of the strands it is on (an instrument is
    on its commencement row's strands too)."""
    for section in (bulletin.pilots, *bulletin.strand_sections, bulletin.other):
        for entry in section.entries:
            yield entry, entry.strands
    for listed in (bulletin.commenced, bulletin.coming_up):
        for row in listed.entries:
            if row.instrument is not None:
                yield row.instrument, (*row.instrument.strands, *row.strands)
            for report in row.coverage:
                yield report, report.strands


def items_of(bulletin: Bulletin) -> dict[int, set[str]]:
    """The items a bulletin (or a reader's copy) shows: item id -> the strands (slugs) it is on."""
    items: dict[int, set[str]] = {}
    for entry, labels in _entries(bulletin):
        items.setdefault(entry.item_id, set()).update(strand_slugs(labels, bulletin.strand_names))
    return items


def _every_strand(bulletin: Bulletin, chosen: Collection[str] | None) -> bool:
    return chosen is None or set(chosen) >= set(bulletin.strand_names)


def for_strands(bulletin: Bulletin, chosen: Collection[str] | None) -> Bulletin:
    """The news of a reader who chose the strands `chosen` (slugs; None: every strand): every
    item on any of them, where the editor placed it, and nothing else; the counts recounted."""
    if _every_strand(bulletin, chosen):
        return bulletin
    assert chosen is not None
    wanted = set(chosen)
    names = bulletin.strand_names

    def on(labels: Iterable[str]) -> bool:
        return bool(strand_slugs(labels, names) & wanted)

    def section(shown: Section) -> Section:
        entries = tuple(entry for entry in shown.entries if on(entry.strands))
        return dataclasses.replace(shown, entries=entries, total=len(entries))

    def row(shown: Commencement) -> Commencement | None:
        instrument = shown.instrument
        if instrument is not None and not on((*instrument.strands, *shown.strands)):
            instrument = None
        coverage = tuple(report for report in shown.coverage if on(report.strands))
        if instrument is None and not coverage and not on(shown.strands):
            return None
        return dataclasses.replace(shown, instrument=instrument, coverage=coverage)

    def dated(listed: CommencementList) -> CommencementList:
        rows = tuple(kept for kept in map(row, listed.entries) if kept is not None)
        return dataclasses.replace(listed, entries=rows, total=len(rows))

    strand_sections = tuple(kept for kept in map(section, bulletin.strand_sections) if kept.entries)
    copy = dataclasses.replace(
        bulletin,
        pilots=section(bulletin.pilots),
        strand_sections=strand_sections,
        other=section(bulletin.other),
        commenced=dated(bulletin.commenced),
        coming_up=dated(bulletin.coming_up),
    )
    return dataclasses.replace(copy, item_count=_season_items(copy))


def _season_items(bulletin: Bulletin) -> int:
    """How many of the items shown were published in the season (what `item_count` counts:
    an instrument made in an earlier season still shows its dates, but is not this season's)."""
    season = bulletin.season
    return len(
        {
            entry.item_id
            for entry, _ in _entries(bulletin)
            if season.start <= entry.published_on < season.end
        }
    )


def strands_with_news(copy: Bulletin, chosen: Collection[str]) -> list[str]:
    """The chosen strands (slugs, in the config's order) that a reader's copy has news on."""
    found: set[str] = set()
    for strands in items_of(copy).values():
        found |= strands
    wanted = set(chosen)
    return [slug for slug in copy.strand_names if slug in found and slug in wanted]
