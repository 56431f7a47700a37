"""What a commencement instrument brings into force, and when.

Reads plain prose: a summary ("bring into force on 31st October 2017 sections 8, 9, 33 and 42")
or the text of the instrument itself ("The following provisions of the Act come into force on
19th March 2018— (a) section 16 (so far as it confers power to make regulations); ..."). Each
provision takes the date of its own clause; references to other Acts ("section 16A of the
Children Act 2004") and enabling powers ("conferred by section 70") are not commencements.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import date

from actwatch.core import provisions
from actwatch.core.provisions import Provision

MONTHS = {
    name: number
    for number, name in enumerate(
        (
            "january", "february", "march", "april", "may", "june", "july", "august",
            "september", "october", "november", "december",
        ),
        start=1,
    )
}  # fmt: skip

_DATE = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(" + "|".join(MONTHS) + r"),?\s+(\d{4})\b", re.IGNORECASE
)
# A clause that commences something on a date: "come into force on", "bring ... into force",
# "commences on". Not "despite the coming into force of section 30" (a saving provision).
_FORCE = re.compile(
    r"into\s+force\s+(?:on|from)\b|\b(?:bring|brings|brought|bringing)\b[^.]{0,300}?into\s+force"
    r"|\bcommence[sd]?\s+on\b|\bin\s+force\s+(?:on|from)\b",
    re.IGNORECASE,
)
_ENABLING = re.compile(r"(?:conferred\s+by|under|by\s+virtue\s+of)\s*$", re.IGNORECASE)
_PURPOSE = re.compile(
    r"\b(so\s+far\s+as\b[^;:\u2014]*|for\s+(?:the\s+purposes?\s+of|all\s+(?:other\s+)?purposes)"
    r"[^;:\u2014)]*)",
    re.IGNORECASE,
)
# Sentence ends: a full stop before a capital or an opening bracket, but not in "No. 3" or "S.I.".
# The full stop comes first and the lookbehinds include it: the engine then jumps from one "." to
# the next instead of trying six lookbehinds at every character (same matches, ~40 times faster).
_SENTENCE_END = re.compile(
    r"\.(?<!\bNo\.)(?<!\bS\.I\.)(?<!\bc\.)(?<!\bss\.)(?<!\bs\.)(?<!\bSch\.)\s+(?=[A-Z(])"
)
_COMMENCEMENT_TITLE = re.compile(r"\(Commencement\s+No\.?\s*(\d+)", re.IGNORECASE)
MAX_TEXT = 400_000


@dataclass(frozen=True, slots=True)
class CommencedProvision:
    provision: Provision
    in_force_on: date | None
    purpose: str | None
    source: str  # "title", "summary", "content" or "instrument"


def commencement_number(title: str) -> int | None:
    match = _COMMENCEMENT_TITLE.search(title)
    return int(match[1]) if match else None


def _mask_parentheses(text: str) -> str:
    """The text with bracketed asides blanked (same length), so offsets still line up."""
    if "(" not in text:
        return text  # nothing to blank; most summaries have no brackets
    out = list(text)
    depth = 0
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
        if depth:
            out[index] = " "
        if char == ")" and depth:
            depth -= 1
    return "".join(out)


def _chunks(text: str) -> list[str]:
    chunks: list[str] = []
    for line in text.splitlines():
        chunks.extend(part for part in _SENTENCE_END.split(line) if part.strip())
    return chunks


def _dates(chunk: str) -> list[tuple[int, date]]:
    found = []
    for match in _DATE.finditer(chunk):
        try:
            found.append(
                (match.start(), date(int(match[3]), MONTHS[match[2].lower()], int(match[1])))
            )
        except ValueError:
            continue
    return found


def _purpose(original: str, end: int) -> str | None:
    """A "so far as ..." / "for the purpose of ..." qualification right after a reference."""
    tail = original[end : end + 300]
    # A new clause (", and make transitional provision") ends the qualification.
    stop = re.search(r";|\u2014|\s\([a-z]\)\s|\.\s|,\s+and\b", tail)
    clause = tail[: stop.start()] if stop else tail
    match = _PURPOSE.search(clause)
    if not match:
        return None
    # Asides that describe the provisions ("(the Child Safeguarding Practice Review Panel)")
    # are not part of the qualification.
    return _clean(re.sub(r"\s*\([^()]*\)", "", match[1]))


def _clean(purpose: str) -> str | None:
    return " ".join(purpose.split()).rstrip(" ,.)")[:200] or None


def _join_purposes(own: str | None, shared: str | None) -> str | None:
    return "; ".join(part for part in (own, shared) if part) or None


def extract(text: str, source: str, act_names: tuple[str, ...] = ()) -> list[CommencedProvision]:
    """Every provision of the Act the text says comes into force, with its date when given.

    `act_names` are the names the text may use for this Act ("sections 8 and 9 of the Children
    and Social Work Act 2017"); any other "of the ... Act YYYY" is another Act's provision.
    """
    found: dict[tuple[Provision, date | None], CommencedProvision] = {}
    for chunk in _chunks(text[:MAX_TEXT]):
        if not _FORCE.search(chunk):
            continue
        masked = _mask_parentheses(chunk)
        dates = _dates(chunk)
        references: list[tuple[int, int, tuple[Provision, ...]]] = []
        for reference in provisions.find(masked, act_names):
            if reference.owner == "other":
                continue
            if reference.provisions[0].kind == provisions.SECTION and _ENABLING.search(
                masked[: reference.start]
            ):
                continue  # "conferred by section 70": the power, not what it commences
            references.append((reference.start, reference.end, reference.provisions))
        first = min((start for start, _, _ in references), default=0)
        # "come into force on 19th March 2018 for the purpose of making regulations— (a) ..."
        shared = _PURPOSE.search(masked[:first])
        for start, end, named in references:
            in_force_on = _nearest_date(dates, start, end)
            purpose = _join_purposes(_purpose(chunk, end), _clean(shared[1]) if shared else None)
            for item in named:
                key = (item, in_force_on)
                if key not in found or (purpose and not found[key].purpose):
                    found[key] = CommencedProvision(item, in_force_on, purpose, source)
    return list(found.values())


def _nearest_date(dates: list[tuple[int, date]], start: int, end: int) -> date | None:
    if not dates:
        return None
    if len(dates) == 1:
        return dates[0][1]

    def distance(entry: tuple[int, date]) -> tuple[int, int]:
        position = entry[0]
        # A date before the list ("come into force on 1st April 2018— (a) section 1") is as
        # likely as one after it ("section 1 ... on 1st April 2018"); ties go to the one before.
        gap = start - position if position < start else position - end
        return (gap, 0 if position < start else 1)

    return min(dates, key=distance)[1]


# Markup that holds no provisions of this instrument: metadata, footnotes, and the table of
# earlier commencements in the explanatory note (those belong to other instruments).
_DROP = re.compile(
    r"<(ukm:Metadata|Metadata|Footnotes|EarlierOrders|Tabular|table|head|script|style)\b.*?</\1\s*>",
    re.IGNORECASE | re.DOTALL,
)
_BLOCK = re.compile(
    r"</?(?:P1group|P1|Title|PrimaryPrelims|SecondaryPrelims|Pblock|ExplanatoryNotes|"
    r"p|div|h[1-6]|br|section|article)\b[^>]*>",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]*>")


def instrument_text(document: str) -> str:
    """Readable prose of a legislation.gov.uk document (CLML XML or the HTML page)."""
    document = _DROP.sub(" ", document[: MAX_TEXT * 4])
    document = _BLOCK.sub("\n", document)
    document = html.unescape(_TAG.sub(" ", document))
    lines = (" ".join(line.split()) for line in document.splitlines())
    # Block boundaries inside a sentence (a list item of a regulation) are not sentence ends.
    return _join_continued_lines([line for line in lines if line])


def _join_continued_lines(lines: list[str]) -> str:
    out: list[str] = []
    for line in lines:
        if out and not out[-1].endswith((".", ":")) and not re.match(r"\d+\.?\s+[A-Z]", line):
            out[-1] = f"{out[-1]} {line}"
        else:
            out.append(line)
    return "\n".join(out)
