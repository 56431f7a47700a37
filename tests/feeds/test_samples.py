"""The bundled sample feeds, served by the package's own server, polled end to end."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from actwatch.config import Config
from actwatch.db.schema import item_sources, items
from actwatch.demo.samples import (
    SAMPLE_TITLES,
    sample_documents,
    sample_feed_configs,
    sample_files,
    serve_samples,
)
from actwatch.feeds import poll_feeds
from actwatch.feeds.parse import parse_feed

EXPECTED: dict[str, Any] = json.loads(
    (resources.files("actwatch.demo.samples") / "expected.json").read_text(encoding="utf-8")
)
NOW = datetime(2020, 1, 6, tzinfo=UTC)


def test_every_sample_file_is_described_and_served() -> None:
    names = {entry.name for entry in sample_files()}
    assert names == set(EXPECTED["files"])
    assert {name.rsplit(".", 1)[0] for name in names} == set(SAMPLE_TITLES)
    assert sum(info["entries"] for info in EXPECTED["files"].values()) == EXPECTED["total_entries"]


@pytest.mark.parametrize("name", sorted(EXPECTED["files"]))
def test_sample_parses_to_the_expected_canonical_links(name: str) -> None:
    expected = EXPECTED["files"][name]
    body = (resources.files("actwatch.demo.samples") / name).read_bytes()
    parsed = parse_feed(body, f"https://feeds.example.org/{name}", None, NOW)
    assert parsed.error is None, parsed.error
    assert parsed.warning is None, parsed.warning
    assert len(parsed.entries) == expected["entries"]
    assert [entry.canonical_link for entry in parsed.entries] == expected["links"]
    for entry in parsed.entries:
        assert entry.title and "\n" not in entry.title
        assert entry.published is not None and entry.published.tzinfo is UTC
        assert (
            datetime(2016, 1, 1, tzinfo=UTC) <= entry.published < datetime(2020, 1, 1, tzinfo=UTC)
        )


def test_sample_metadata_is_kept() -> None:
    body = (resources.files("actwatch.demo.samples") / "legislation-cswa-2017.atom").read_bytes()
    entries = parse_feed(body, "https://www.legislation.gov.uk/uksi/data.feed", None, NOW).entries
    commencement = next(entry for entry in entries if "(Commencement No. 3)" in entry.title)
    meta = commencement.source_meta["legislation"]
    assert (meta["year"], meta["number"], meta["type"]) == (
        2018,
        346,
        "UnitedKingdomStatutoryInstrument",
    )
    assert meta["made"] == "2018-03-01"
    assert meta["alternative_number"]["category"] == "C"
    body = (resources.files("actwatch.demo.samples") / "gov-uk-dfe.atom").read_bytes()
    hints = {
        entry.type_hint
        for entry in parse_feed(body, "https://www.gov.uk/x.atom", None, NOW).entries
    }
    assert {"Press release", "Statutory guidance"} <= hints
    body = (resources.files("actwatch.demo.samples") / "communitycare.rss").read_bytes()
    first = parse_feed(body, "https://www.communitycare.co.uk/feed/", None, NOW).entries[0]
    assert first.source_meta.get("categories") and first.content_html


def test_sample_feed_configs_name_every_file() -> None:
    configs = sample_feed_configs("http://127.0.0.1:9/")
    assert [config["url"] for config in configs] == [
        f"http://127.0.0.1:9/{entry.name}" for entry in sample_files()
    ]
    by_name = {config["name"]: config for config in configs}
    assert by_name["gov-uk-dfe"]["title"] == "GOV.UK (DfE)"
    assert by_name["communitycare"]["title"] == "Community Care"


def test_polling_the_samples_stores_every_story_once_then_all_304(
    engine: Engine, make_config: Callable[..., Config]
) -> None:
    with serve_samples() as base_url:
        config = make_config(sample_feed_configs(base_url))
        first = poll_feeds(engine, config, now=NOW)
        assert (first.ok, first.failed) == (len(EXPECTED["files"]), 0), first.outcomes
        assert first.new_items == EXPECTED["unique_links"]
        with engine.connect() as connection:
            links = set(connection.execute(select(items.c.canonical_link)).scalars())
            sources = connection.execute(
                select(func.count()).select_from(item_sources)
            ).scalar_one()
        every_link = {link for info in EXPECTED["files"].values() for link in info["links"]}
        assert links == every_link
        assert sources == len(
            {(name, link) for name, info in EXPECTED["files"].items() for link in info["links"]}
        )
        assert set(EXPECTED["relevant_links"]) <= links

        second = poll_feeds(engine, config, now=NOW + timedelta(hours=1))
        assert second.not_modified == len(EXPECTED["files"])
        assert (second.ok, second.new_items, second.updated_items, second.failed) == (0, 0, 0, 0)


def test_sample_server_speaks_conditional_get_and_gzip() -> None:
    import httpx

    with serve_samples() as base_url:
        url = f"{base_url}/whatworks.rss"
        first = httpx.get(url, headers={"Accept-Encoding": "gzip"})
        assert first.status_code == 200 and first.headers["content-encoding"] == "gzip"
        assert first.content == sample_documents()["/whatworks.rss"].body
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
        assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
        assert httpx.get(f"{base_url}/nope.rss").status_code == 404
