"""References to parts of the Act, as editors and as announcements write them."""

from __future__ import annotations

import pytest

from actwatch.core import provisions
from actwatch.core.provisions import PART, SCHEDULE, SECTION, Provision, ProvisionMap

ACT = ("Children and Social Work Act 2017", "Children & Social Work Act*")


def sections(*numbers: int) -> list[Provision]:
    return [Provision(SECTION, number) for number in numbers]


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("1", sections(1)),
        ("12-14", sections(12, 13, 14)),
        ("s.4-7", sections(4, 5, 6, 7)),
        ("ss. 2 to 3", sections(2, 3)),
        ("sections 58 and 59", sections(58, 59)),
        ("s.16A", [Provision(SECTION, 16, "A")]),
        ("Sch 3", [Provision(SCHEDULE, 3)]),
        ("Schedule 3", [Provision(SCHEDULE, 3)]),
        ("Part 2", [Provision(PART, 2)]),
    ],
)
def test_editor_references(reference: str, expected: list[Provision]) -> None:
    assert provisions.parse(reference) == expected


@pytest.mark.parametrize("reference", ["twelve", "", "Part two", "1-"])
def test_unreadable_references_are_refused_with_the_value(reference: str) -> None:
    with pytest.raises(provisions.BadReference, match="section reference"):
        provisions.parse(reference)


def test_labels_round_trip() -> None:
    for provision in (Provision(SECTION, 16, "A"), Provision(PART, 2), Provision(SCHEDULE, 3)):
        assert provisions.parse(provision.label) == [provision]


def owners(text: str) -> list[tuple[str, str | None]]:
    return [
        (provisions.describe(reference.provisions), reference.owner)
        for reference in provisions.find(text, ACT)
    ]


def test_references_in_prose_say_whose_act_they_name() -> None:
    assert owners("bring into force sections 8, 9, 33 and 42 on 31 October") == [
        ("sections 8, 9, 33 and 42", None)
    ]
    assert owners("Review Part 2 of the Act") == [("Part 2", "ours")]
    assert owners("Section 2 of the 2017 act requires a local offer") == [("section 2", "ours")]
    assert owners("sections 13, 14 and 16 of the Children Act 2004") == [
        ("sections 13, 14 and 16", "other")
    ]
    assert owners("Part 3 of the Children and Families Act 2014") == [("Part 3", "other")]
    assert owners("s.36 of the Children and Social Work Act 2017") == [("section 36", "ours")]
    assert owners("Chapter 2 of Part 1 comes into force") == []


def test_words_that_only_look_like_references_are_not_ones() -> None:
    assert owners("the children's 4 homes, part 2 of the plan, on schedule 3 times") == []


def test_the_narrowest_reference_owns_a_provision() -> None:
    owned = ProvisionMap(
        {"swe": ["36-58", "Part 2", "Sch 3"], "sli": ["42"], "cp": ["1"]}, ["8-11", "Part 3"]
    )
    assert owned.strand(Provision(SECTION, 42)) == "sli"
    assert owned.strand(Provision(SECTION, 40)) == "swe"
    assert owned.strand(Provision(PART, 2)) == "swe"
    assert owned.strand(Provision(SECTION, 9)) == ProvisionMap.OUTSIDE
    assert owned.strand(Provision(SECTION, 70)) is None
    assert Provision(SECTION, 42) not in owned.claimed("swe")
    assert owned.strands_of([Provision(SECTION, 9), Provision(SECTION, 1)]) == ["cp"]


def test_equally_narrow_references_share_a_provision() -> None:
    owned = ProvisionMap({"a": ["4-7"], "b": ["5-8"]})
    assert owned.owners(Provision(SECTION, 5)) == ("a", "b")


def test_describe_reads_ranges_and_kinds() -> None:
    named = [*sections(12, 13, 14, 20), Provision(PART, 2), Provision(SCHEDULE, 3)]
    assert provisions.describe(named) == "sections 12-14 and 20, Part 2, Schedule 3"
    assert provisions.describe(sections(1)) == "section 1"
