"""Parts of the Act as editors and instruments write them: '1', 's.16A', '12-32', 'Sch 3'."""

from __future__ import annotations

import re
from collections.abc import Iterable

_REF = re.compile(
    r"^(?:s(?:ection)?s?\.?\s*)?(\d+)([A-Z]?)(?:\s*(?:-|–|to)\s*(\d+)([A-Z]?))?$"
    r"|^(Sch(?:edule)?|Part)\.?\s+(\d+)$",
    re.IGNORECASE,
)


def expand(reference: str) -> set[str]:
    """'12-32' -> {'12', ..., '32'}; 'Sch 3' -> {'Sch 3'}; anything unreadable -> itself."""
    text = reference.strip()
    match = _REF.match(text)
    if not match:
        return {text} if text else set()
    if match[5]:
        kind = "Sch" if match[5].lower().startswith("sch") else "Part"
        return {f"{kind} {int(match[6])}"}
    first = int(match[1])
    if match[3] is None:
        return {f"{first}{match[2].upper()}"}
    last = int(match[3])
    if last < first or last - first > 500:
        return {text}
    numbers = {str(number) for number in range(first, last + 1)}
    # '16A-16Q' style ranges keep their lettered ends; the plain numbers between are implied.
    if match[2]:
        numbers.add(f"{first}{match[2].upper()}")
    if match[4]:
        numbers.add(f"{last}{match[4].upper()}")
    return numbers


def expand_all(references: Iterable[str]) -> set[str]:
    expanded: set[str] = set()
    for reference in references:
        expanded |= expand(reference)
    return expanded


def _sort_key(provision: str) -> tuple[int, int, str]:
    match = re.match(r"^(\d+)([A-Z]?)$", provision)
    if match:
        return (0, int(match[1]), match[2])
    kind, _, number = provision.partition(" ")
    return (1 if kind == "Part" else 2, int(number) if number.isdigit() else 0, provision)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _runs(numbers: list[str]) -> list[str]:
    """['12', '13', '14', '20'] -> ['12-14', '20']: long lists of sections read as ranges."""
    runs: list[list[int]] = []
    for text in numbers:
        number = int(text)
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return [f"{run[0]}-{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs]


def describe(provisions: Iterable[str]) -> str:
    """{'8', '9', '33', '42'} -> 'sections 8, 9, 33 and 42'; 'Sch 3' -> 'Schedule 3'."""
    ordered = sorted(set(provisions), key=_sort_key)
    plain = [p for p in ordered if p.isdigit()]
    lettered = [p for p in ordered if re.fullmatch(r"\d+[A-Z]", p)]
    parts = [p for p in ordered if p.startswith("Part ")]
    schedules = [p.replace("Sch ", "") for p in ordered if p.startswith("Sch ")]
    other = [p for p in ordered if p not in plain + lettered + parts and not p.startswith("Sch ")]
    phrases = []
    sections = [*_runs(plain), *lettered]
    if sections:
        words = ", ".join(sections).split(", ")
        many = len(plain) + len(lettered) > 1
        phrases.append(("sections " if many else "section ") + _join(words))
    phrases.extend(parts)
    if schedules:
        phrases.append(("Schedules " if len(schedules) > 1 else "Schedule ") + _join(schedules))
    phrases.extend(other)
    return ", ".join(phrases)
