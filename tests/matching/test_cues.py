"""The cue syntax documented at the top of config.yaml."""

from __future__ import annotations

import re

import pytest

from actwatch.matching.cues import Cue, Lexicon, Tokens, cue_pattern


def found(cue: str, text: str) -> list[str]:
    lexicon = Lexicon({"g": [Cue(cue, "strand", "s")]})
    return [text[match.start : match.end] for match in lexicon.scan(Tokens(text))]


@pytest.mark.parametrize(
    ("cue", "text", "expected"),
    [
        ("care leaver", "support for care leavers", []),
        ("care leaver*", "support for care leavers", ["care leavers"]),
        ("care leaver*", "Care Leavers' covenant", ["Care Leavers"]),
        (
            "regional adoption agenc*",
            "five regional adoption agencies",
            ["regional adoption agencies"],
        ),
        ("RSE", "Statutory RSE guidance", ["RSE"]),
        ("RSE", "a course in rse and more", []),
        ("RAA", "the RAA went live; Raa; raa", ["RAA"]),
        ("looked-after", "children looked after by councils", ["looked after"]),
        ("looked-after", "looked-after children", ["looked-after"]),
        (
            "children's services trust*",
            "Doncaster Children’s Services Trust",
            ["Children’s Services Trust"],
        ),
        ("£*", "more than £12m for councils", ["£"]),
        ("(Wales)", "The Children (Secure Accommodation) (Wales) Regulations", ["(Wales)"]),
        ("Commencement No*", "Act 2017 (Commencement No. 3) Regulations", ["Commencement No"]),
        ("social work*", "social workers and social work", ["social workers", "social work"]),
        ("local offer", "the local. Offer", []),
    ],
)
def test_cue_syntax(cue: str, text: str, expected: list[str]) -> None:
    assert found(cue, text) == expected


def test_leftmost_longest_within_a_group() -> None:
    lexicon = Lexicon(
        {
            "g": [
                Cue("Working Together", "supporting", "s"),
                Cue("Working Together to Safeguard Children", "strand", "s"),
            ],
            "other": [Cue("safeguard*", "type", "t")],
        }
    )
    text = "Revised Working Together to Safeguard Children published"
    matches = lexicon.scan(Tokens(text))
    by_group = {match.group: text[match.start : match.end] for match in matches}
    # The longer cue wins in its group; another group still sees the words inside it.
    assert by_group == {"g": "Working Together to Safeguard Children", "other": "Safeguard"}
    assert [role.text for match in matches if match.group == "g" for role in match.roles] == [
        "Working Together to Safeguard Children"
    ]


def test_same_phrase_in_two_roles_is_one_match_with_both_roles() -> None:
    lexicon = Lexicon(
        {
            "g": [
                Cue("Partners in Practice", "strand", "a"),
                Cue("partners in practice", "programme", "a"),
            ]
        }
    )
    (match,) = lexicon.scan(Tokens("New Partners in Practice councils"))
    assert {role.kind for role in match.roles} == {"strand", "programme"}


@pytest.mark.parametrize(
    ("cue", "text", "matches"),
    [
        ("care leaver*", "care leavers", True),
        ("RSE", "rse", False),
        ("looked-after", "looked after", True),
    ],
)
def test_cue_pattern_means_the_same(cue: str, text: str, matches: bool) -> None:
    assert bool(re.search(cue_pattern(cue), text)) is matches


@pytest.mark.parametrize(
    "text",
    [
        "Looked-after children's services: £2.4m (2017/18) for RAAs, 1st April.",
        "snake_case __init__ _ a_b x__y",
        "quotes ‘single’ “double” `tick` don’t – dash — em‐dash ‑ ½ x² ٣ é ß İ ﬁ",
        "\ttabs\nand\r\nbreaks\u00a0nbsp\u2028line",
        "",
    ],
)
def test_tokens_are_the_documented_tokens(text: str) -> None:
    # The split pattern is written for speed; it must find exactly the tokens _TOKEN defines.
    from actwatch.matching.cues import _TOKEN

    tokens = Tokens(text)
    assert tokens.words == _TOKEN.findall(text)
    assert [text[slice(*tokens.span(i, i))] for i in range(len(tokens.words))] == tokens.words
