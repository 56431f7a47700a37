"""What a bulletin says is as of its issue date; only instruments and official notices date a
commencement; press reports sit beside the row they report; each item is filed under its most
specific strand. Built on a season like summer 2018, issued on 2 September: an instrument made
in August brings sections 4-7 into force on 1 September."""

from __future__ import annotations

from datetime import UTC, date, datetime

from actwatch.bulletin.compose import compose
from actwatch.bulletin.model import Bulletin, StoredCommencement, StoredItem
from actwatch.bulletin.render import at_a_glance, preview_links, render_markdown, render_text
from actwatch.bulletin.seasons import parse_season
from actwatch.config import Config

INSTRUMENT = StoredItem(
    id=1,
    title="The Children and Social Work Act 2017 (Commencement No. 5) Regulations 2018",
    link="https://www.legislation.gov.uk/uksi/2018/945/contents/made",
    source="legislation.gov.uk",
    published_at=datetime(2018, 8, 20, 10, tzinfo=UTC),
    summary="These Regulations bring into force sections 4 to 7 on 1st September 2018.",
    event_type="commencement",
    strands=("schools-accountability",),
)
ROWS = [
    StoredCommencement(item_id=1, section=str(number), in_force_on=date(2018, 9, 1))
    for number in (4, 5, 6, 7)
]
PRESS = StoredItem(
    id=2,
    title="Virtual school heads now responsible for previously looked-after children",
    link="https://www.communitycare.co.uk/2018/09/03/virtual-school-heads-duties/",
    source="Community Care",
    published_at=datetime(2018, 9, 3, 7, tzinfo=UTC),
    summary="The new duties on virtual school heads and designated teachers came into force.",
    event_type="commencement",
    strands=("schools-accountability",),
)
NOTICE = StoredItem(
    id=3,
    title="Care leavers: personal advisers up to 25 from today",
    link="https://www.gov.uk/government/news/personal-advisers-up-to-25",
    source="GOV.UK",
    published_at=datetime(2018, 10, 1, 9, tzinfo=UTC),
    summary="Councils must now offer a personal adviser to every care leaver up to age 25.",
    event_type="commencement",
    strands=("care-leavers",),
)
LONE_PRESS = StoredItem(
    id=4,
    title="RSE duties start in schools, say campaigners",
    link="https://www.cypnow.co.uk/news/rse-duties-start",
    source="CYP Now",
    published_at=datetime(2018, 10, 15, 9, tzinfo=UTC),
    summary="Campaigners say the relationships education duties are now in force.",
    event_type="commencement",
    strands=("relationships-education",),
)
COVENANT = StoredItem(
    id=5,
    title="Businesses and charities sign up to Care Leaver Covenant",
    link="https://www.gov.uk/government/news/care-leaver-covenant-launched",
    source="GOV.UK",
    published_at=datetime(2018, 10, 25, 23, tzinfo=UTC),
    summary="Employers, charities and government departments pledge jobs for care leavers.",
    event_type="other",
    strands=("mixed-economy", "care-leavers"),
)


def summer(config: Config, issued_on: date = date(2018, 9, 2)) -> Bulletin:
    return compose(
        config,
        parse_season(config, "summer-2018"),
        items=[INSTRUMENT],
        commencements=ROWS,
        issued_on=issued_on,
    )


def autumn(config: Config, *extra: StoredItem) -> Bulletin:
    return compose(
        config,
        parse_season(config, "autumn-2018"),
        items=[INSTRUMENT, PRESS, *extra],
        commencements=ROWS,
        issued_on=date(2018, 12, 2),
    )


def test_coming_up_and_the_tracker_are_as_of_the_issue_date(config: Config) -> None:
    bulletin = summer(config)
    # 1 September is before the issue date: it came into force, it is not coming up.
    assert bulletin.coming_up.entries == ()
    [commenced] = bulletin.commenced.entries
    assert commenced.in_force_on == date(2018, 9, 1)
    row = {row.slug: row for row in bulletin.tracker}["schools-accountability"]
    assert row.status == "in-force" and row.next_date is None
    text = render_text(bulletin, preview_links(config, "summer-2018"))
    assert "Each strand as of 2 September 2018." in text
    assert "next: 1 Sep 2018" not in text and "COMING UP" not in text


def test_the_same_season_issued_before_the_date_lists_it_as_coming_up(config: Config) -> None:
    bulletin = summer(config, issued_on=date(2018, 8, 31))
    [coming] = bulletin.coming_up.entries
    assert coming.in_force_on == date(2018, 9, 1) and bulletin.commenced.entries == ()
    row = {row.slug: row for row in bulletin.tracker}["schools-accountability"]
    assert row.status == "awaiting-commencement" and row.next_date == date(2018, 9, 1)


def test_every_date_follows_the_issue_date_in_every_format(config: Config) -> None:
    bulletin = summer(config)
    links = preview_links(config, "summer-2018")
    markdown = render_markdown(bulletin, links)
    assert "date: 2018-09-02" in markdown and "As of 2 September 2018:" in markdown
    assert "2 September 2018" in render_text(bulletin, links).splitlines()[3]


def test_press_coverage_sits_beside_the_commencement_it_reports(config: Config) -> None:
    bulletin = autumn(config)
    # One row, dated by the instrument, with the press report as a source; no second row
    # dated by the article.
    [row] = bulletin.commenced.entries
    assert row.in_force_on == date(2018, 9, 1)
    assert row.instrument is not None and row.instrument.item_id == INSTRUMENT.id
    assert [entry.item_id for entry in row.coverage] == [PRESS.id]
    assert "1 commencement" in at_a_glance(bulletin)
    assert all(PRESS.title not in [e.title for e in s.entries] for s in bulletin.strand_sections)
    text = render_text(bulletin, preview_links(config, "autumn-2018"))
    assert "3 September 2018" not in text
    assert f"See also: {PRESS.title}" in " ".join(text.split())


def test_an_official_notice_with_no_instrument_makes_its_own_row(config: Config) -> None:
    bulletin = autumn(config, NOTICE)
    dates = [row.in_force_on for row in bulletin.commenced.entries]
    assert dates == [date(2018, 9, 1), date(2018, 10, 1)]
    notice_row = bulletin.commenced.entries[1]
    assert notice_row.instrument is not None and notice_row.instrument.item_id == NOTICE.id


def test_press_news_of_a_commencement_no_row_matches_is_news_in_its_strand(
    config: Config,
) -> None:
    bulletin = autumn(config, LONE_PRESS)
    assert [row.in_force_on for row in bulletin.commenced.entries] == [date(2018, 9, 1)]
    [section] = [s for s in bulletin.strand_sections if s.slug == "relationships-education"]
    [entry] = section.entries
    assert entry.item_id == LONE_PRESS.id and entry.event_label == "Came into force"


def test_an_item_is_filed_under_its_most_specific_strand(config: Config) -> None:
    bulletin = autumn(config, COVENANT)
    placed = {entry.item_id: s.slug for s in bulletin.strand_sections for entry in s.entries}
    # Care leavers (sections 2-3 of the Act) before the mixed economy (a policy programme).
    assert placed[COVENANT.id] == "care-leavers"
    [section] = [s for s in bulletin.strand_sections if s.slug == "care-leavers"]
    assert section.entries[0].strands == ("Care leavers", "Mixed economy of providers")


def test_a_commencements_qualification_is_shown_whole(config: Config) -> None:
    purpose = (
        "so far as they relate to consultation on, and the parliamentary procedure for,"
        " regulations about the regulation of social workers"
    )
    rows = [
        StoredCommencement(
            item_id=1, section=str(n), in_force_on=date(2018, 8, 25), purpose=purpose
        )
        for n in (58, 59)
    ]
    bulletin = compose(
        config,
        parse_season(config, "summer-2018"),
        items=[INSTRUMENT],
        commencements=rows,
        issued_on=date(2018, 9, 2),
    )
    [row] = bulletin.commenced.entries
    assert row.provisions == "sections 58 and 59" and row.purpose == purpose
    links = preview_links(config, "summer-2018")
    for text in (render_text(bulletin, links), render_markdown(bulletin, links)):
        assert f"Sections 58 and 59 ({purpose})" in " ".join(text.split()) or (
            f"sections 58 and 59 ({purpose})" in " ".join(text.split())
        )


def test_an_instrument_made_after_the_season_is_the_next_bulletins_news(config: Config) -> None:
    later = StoredItem(
        id=9,
        title="The Children and Social Work Act 2017 (Commencement No. 6) Regulations 2019",
        link="https://www.legislation.gov.uk/uksi/2019/1078/contents/made",
        source="legislation.gov.uk",
        published_at=datetime(2019, 6, 20, 10, tzinfo=UTC),
        event_type="commencement",
    )
    rows = [*ROWS, StoredCommencement(item_id=9, section="Part 2", in_force_on=date(2019, 7, 1))]
    # Drafted long after the fact and issued today: what came into force since the season
    # began, of what was known by its end; the tracker is as of today.
    bulletin = compose(
        config,
        parse_season(config, "summer-2018"),
        items=[INSTRUMENT, later],
        commencements=rows,
        issued_on=date(2026, 12, 1),
    )
    assert [row.in_force_on for row in bulletin.commenced.entries] == [date(2018, 9, 1)]
    assert bulletin.coming_up.entries == ()
    row = {row.slug: row for row in bulletin.tracker}["social-work-england"]
    assert row.status in ("in-force", "partly-in-force")
