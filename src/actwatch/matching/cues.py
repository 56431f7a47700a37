"""The cue syntax of config.yaml, compiled into one word-level matcher.

A cue is a phrase an editor writes: whole words, case-insensitive, `*` for "any word
characters", hyphens and apostrophes that may also be spaces, and capitals-only cues (RAA, RSE)
that match only in capitals.

Python's `re` tries every branch of a big alternation at every position of the text, which is
far too slow for hundreds of cues. So the text is split into words once, and each word is looked
up in a dictionary of the cues' first words (a word's candidates are cached: news vocabulary is
small), and only candidates are checked word by word. Matches are leftmost-longest and do not
overlap within one group of cues, like a regular expression's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate, compress
from operator import itemgetter
from typing import NamedTuple

# Words and single punctuation marks; hyphens, dashes and apostrophes only separate words, so
# "looked-after" and "looked after", "children's" and "children’s" are the same words.
_TOKEN = re.compile(r"[^\W_]+|_+|[^\w\s\-\u2010-\u2014'\u2018\u2019`]")
# The same tokens for re.split, written as one character class (what can start a token: all
# but spaces, hyphens, dashes and apostrophes) and then, by that first character, more letters
# and digits, more underscores, or nothing: `re` skips to the class instead of trying three
# branches at every position.
_TOKEN_SPLIT = re.compile(r"([^\s\-\u2010-\u2014'\u2018\u2019`](?:(?<=[^\W_])[^\W_]*|(?<=_)_*|))")
CACHE_LIMIT = 200_000


@dataclass(frozen=True, slots=True)
class Cue:
    """One phrase of the rules and the role it plays."""

    text: str
    kind: str
    target: str | None = None


@dataclass(frozen=True, slots=True)
class _Step:
    word: str  # lower-case, or as written for a capitals-only cue
    prefix: bool
    exact_case: bool

    def accepts(self, lowered: str, original: str) -> bool:
        word = original if self.exact_case else lowered
        return word.startswith(self.word) if self.prefix else word == self.word


def case_sensitive(cue: str) -> bool:
    """A cue with no lower-case letters (RAA, CSWA 2017) means those capitals only."""
    return any(char.isalpha() for char in cue) and not any(char.islower() for char in cue)


def cue_steps(cue: str) -> tuple[_Step, ...]:
    exact = case_sensitive(cue)
    steps: list[_Step] = []
    for match in re.finditer(r"([^\W_]+|_+|[^\w\s\-\u2010-\u2014'\u2018\u2019`*])(\*?)|\*", cue):
        if match[0] == "*":
            if steps:  # "£*": the star belongs to the previous mark
                steps[-1] = _Step(steps[-1].word, True, steps[-1].exact_case)
            continue
        word = match[1] if exact else match[1].lower()
        steps.append(_Step(word, bool(match[2]), exact and any(c.isalpha() for c in word)))
    if not steps:
        raise ValueError(f"cue {cue!r} has no words")
    return tuple(steps)


class Tokens:
    """A text split into words (as written and in lower case) with their character offsets.

    One `re.split` gives words and the gaps between them in a single pass; offsets are the
    running total of their lengths, worked out only when a cue matched.
    """

    __slots__ = ("_ends", "_parts", "lowered", "text", "words")

    def __init__(self, text: str) -> None:
        self.text = text
        self._parts: list[str] = _TOKEN_SPLIT.split(text)
        self.words: list[str] = self._parts[1::2]
        # Words hold no NUL, so one lower() over the joined words keeps them aligned.
        self.lowered: list[str] = "\0".join(self.words).lower().split("\0") if self.words else []
        self._ends: list[int] | None = None

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Character offsets from the start of word `first` to the end of word `last`."""
        ends = self.ends()
        return ends[2 * first], ends[2 * last + 1]

    def ends(self) -> list[int]:
        """Where each part ends: word `i` starts at `ends[2 * i]` and ends at `ends[2 * i + 1]`."""
        if self._ends is None:
            self._ends = list(accumulate(map(len, self._parts)))
        return self._ends


# A cue of several words to look at, as (entry, words after the first, steps still to check or
# None when matching the first two words was enough, the word those steps start at).
_Follow = tuple[int, int, tuple[_Step, ...] | None, int]
# (one-word cues that match outright, one-word cues to check with their step, cues keyed by their
# second word, cues whose second word is a prefix, with that prefix when it can be tried on the
# lower-case word); the empty tuple when the word starts no cue.
_Candidates = tuple[
    tuple[int, ...],
    tuple[tuple[int, _Step], ...],
    dict[str, tuple[_Follow, ...]],
    tuple[tuple[int, int, tuple[_Step, ...], str | None], ...],
]


class Match(NamedTuple):
    # A named tuple: a few are made for every text, and it is several times cheaper to build
    # than a frozen dataclass.
    group: str
    roles: tuple[Cue, ...]
    start: int  # character offsets in the text
    end: int


_LEFTMOST_LONGEST = itemgetter(0, 1)


class Lexicon:
    """All cues of all groups (relevance, exclusion, type), scanned in one pass over the words."""

    def __init__(self, groups: dict[str, Sequence[Cue]]) -> None:
        entries: dict[tuple[str, tuple[_Step, ...]], list[Cue]] = {}
        for group, cues in groups.items():
            for cue in cues:
                entries.setdefault((group, cue_steps(cue.text)), []).append(cue)
        self._entries: list[tuple[str, tuple[_Step, ...], tuple[Cue, ...]]] = [
            (group, steps, tuple(roles)) for (group, steps), roles in entries.items()
        ]
        # First word -> entries; for cues of several words, also keyed by their second word, so
        # that a common first word ("new", "local", "the") costs one more lookup, not a check of
        # every cue that starts with it.
        self._exact: dict[str, list[int]] = {}
        self._prefixes: dict[str, list[int]] = {}
        for index, (_, steps, _) in enumerate(self._entries):
            first = steps[0]
            key = first.word.lower()
            (self._prefixes if first.prefix else self._exact).setdefault(key, []).append(index)
        self._prefix_lengths = sorted({len(key) for key in self._prefixes})
        self._exact_case = frozenset(
            index
            for index, (_, steps, _) in enumerate(self._entries)
            if any(step.exact_case for step in steps)
        )
        self._cache: dict[str, _Candidates] = {}

    def _candidates(self, word: str) -> _Candidates:
        indices = list(self._exact.get(word, ()))
        for length in self._prefix_lengths:
            if length > len(word):
                break
            indices.extend(self._prefixes.get(word[:length], ()))
        found: _Candidates = ()  # type: ignore[assignment]
        if indices:
            sure: list[int] = []  # one plain word, equal to this one: nothing left to check
            single: list[tuple[int, _Step]] = []
            by_next: dict[str, list[_Follow]] = {}
            other: list[tuple[int, int, tuple[_Step, ...], str | None]] = []
            for index in indices:
                steps = self._entries[index][1]
                if len(steps) == 1:
                    if not steps[0].prefix and not steps[0].exact_case:
                        sure.append(index)
                    else:
                        single.append((index, steps[0]))
                elif not steps[1].prefix:
                    # The first two words matched their keys, which is all a cue in any case needs
                    # of them; a capitals-only cue checks every word.
                    follow: _Follow
                    if index in self._exact_case:
                        follow = (index, len(steps) - 1, steps, 0)
                    elif len(steps) == 2:
                        follow = (index, 1, None, 0)
                    else:
                        follow = (index, len(steps) - 1, steps[2:], 2)
                    by_next.setdefault(steps[1].word.lower(), []).append(follow)
                else:
                    # Most fail on their second word: it is tried first, without a call.
                    second = None if steps[1].exact_case else steps[1].word
                    other.append((index, len(steps) - 1, steps, second))
            found = (
                tuple(sure),
                tuple(single),
                {key: tuple(value) for key, value in by_next.items()},
                tuple(other),
            )
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = found
        return found

    def scan(self, tokens: Tokens) -> list[Match]:
        """Leftmost-longest, non-overlapping matches within each group."""
        lowered = tokens.lowered
        looked_up = list(map(self._cache.get, lowered))
        if None in looked_up:
            looked_up = [
                self._candidates(word) if found is None else found
                for word, found in zip(lowered, looked_up, strict=True)
            ]
        # An empty tuple (no cue starts here) is false.
        positions = list(compress(range(len(looked_up)), looked_up))
        if not positions:
            return []
        words = tokens.words
        accepts = self._accepts
        following_exists = len(lowered) - 1
        # (first word, minus the last word, entry): longest first once sorted by the first two.
        found: list[tuple[int, int, int]] = []
        add = found.append
        for position in positions:
            sure, single, by_next, other = looked_up[position]  # type: ignore[misc]
            for index in sure:
                add((position, -position, index))
            for index, step in single:
                if step.accepts(lowered[position], words[position]):
                    add((position, -position, index))
            if position < following_exists:
                if by_next:
                    for index, extra, rest, skip in by_next.get(lowered[position + 1], ()):
                        if rest is None or accepts(rest, lowered, words, position + skip):
                            add((position, -position - extra, index))
                if other:
                    following = lowered[position + 1]
                    for index, extra, steps, second in other:
                        if (second is None or following.startswith(second)) and accepts(
                            steps, lowered, words, position
                        ):
                            add((position, -position - extra, index))
        if not found:
            return []
        found.sort(key=_LEFTMOST_LONGEST)  # stable: equal spans keep the order they were found
        entries = self._entries
        ends = tokens.ends()
        taken_until: dict[str, int] = {}
        matches: list[Match] = []
        for first, minus_last, index in found:
            last = -minus_last
            group, _, roles = entries[index]
            if first <= taken_until.get(group, -1):
                continue
            taken_until[group] = last
            matches.append(Match(group, roles, ends[2 * first], ends[2 * last + 1]))
        return matches

    @staticmethod
    def _accepts(
        steps: tuple[_Step, ...], lowered: list[str], words: list[str], position: int
    ) -> bool:
        if position + len(steps) > len(lowered):
            return False
        for step in steps:
            word = words[position] if step.exact_case else lowered[position]
            if not (word.startswith(step.word) if step.prefix else word == step.word):
                return False
            position += 1
        return True


def cue_pattern(cue: str) -> str:
    """The cue as a regular expression (what the matcher means, for tools and tests)."""
    parts = []
    for step in cue_steps(cue):
        word = re.escape(step.word) + (r"\w*" if step.prefix else "")
        parts.append(word if step.exact_case else f"(?i:{word})")
    gap = r"[\s\-\u2010-\u2014'\u2018\u2019`]*"
    return r"(?<!\w)" + gap.join(parts) + r"(?!\w)"


def all_cues(groups: Iterable[Sequence[Cue]]) -> list[Cue]:
    return [cue for group in groups for cue in group]
