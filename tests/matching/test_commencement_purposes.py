"""A commencement's qualification ("so far as ...") is read whole, never cut mid-phrase."""

from __future__ import annotations

from datetime import date

from actwatch.matching.commencement import PURPOSE_CHARS, extract

ACT_NAMES = ("Children and Social Work Act 2017",)


def purposes(text: str) -> set[str | None]:
    return {entry.purpose for entry in extract(text, "summary", ACT_NAMES)}


def test_an_aside_between_commas_belongs_to_the_qualification() -> None:
    text = (
        "These Regulations bring into force on 8th January 2018 sections 58 and 59 of the"
        " Children and Social Work Act 2017 so far as they relate to consultation on, and the"
        " parliamentary procedure for, regulations about the regulation of social workers."
    )
    entries = extract(text, "summary", ACT_NAMES)
    assert {entry.provision.label for entry in entries} == {"s.58", "s.59"}
    assert {entry.in_force_on for entry in entries} == {date(2018, 1, 8)}
    assert purposes(text) == {
        "so far as they relate to consultation on, and the parliamentary procedure for,"
        " regulations about the regulation of social workers"
    }


def test_a_new_clause_or_another_provision_still_ends_it() -> None:
    clause = (
        "These Regulations bring into force on 1st April 2018 section 36 so far as it relates to"
        " the making of rules, and make transitional provision for registration, with savings."
    )
    assert purposes(clause) == {"so far as it relates to the making of rules"}
    another = (
        "These Regulations bring into force on 1st April 2018 section 36 so far as it relates to"
        " rules, and section 37, for all purposes."
    )
    assert "so far as it relates to rules" in purposes(another)


def test_a_qualification_longer_than_is_read_ends_at_a_word_and_says_so() -> None:
    words = " ".join(f"matter{n}" for n in range(PURPOSE_CHARS // 6))
    text = f"Section 36 comes into force on 1st April 2018 so far as it relates to {words}."
    [purpose] = purposes(text)
    assert purpose is not None and purpose.endswith("…")
    assert purpose[:-1].split()[-1] in words.split()
