"""Sections and dates from summaries and from the stored instrument texts."""

from __future__ import annotations

from datetime import date

import pytest

from actwatch.core.provisions import Provision, ProvisionMap
from actwatch.matching.commencement import commencement_number, extract, instrument_text
from tests.conftest import DATA


def found(text: str) -> set[tuple[str, date | None]]:
    return {(entry.provision.label, entry.in_force_on) for entry in extract(text, "summary")}


OCT = date(2017, 10, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "These Regulations bring into force on 31st October 2017 sections 8, 9, 33 and 42.",
            {("s.8", OCT), ("s.9", OCT), ("s.33", OCT), ("s.42", OCT)},
        ),
        (
            "The regulations bring sections 1 to 3 of the Act into force on 1 April 2018.",
            {("s.1", date(2018, 4, 1)), ("s.2", date(2018, 4, 1)), ("s.3", date(2018, 4, 1))},
        ),
        (
            "Section 4 comes into force on 1 September 2018 and section 34 on 9 May 2019.",
            {("s.4", date(2018, 9, 1)), ("s.34", date(2019, 5, 9))},
        ),
        ("Schedule 3 comes into force on 2nd December 2019.", {("Sch 3", date(2019, 12, 2))}),
        # Another Act's sections, the enabling power, a saving provision: none is commenced.
        (
            "Section 16A of the Children Act 2004 comes into force on 29 June 2018.",
            set(),
        ),
        (
            "Made under section 70 of the Act; these Regulations come into force on 1 March 2018.",
            set(),
        ),
        (
            "Despite the coming into force of section 30, section 13 of the Children Act 2004"
            " continues to have effect until 29th September 2019.",
            set(),
        ),
        ("Sections 8 and 9 deal with permanence and adoption.", set()),
    ],
)
def test_summaries(text: str, expected: set[tuple[str, date | None]]) -> None:
    assert found(text) == expected


def test_purpose_is_kept() -> None:
    (entry,) = extract(
        "Section 12 comes into force on 19th March 2018 (so far as it confers power to make"
        " regulations).",
        "summary",
    )
    assert entry.purpose == "so far as it confers power to make regulations"


def test_commencement_number() -> None:
    title = "The Children and Social Work Act 2017 (Commencement No. 3) Regulations 2018"
    assert commencement_number(title) == 3
    assert commencement_number("The Social Workers Regulations 2018") is None


def test_html_made_page() -> None:
    document = (DATA / "instruments" / "uksi-2018-497-made.html").read_text(encoding="utf-8")
    entries = extract(instrument_text(document), "instrument")
    assert {entry.provision.number for entry in entries} == set(range(12, 30))
    assert {entry.in_force_on for entry in entries} == {date(2018, 6, 29)}
    # Not "Part 1" from "Chapter 2 of Part 1", not the earlier table's ss.1-3, not the saving.
    assert all(entry.provision.kind == "section" for entry in entries)


def test_first_commencement_instrument() -> None:
    document = (DATA / "instruments" / "uksi-2017-918-made.xml").read_text(encoding="utf-8")
    entries = extract(instrument_text(document), "instrument")
    assert {(entry.provision.label, entry.in_force_on) for entry in entries} == {
        ("s.8", OCT),
        ("s.9", OCT),
        ("s.33", OCT),
        ("s.42", OCT),
    }


def test_section_map_prefers_the_narrowest_reference() -> None:
    sections = ProvisionMap({"swe": ["36-58", "Part 2", "Sch 3"], "cp": ["1"]}, ["8-11", "Part 3"])
    assert sections.strand(Provision("section", 42)) == "swe"
    assert sections.strand(Provision("schedule", 3)) == "swe"
    assert sections.strand(Provision("section", 1)) == "cp"
    assert sections.strand(Provision("section", 9)) == ProvisionMap.OUTSIDE
    assert sections.strand(Provision("section", 70)) is None


ACT_NAMES = ("Children and Social Work Act 2017", "Children and Social Work Act")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # legislation.gov.uk summaries name the Act in full, with a description in brackets.
        (
            "These Regulations bring into force on 31st October 2017 sections 8, 9, 33 and 42 of"
            " the Children and Social Work Act 2017 (permanence provisions in care orders).",
            {"s.8", "s.9", "s.33", "s.42"},
        ),
        (
            "These Regulations bring into force on 1st September 2018 sections 4 to 7 of the"
            " Children and Social Work Act 2017 (duties towards previously looked-after children)"
            " and section 36(3) and Schedule 3 (Social Work England) so far as not already"
            " in force.",
            {"s.4", "s.5", "s.6", "s.7", "s.36", "Sch 3"},
        ),
        # Another Act named in full is still another Act.
        (
            "These Regulations bring into force on 1st May 2018 section 3 of the Children and"
            " Families Act 2014.",
            set(),
        ),
    ],
)
def test_our_act_named_in_full(text: str, expected: set[str]) -> None:
    assert {entry.provision.label for entry in extract(text, "summary", ACT_NAMES)} == expected


def test_a_following_clause_is_not_part_of_the_purpose() -> None:
    entries = extract(
        "These Regulations bring into force on 29th June 2018 sections 12 to 28 and 30 to 32 of the"
        " Children and Social Work Act 2017, so far as not already in force (the Child Safeguarding"
        " Practice Review Panel, safeguarding partners and child death review partners), and make"
        " transitional and saving provision so that Local Safeguarding Children Boards continue.",
        "summary",
        ACT_NAMES,
    )
    assert {entry.provision.label for entry in entries} == {
        f"s.{number}" for number in (*range(12, 29), 30, 31, 32)
    }
    assert {entry.purpose for entry in entries} == {"so far as not already in force"}
    assert {entry.in_force_on for entry in entries} == {date(2018, 6, 29)}
