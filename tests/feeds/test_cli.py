"""`actwatch poll`, `feeds` and `items` through the real command line."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import insert

from actwatch.cli import main
from actwatch.config import load_config
from actwatch.db import make_engine, upgrade
from actwatch.db.schema import item_matches, item_strands
from actwatch.demo.samples.server import FeedServer
from actwatch.feeds import poll_feeds
from tests.feeds.conftest import FAST_FETCH, good_feed_configs


@pytest.fixture
def write_offline_config(
    write_config: Callable[..., Path], repo_config_data: dict[str, Any]
) -> Callable[..., Path]:
    """The poll command also classifies: keep the matcher off the network too."""
    matching = {**repo_config_data["matching"], "fetch_instruments": False}
    return lambda **sections: write_config(matching=matching, fetch=FAST_FETCH, **sections)


@pytest.fixture
def config_file(feed_server: FeedServer, write_offline_config: Callable[..., Path]) -> Path:
    feeds = [
        *good_feed_configs(feed_server),
        {"name": "broken", "url": feed_server.url("/500")},
        {"name": "webpage", "url": feed_server.url("/html")},
    ]
    return write_offline_config(feeds=feeds)


def run(config_file: Path, *args: str) -> Any:
    runner = CliRunner(env={"COLUMNS": "200"})
    return runner.invoke(main, ["--config", str(config_file), *args], terminal_width=200)


def test_poll_json_then_all_304(config_file: Path) -> None:
    first = run(config_file, "poll", "--json")
    assert first.exit_code == 0, first.output
    counts = json.loads(first.stdout)
    assert {key: counts[key] for key in ("feeds", "ok", "not_modified", "failed", "new_items")} == {
        "feeds": 7,
        "ok": 5,
        "not_modified": 0,
        "failed": 2,
        "new_items": 14,
    }
    assert counts["updated_items"] == 0 and counts["seconds"] > 0
    second = json.loads(run(config_file, "poll", "--json").stdout)
    assert (second["not_modified"], second["new_items"], second["failed"]) == (5, 0, 2)


def test_poll_json_seconds_cover_the_pass_and_the_matching(config_file: Path) -> None:
    counts = json.loads(run(config_file, "poll", "--json").stdout)
    steps = counts["seconds_by_step"]
    assert set(steps) == {"fetch", "parse", "store", "classify"}
    assert all(steps[step] > 0 for step in steps), steps
    # Fetch, parse and store overlap inside the pass; matching follows it (figures rounded).
    in_pass = max(steps["fetch"], steps["parse"], steps["store"])
    assert counts["seconds"] >= in_pass + steps["classify"] - 0.002
    assert counts["matching"]["classified"] == 14


def test_poll_names_failing_feeds_and_exits_0(config_file: Path) -> None:
    result = run(config_file, "poll")
    assert result.exit_code == 0, result.output
    assert "7 feeds" in result.output and "5 ok" in result.output and "2 failed" in result.output
    assert "broken: HTTP 500 Internal Server Error" in result.output
    assert "webpage: the server sent an HTML page" in result.output


def test_poll_one_feed_and_unknown_feed(config_file: Path) -> None:
    one = json.loads(run(config_file, "poll", "--feed", "cypnow", "--json").stdout)
    assert (one["feeds"], one["new_items"]) == (1, 1)
    unknown = run(config_file, "poll", "--feed", "nope")
    assert unknown.exit_code == 1
    assert "no feed named 'nope'" in unknown.output


def test_feeds_shows_broken_feeds_at_a_glance(config_file: Path) -> None:
    run(config_file, "poll")
    listing = json.loads(run(config_file, "feeds", "--json").stdout)
    by_name = {row["name"]: row for row in listing}
    assert [row["name"] for row in listing][:2] == ["gov-uk-dfe", "legislation-cswa"]
    for row in listing:
        assert {"name", "url", "status", "error", "items", "last_fetched"} <= set(row)
    assert by_name["broken"]["status"] == "error"
    assert by_name["broken"]["error"].startswith("HTTP 500")
    assert (by_name["community-care"]["status"], by_name["community-care"]["items"]) == ("ok", 3)
    datetime.fromisoformat(by_name["community-care"]["last_fetched"])

    table = run(config_file, "feeds")
    assert table.exit_code == 0
    assert "7 feeds, 2 broken" in table.output
    assert "HTTP 500 Internal Server Error" in table.output


def test_feeds_before_any_poll_lists_the_configured_feeds(config_file: Path) -> None:
    listing = json.loads(run(config_file, "feeds", "--json").stdout)
    assert len(listing) == 7
    assert {row["status"] for row in listing} == {"new"}
    assert {row["last_fetched"] for row in listing} == {None}


def test_feeds_enable_reenables_a_gone_feed(
    feed_server: FeedServer, write_offline_config: Callable[..., Path]
) -> None:
    config_file = write_offline_config(feeds=[{"name": "gone", "url": feed_server.url("/410")}])
    run(config_file, "poll")
    row = json.loads(run(config_file, "feeds", "--json").stdout)[0]
    assert (row["status"], row["enabled"]) == ("disabled", False)
    assert "410 Gone" in row["error"]
    enabled = run(config_file, "feeds", "--enable", "gone", "--json")
    assert json.loads(enabled.stdout)[0]["status"] == "new"


def test_items_json_has_sources_and_match_fields(config_file: Path, tmp_path: Path) -> None:
    # The library pass stores items without classifying them (the poll command classifies).
    config = load_config(config_file)
    engine = make_engine(config.database_url)
    upgrade(engine)
    poll_feeds(engine, config)
    engine.dispose()
    rows = json.loads(run(config_file, "items", "--json").stdout)
    assert len(rows) == 14
    assert rows == sorted(rows, key=lambda row: row["published"], reverse=True)
    first = rows[0]
    for key in (
        "id",
        "title",
        "link",
        "sources",
        "published",
        "type_hint",
        "state",
        "relevant",
        "event_type",
        "strands",
        "confidence",
        "evidence",
    ):
        assert key in first
    assert first["state"] is None and first["strands"] is None and first["evidence"] is None

    by_link = {row["link"]: row for row in rows}
    instrument = by_link["http://www.legislation.gov.uk/id/uksi/2018/346"]  # as published
    assert instrument["sources"] == ["legislation-cswa"]
    engine = make_engine(f"sqlite:///{tmp_path / 'actwatch.db'}")
    with engine.begin() as connection:
        connection.execute(
            insert(item_matches).values(
                item_id=instrument["id"],
                state="relevant",
                relevant=True,
                event_type="commencement",
                confidence=0.9,
                evidence=[{"cue": "Commencement No. 3"}],
                rules_hash="x",
                classified_at=datetime(2020, 1, 1, tzinfo=UTC),
            )
        )
        connection.execute(
            insert(item_strands).values(
                item_id=instrument["id"], strand="safeguarding-partnerships"
            )
        )
    engine.dispose()
    rows = json.loads(run(config_file, "items", "--json").stdout)
    matched = {row["link"]: row for row in rows}[instrument["link"]]
    assert (matched["state"], matched["event_type"], matched["strands"]) == (
        "relevant",
        "commencement",
        ["safeguarding-partnerships"],
    )
    assert matched["evidence"] == [{"cue": "Commencement No. 3"}]

    since = json.loads(run(config_file, "items", "--since", "2019-01-01", "--json").stdout)
    assert {row["published"][:4] for row in since} <= {"2019", "2020", "2026"}
    assert all(row["published"] >= "2019-01-01" for row in since)
    table = run(config_file, "items")
    assert table.exit_code == 0 and "Commencement No. 3" in table.output


def test_feeds_json_keeps_the_last_warning_and_the_last_error_apart(
    feed_server: FeedServer, write_offline_config: Callable[..., Path]
) -> None:
    from tests.feeds.conftest import FEEDS

    dated = (FEEDS / "fastmailstatus.rss").read_bytes()
    undated_body = (FEEDS / "broken-dates.rss").read_bytes()
    feed_server.put("/flaky.rss", undated_body)
    config_file = write_offline_config(
        feeds=[{"name": "flaky", "url": feed_server.url("/flaky.rss")}]
    )
    run(config_file, "poll")
    row = json.loads(run(config_file, "feeds", "--json").stdout)[0]
    assert row["warning"] == row["last_warning"]["message"]
    assert "4 entries without a usable date" in row["warning"] and row["last_error"] is None

    feed_server.routes["/flaky.rss"] = lambda handler: handler.send_error(503)
    run(config_file, "poll", "--force")
    del feed_server.routes["/flaky.rss"]
    feed_server.put("/flaky.rss", dated)
    run(config_file, "poll", "--force")
    row = json.loads(run(config_file, "feeds", "--json").stdout)[0]
    # The latest fetch was clean; what went wrong before is still there, each in its place.
    assert (row["status"], row["error"], row["warning"]) == ("ok", None, None)
    assert row["last_error"]["message"].startswith("HTTP 503")
    assert "without a usable date" in row["last_warning"]["message"]
    assert row["last_warning"]["at"] <= row["last_error"]["at"]
    # Each fetch keeps its own warnings, newest first.
    assert [fetch["outcome"] for fetch in row["fetches"]] == ["ok", "error", "ok"]
    assert row["fetches"][0]["warnings"] == [] and row["fetches"][0]["entries"] == 10
    assert row["fetches"][1]["error"].startswith("HTTP 503")
    assert row["fetches"][2]["undated"] == 4 and row["fetches"][2]["warnings"]
    table = run(config_file, "feeds").output
    assert "last error" in table and "HTTP 503" in table
    listed = json.loads(run(config_file, "items", "--json").stdout)
    undated = [item for item in listed if item["date_source"] == "first_seen"]
    assert len(undated) == 4
    assert "undated: first seen" in run(config_file, "items").output
