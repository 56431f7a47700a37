"""The shipped config.yaml is the real configuration for the Children and Social Work Act 2017."""

from __future__ import annotations

from urllib.parse import urlsplit

from actwatch.config import EVENT_TYPE_SLUGS, load_config
from tests.conftest import REPO

# The canonical strand slugs of the domain brief (shared/domain.md).
STRAND_SLUGS = {
    "regional-commissioning",
    "mixed-economy",
    "sector-led-improvement",
    "corporate-parenting",
    "safeguarding-partnerships",
    "schools-accountability",
    "social-work-england",
    "relationships-education",
    "care-leavers",
}


def test_the_act_its_strands_and_types() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.act.legislation_id == "ukpga/2017/16"
    assert config.act.name == "Children and Social Work Act 2017"
    assert set(config.strands) == STRAND_SLUGS
    assert set(config.event_types) == set(EVENT_TYPE_SLUGS)
    for strand in config.strands.values():
        assert strand.name and strand.description and strand.cues
    assert {theme.name for theme in config.themes.values()} == {
        "People and Leadership",
        "Practice and Systems",
        "Governance and Accountability",
    }


def test_the_real_feeds_are_watched() -> None:
    config = load_config(REPO / "config.yaml")
    urls = [feed.url for feed in config.feeds]
    hosts = {urlsplit(url).hostname for url in urls}
    assert "https://www.gov.uk/government/organisations/department-for-education.atom" in urls
    assert "https://www.legislation.gov.uk/new/uksi/data.feed" in urls
    assert "https://www.legislation.gov.uk/changes/affected/ukpga/2017/16/data.feed" in urls
    assert any(
        "title=Children%20and%20Social%20Work%20Act%202017" in url and "sort=published" in url
        for url in urls
    )
    assert {"www.communitycare.co.uk", "www.cypnow.co.uk"} <= hosts
    assert any(url.startswith("https://www.gov.uk/search/") for url in urls)


def test_defaults_are_offline_and_keep_secrets_out() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.mail.url.startswith("maildir:")
    assert config.database_url.startswith("sqlite:///")
    assert config.schedule.timezone == "Europe/London"
    text = (REPO / "config.yaml").read_text(encoding="utf-8").lower()
    assert "password:" not in text and "secret_key:" not in text
