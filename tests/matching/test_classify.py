"""Relevance, announcement type, strands and evidence on items shaped like the real feeds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from actwatch.config import parse_config
from actwatch.matching import Classification, ItemText, classify, compile_rules
from tests.conftest import DATA

Judge = Callable[..., Classification]
LEGISLATION_META = {
    "legislation": {
        "type": "UnitedKingdomStatutoryInstrument",
        "year": 2018,
        "number": 346,
        "made": "2018-03-01",
        "alternative_number": {"category": "C", "value": "28"},
    }
}


@pytest.mark.parametrize(
    ("title", "summary"),
    [
        # Other Acts' commencement instruments, worded like ours (strand words included).
        (
            "The Children and Families Act 2014 (Commencement No. 4) Order 2014",
            "Brings into force provisions on virtual school heads and care leavers staying put.",
        ),
        (
            "The Homelessness Reduction Act 2017 (Commencement and Transitional Provisions)"
            " Regulations 2018",
            "Brings into force new duties on local authorities, including for care leavers.",
        ),
        (
            "The Digital Economy Act 2017 (Commencement No. 1) Regulations 2017",
            "These Regulations bring into force provisions of the 2017 Act on 31st July 2017.",
        ),
        # Wales and Scotland.
        (
            "Social Care Wales opens the register to residential child care workers",
            "Social workers and care leavers' personal advisers in Wales.",
        ),
        (
            "The Care Leavers (Wales) Regulations 2015",
            "Personal advisers and pathway plans for care leavers.",
        ),
        # Other programmes and guidance under other Acts.
        (
            "Adoption Support Fund extended for another year",
            "Therapy for adopted children and their families.",
        ),
        (
            "Keeping children safe in education 2019",
            "Statutory guidance for schools on safeguarding, including the new safeguarding"
            " partners.",
        ),
        (
            "Children's Wellbeing and Schools Bill: what it means for safeguarding partners",
            "The Bill amends the duties of safeguarding partners and corporate parenting.",
        ),
        # Generic DfE news.
        ("Teachers' pay award 2019", "The School Teachers' Review Body recommends a 2.75% rise."),
        ("30 hours free childcare: a year on", "More than 340,000 children benefit."),
    ],
)
def test_traps_are_rejected(judge: Judge, title: str, summary: str) -> None:
    result = judge(title, summary)
    assert result.state == "rejected", result.evidence
    assert not result.relevant


def test_another_acts_commencement_is_rejected_with_evidence(judge: Judge) -> None:
    result = judge(
        "The Childcare Act 2016 (Commencement No. 2) Regulations 2017",
        "Brings into force the duty to secure 30 hours of free childcare.",
        link="https://www.legislation.gov.uk/uksi/2017/1160/made",
        source_meta=LEGISLATION_META,
    )
    assert result.state == "rejected"
    assert any(
        entry.kind == "other_act" and "Childcare Act 2016" in entry.text
        for entry in result.evidence
    )


def test_this_acts_commencement_instrument(judge: Judge) -> None:
    result = judge(
        "The Children and Social Work Act 2017 (Commencement No. 3) Regulations 2018",
        "",
        link="https://www.legislation.gov.uk/uksi/2018/346/made",
        source_meta=LEGISLATION_META,
    )
    assert result.state == "relevant"
    assert result.event_type == "commencement"
    kinds = {(entry.kind, entry.field) for entry in result.evidence}
    assert ("act", "title") in kinds
    assert ("legislation", "meta") in kinds


def test_an_instrument_of_the_act_that_is_not_a_commencement_is_regulations(judge: Judge) -> None:
    result = judge(
        "The Children and Social Work Act 2017 (Transitional and Savings Provisions)"
        " (Social Workers) Regulations 2019",
        "Transfers the register of social workers from the HCPC to Social Work England.",
        link="https://www.legislation.gov.uk/uksi/2019/1094/made",
        source_meta={"legislation": {"type": "UnitedKingdomStatutoryInstrument", "year": 2019}},
    )
    assert (result.state, result.event_type, result.strands) == (
        "relevant",
        "regulations",
        ("social-work-england",),
    )


def test_instrument_text_gives_sections_dates_and_strands(judge: Judge) -> None:
    from actwatch.matching.commencement import instrument_text

    document = (DATA / "instruments" / "uksi-2018-346-made.xml").read_text(encoding="utf-8")
    result = judge(
        "The Children and Social Work Act 2017 (Commencement No. 3) Regulations 2018",
        "",
        instrument_text(document),
        link="https://www.legislation.gov.uk/uksi/2018/346/made",
        source_meta=LEGISLATION_META,
    )
    assert result.strands == (
        "corporate-parenting",
        "safeguarding-partnerships",
        "social-work-england",
        "relationships-education",
        "care-leavers",
    )
    in_force = {(entry.section, entry.in_force_on, entry.strand) for entry in result.commencements}
    assert ("s.1", date(2018, 4, 1), "corporate-parenting") in in_force
    assert ("s.16", date(2018, 3, 19), "safeguarding-partnerships") in in_force
    assert ("Sch 3", date(2018, 4, 1), "social-work-england") in in_force
    # The explanatory note's table of earlier commencements is not this instrument's.
    assert not any(entry.section == "s.8" for entry in result.commencements)
    assert any(entry.kind == "section" and entry.field == "instrument" for entry in result.evidence)


def test_sections_outside_the_strands_are_relevant_with_no_strand(judge: Judge) -> None:
    result = judge(
        "Children and Social Work Act 2017 (Commencement No. 1) Regulations 2017",
        "The first commencement regulations bring sections 8, 9 and 33 of the Act into force on"
        " 31 October 2017, covering permanence in care plans and adoption.",
    )
    assert result.state == "relevant"
    assert result.event_type == "commencement"
    assert result.strands == ()
    assert {(entry.section, entry.strand) for entry in result.commencements} == {
        ("s.8", None),
        ("s.9", None),
        ("s.33", None),
    }


@pytest.mark.parametrize(
    ("display_type", "title", "expected"),
    [
        (
            "Open consultation",
            "Draft statutory guidance on the local offer for care leavers",
            "consultation",
        ),
        ("Statutory guidance", "Virtual school heads: funding and pilots", "guidance"),
        ("Press release", "£10 million for care leavers' local offer", "funding"),
        ("Press release", "Minister meets care leavers", "other"),
    ],
)
def test_display_type_hint(judge: Judge, display_type: str, title: str, expected: str) -> None:
    result = judge(title, type_hint=display_type, link="https://www.gov.uk/government/news/x")
    assert result.event_type == expected
    assert result.relevant


def test_display_type_prefix_left_on_a_govuk_title(judge: Judge) -> None:
    result = judge(
        "Open consultation: Revised guidance for virtual school heads",
        link="https://consult.education.gov.uk/x",
    )
    assert result.event_type == "consultation"


def test_exclusions_hide_words_from_their_strand(judge: Judge) -> None:
    send = judge(
        "Councils publish their SEND local offer and corporate parenting reports",
        "Every council must publish a SEND local offer.",
    )
    assert "care-leavers" not in send.strands
    assert "corporate-parenting" in send.strands
    assert any(entry.kind == "exclusion" for entry in send.evidence)


def test_policy_programmes_are_relevant_without_naming_the_act(judge: Judge) -> None:
    for title in (
        "Eight councils join Partners in Practice",
        "Three more regional adoption agencies go live",
        "Safeguarding early adopters share their learning",
    ):
        result = judge(title)
        assert result.relevant, title
        assert result.strands


def test_supporting_cues_alone_are_for_the_editor(judge: Judge) -> None:
    result = judge(
        "Councils explore new delivery models with voluntary sector partners",
        "Some councils are looking at how to commission services differently.",
    )
    assert result.state == "uncertain"
    assert result.strands == ("mixed-economy",)


def test_nothing_matched_is_rejected_with_no_evidence(judge: Judge) -> None:
    result = judge("T Levels: next steps for providers", "The first 52 providers are named.")
    assert (result.state, result.confidence, result.evidence) == ("rejected", 0.0, ())


def test_evidence_names_cue_kind_field_and_text(judge: Judge) -> None:
    result = judge(
        "Working together to safeguard children 2018",
        "How safeguarding partners and relevant agencies work together.",
        type_hint="Statutory guidance",
    )
    evidence = {(entry.kind, entry.field, entry.text) for entry in result.evidence}
    assert ("strand", "title", "Working together to safeguard children") in evidence
    assert ("strand", "summary", "safeguarding partners") in evidence
    assert ("display_type", "meta", "Statutory guidance") in evidence
    (first, *_) = result.evidence_dicts()
    assert {"cue", "kind", "field", "text"} <= first.keys()


def test_body_text_counts_less_than_the_summary(judge: Judge) -> None:
    in_summary = judge(
        "Council news round-up", "The council adopted corporate parenting principles."
    )
    in_body = judge(
        "Council news round-up", "", content="The council adopted corporate parenting principles."
    )
    assert in_summary.confidence > in_body.confidence
    assert in_body.state == "uncertain"


def test_thresholds_come_from_the_config(repo_config_data: dict[str, Any], tmp_path: Path) -> None:
    data = dict(repo_config_data)
    data["matching"] = {**data["matching"], "thresholds": {"relevant": 0.99, "uncertain": 0.5}}
    strict = compile_rules(parse_config(data, tmp_path / "config.yaml"))
    result = classify(strict, ItemText(title="Care leavers get new support"))
    assert result.state == "uncertain"


def test_hostile_input_does_not_crash(judge: Judge) -> None:
    junk = "(" * 5000 + "section " * 2000 + "\x00\u0130" * 100
    result = judge(junk, junk, junk, content=junk)
    assert result.state in ("relevant", "uncertain", "rejected")


# --- what an item announces: the headline event, its tense and sense --------------------------


@pytest.mark.parametrize(
    ("title", "summary", "expected"),
    [
        ("New rights for care leavers became law from Saturday", "", "commencement"),
        (
            "Councils now have new duties",
            "Care leavers are now entitled to a personal adviser up to the age of 25.",
            "commencement",
        ),
        ("Regulation of social workers transfers to Social Work England", "", "commencement"),
        ("Relationships education will become compulsory", "", "other"),
        ("Relationships education set to become compulsory in 2020", "", "other"),
        (
            "Corporate parenting duties come into force today",
            "Guidance published today explains the seven principles.",
            "commencement",
        ),
        (
            "Care leaver support hampered by funding issues, say councils",
            "Councils say a funding shortfall limits personal advisers.",
            "other",
        ),
        (
            "Statutory guidance on corporate parenting published",
            "The guidance follows a consultation last year.",
            "guidance",
        ),
        ("Minister lays out plans for care leavers", "", "other"),
        ("Independent trust takes over children's services", "The trust is a charity.", "other"),
    ],
)
def test_the_type_is_what_the_item_announces(
    judge: Judge, title: str, summary: str, expected: str
) -> None:
    assert judge(title, summary).event_type == expected


def test_a_negated_event_is_not_announced(judge: Judge) -> None:
    result = judge("Care leaver duties will not come into force until next year")
    assert result.event_type != "commencement"


@pytest.mark.parametrize(
    ("title", "strand"),
    [
        ("New RHSE guidance for schools", "relationships-education"),
        (
            "Personal, Social, Health and Economic education to be reviewed",
            "relationships-education",
        ),
        ("What Works for Children's Social Care names new trials", "sector-led-improvement"),
    ],
)
def test_aliases_play_their_cues_role(judge: Judge, title: str, strand: str) -> None:
    result = judge(title)
    assert strand in result.strands
    assert result.state != "rejected"


def test_a_publisher_that_is_itself_the_signal(judge: Judge) -> None:
    result = judge(
        "New guide to family group conferences",
        "Our latest evidence review.",
        link="https://whatworks-csc.org.uk/blog/new-guide",
    )
    assert result.relevant and result.strands == ("sector-led-improvement",)
    assert any(entry.kind == "publisher" for entry in result.evidence)


def test_another_jurisdictions_government_is_not_the_act(judge: Judge) -> None:
    result = judge(
        "A promise from Wales: charter for care leavers",
        "Every care leaver will have a personal adviser and a local offer.",
        link="https://www.gov.wales/promise-care-leavers",
    )
    assert result.state == "rejected"
    assert any(entry.kind == "jurisdiction" and entry.field == "link" for entry in result.evidence)


def test_the_act_named_beside_another_jurisdiction_stays_relevant(judge: Judge) -> None:
    result = judge(
        "English councils can place children in secure accommodation in Scotland",
        "Section 10 of the Children and Social Work Act 2017 is now in force.",
    )
    assert result.relevant


def test_england_beside_another_jurisdiction_is_not_rejected_outright(judge: Judge) -> None:
    result = judge(
        "English councils can now place children in Scottish secure units",
        "Care leavers and corporate parenting duties apply in England.",
    )
    assert result.state != "rejected"


def test_part_and_section_references_map_to_strands_anywhere(judge: Judge) -> None:
    result = judge("MPs call for a review of Part 2 of the Children and Social Work Act 2017", "")
    assert "social-work-england" in result.strands
    assert any(entry.kind == "section" for entry in result.evidence)
    other_act = judge(
        "Local safeguarding arrangements",
        "Sections 13, 14 and 16 of the Children Act 2004 set the old boards' rules.",
    )
    assert not any(entry.kind == "section" for entry in other_act.evidence)


def test_a_passing_mention_weighs_less_than_the_subject(judge: Judge) -> None:
    subject = judge("Virtual school heads get new duties", "Councils must appoint one.")
    passing = judge(
        "Pupil premium plus rates for 2019",
        "Schools receive the grant per pupil. It is managed by the virtual school head.",
    )
    assert passing.confidence < subject.confidence


@pytest.mark.parametrize(
    "text",
    [
        "Funding announced. The council will consult; details follow: soon - maybe – later — now.",
        "No. 3 Regulations. S. 16E applies. ss. 4 and s. 5 apply. Sch. 2. reg. 7. c. 16. Done!",
        "A list: one; two - three. lower case after. Upper After? Yes! 2018. 3 items",
        "No dashes here. Only stops; and colons: fine.\nNew line. Tab\t. End",
        "hyphenated-word isn't a break - but this is\u2013\u2014 and this \u2014 too",
        "",
    ],
)
def test_clause_starts_are_where_any_break_ends(text: str) -> None:
    # The break pattern is written for speed (one class first, no spaces without a dash): the
    # clauses must start where the plain alternation of the three kinds of break ends.
    import re

    from actwatch.matching.classify import _SENTENCE_END, _clauses

    plain = re.compile(_SENTENCE_END + r"|[;:]\s+|\s[\u2013\u2014-]\s")
    assert _clauses(text) == [0, *(match.end() for match in plain.finditer(text))]


@pytest.mark.parametrize(
    "link",
    [
        "https://www.gov.uk/government/news/x",
        "http://WWW.Legislation.GOV.uk/uksi/2018/1/made",
        "https://example.org.",
        "https://example.org?q=1",
        "https://example.org#top",
        "https://user:secret@example.org/",
        "https://example.org:8443/feed",
        " https://example.org/",
        "https://exam\tple.org/",
        "https://example.org/a\nb",
        "HTTPS://EXAMPLE.ORG/",
        "https://[::1]/",
        "https://[::1/",
        "ftp://example.org/",
        "//example.org/",
        "not a link",
        "",
    ],
)
def test_host_is_what_urlsplit_says(link: str) -> None:
    from urllib.parse import urlsplit

    from actwatch.matching.classify import _host

    try:
        expected = (urlsplit(link).hostname or "").lower().rstrip(".")
    except ValueError:
        expected = ""
    assert _host(link) == expected


def test_evidence_as_dict_leaves_out_what_is_missing() -> None:
    from actwatch.matching.model import Evidence

    assert list(Evidence("c", "k", "f", "t", None, "news", 0.5).as_dict().items()) == [
        ("cue", "c"),
        ("kind", "k"),
        ("field", "f"),
        ("text", "t"),
        ("event_type", "news"),
        ("weight", 0.5),
    ]
    assert Evidence("c", "k", "f", "t", "s").as_dict() == {
        "cue": "c",
        "kind": "k",
        "field": "f",
        "text": "t",
        "strand": "s",
        "weight": 0.0,
    }
