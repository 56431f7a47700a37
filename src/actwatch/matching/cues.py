"""The cue syntax of config.yaml, turned into regular expressions.

A cue is a phrase an editor writes: whole words, case-insensitive, `*` for "any word
characters", a hyphen that also matches a space or nothing, and capitals-only cues (RAA, RSE)
that match only in capitals. All cues of a kind are joined into one big alternation so that an
item's text is scanned a few times in total, not once per cue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Apostrophes and hyphens come in several shapes in feed text.
_APOSTROPHES = "['\u2019\u2018`]"
_HYPHEN = "[-\u2010\u2011\u2012\u2013\\s]?"


@dataclass(frozen=True, slots=True)
class Cue:
    """One phrase of the rules and the role it plays."""

    text: str
    kind: str
    target: str | None = None


def case_sensitive(cue: str) -> bool:
    """A cue with no lower-case letters (RAA, CSWA 2017) means those capitals only."""
    return any(char.isalpha() for char in cue) and not any(char.islower() for char in cue)


def cue_pattern(cue: str) -> str:
    """The regular expression (source) for one cue, with word boundaries where words end."""
    text = " ".join(cue.split())
    parts: list[str] = []
    for char in text:
        if char == "*":
            parts.append(r"\w*")
        elif char == " ":
            parts.append(r"\s+")
        elif char == "-":
            parts.append(_HYPHEN)
        elif char in "'\u2019":
            parts.append(_APOSTROPHES)
        else:
            parts.append(re.escape(char))
    body = "".join(parts)
    stripped = text.rstrip("*")
    if text[0].isalnum() or text[0] == "_":
        body = r"(?<!\w)" + body
    if not text.endswith("*") and stripped and (stripped[-1].isalnum() or stripped[-1] == "_"):
        body += r"(?!\w)"
    if case_sensitive(text):
        body = f"(?-i:{body})"
    return body


@dataclass(frozen=True, slots=True)
class CueSet:
    """Many cues scanned at once; `roles[i]` lists every rule role of the i-th distinct pattern."""

    regex: re.Pattern[str] | None
    roles: tuple[tuple[Cue, ...], ...]

    def scan(self, text: str) -> Iterable[tuple[int, int, int]]:
        """(pattern index, start, end) of each match, leftmost-longest, not overlapping."""
        if self.regex is None or not text:
            return
        for match in self.regex.finditer(text):
            group = match.lastgroup
            assert group is not None
            yield int(group[1:]), match.start(), match.end()


def compile_cues(cues: Sequence[Cue]) -> CueSet:
    by_pattern: dict[str, list[Cue]] = {}
    for cue in cues:
        by_pattern.setdefault(cue_pattern(cue.text), []).append(cue)
    # Longer phrases first so that "Working Together to Safeguard Children" wins over
    # "Working Together" at the same position.
    ordered = sorted(by_pattern.items(), key=lambda pair: -len(pair[1][0].text.rstrip("*")))
    if not ordered:
        return CueSet(None, ())
    source = "|".join(f"(?P<c{index}>{pattern})" for index, (pattern, _) in enumerate(ordered))
    return CueSet(
        re.compile(source, re.IGNORECASE),
        tuple(tuple(roles) for _, roles in ordered),
    )
