"""The pipeline's verbs, which every face calls: poll and match, draft and notify, approve,
render. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from actwatch.bulletin import parse_season
from actwatch.config import Config, parse_config
from actwatch.db.schema import bulletins, item_matches
from actwatch.demo.samples.server import FeedServer, running
from actwatch.mail import MaildirTransport
from actwatch.pipeline import approve, draft_and_notify, poll_and_match, render
from actwatch.review import ConflictError, render_for_approval
from tests.bulletin.conftest import pinned_data
from tests.bulletin.fixtures import NOW, insert_fixture
from tests.conftest import free_port

AUTUMN = "autumn-2017"


@pytest.fixture
def config(tmp_path: Path, repo_config_data: dict[str, Any]) -> Config:
    data = pinned_data(repo_config_data)
    data["mail"] = {**data["mail"], "url": "maildir:mail"}
    data["feeds"] = []
    return parse_config(data, tmp_path / "config.yaml")


def _mails(config: Config) -> list[EmailMessage]:
    assert config.maildir is not None
    return MaildirTransport(config.maildir).messages()


def test_draft_and_notify_drafts_and_tells_the_editor_once(engine: Engine, config: Config) -> None:
    insert_fixture(engine)
    autumn = parse_season(config, AUTUMN)
    first = draft_and_notify(engine, config, autumn, now=NOW)
    assert first.draft.created and first.draft.total > 0
    assert first.notified.told and first.notified.error is None
    [told] = _mails(config)
    assert told["Subject"].startswith("Draft ready for review: Autumn 2017")
    again = draft_and_notify(engine, config, autumn, now=NOW)
    assert not again.draft.created and again.draft.bulletin_id == first.draft.bulletin_id
    assert not again.notified.told and len(_mails(config)) == 1
    quiet = draft_and_notify(engine, config, autumn, now=NOW, notify=False)
    assert quiet.notified.told is False and len(_mails(config)) == 1


def test_a_failed_email_keeps_the_draft_and_is_tried_again(
    engine: Engine, tmp_path: Path, repo_config_data: dict[str, Any]
) -> None:
    data = pinned_data(repo_config_data)
    data["mail"] = {**data["mail"], "url": f"smtp://127.0.0.1:{free_port()}"}
    down = parse_config(data, tmp_path / "config.yaml")
    insert_fixture(engine)
    drafted = draft_and_notify(engine, down, parse_season(down, AUTUMN), now=NOW)
    assert drafted.draft.created and not drafted.notified.told
    assert drafted.notified.error
    with engine.connect() as connection:
        notified_at = connection.execute(select(bulletins.c.editor_notified_at)).scalar_one()
    assert notified_at is None  # released: the next draft_and_notify tries again


def test_approve_takes_the_start_of_the_hash_and_refuses_another(
    engine: Engine, config: Config
) -> None:
    insert_fixture(engine)
    drafted = draft_and_notify(engine, config, parse_season(config, AUTUMN), now=NOW, notify=False)
    bulletin_id = drafted.draft.bulletin_id
    current = render_for_approval(engine, config, bulletin_id).content_hash
    wrong = ("0" if current[0] != "0" else "1") + current[1:12]
    with pytest.raises(ConflictError, match="content changed"):
        approve(engine, config, bulletin_id, by="Jo Broad", expected_hash=wrong)
    approval = approve(engine, config, bulletin_id, by="Jo Broad", expected_hash=current[:12])
    assert approval.content_hash == current


def test_render_composes_once_for_every_format(engine: Engine, config: Config) -> None:
    insert_fixture(engine)
    draft_and_notify(engine, config, parse_season(config, AUTUMN), now=NOW, notify=False)
    rendered = render(engine, config, AUTUMN)
    assert set(rendered) == {"html", "text", "markdown"}
    assert rendered["html"].startswith("<!doctype html>")
    assert rendered["markdown"].startswith("---\n")
    assert list(render(engine, config, AUTUMN, ["text"])) == ["text"]


def test_poll_and_match_stops_when_told(engine: Engine, config: Config) -> None:
    stop = threading.Event()
    stop.set()
    assert poll_and_match(engine, config, stop=stop) is None
    polled = poll_and_match(engine, config)
    assert polled is not None and polled.matching is not None
    assert polled.as_dict()["feeds"] == 0 and polled.as_dict()["matching"]["classified"] == 0


def _rss(link: str, title: str, summary: str = "") -> bytes:
    description = f"<description>{summary}</description>" if summary else ""
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        f"<item><title>{title}</title><link>{link}</link>{description}"
        "<pubDate>Mon, 02 Oct 2017 10:00:00 +0000</pubDate></item></channel></rss>"
    ).encode()


def test_a_summary_another_feed_brings_later_is_matched_again(
    engine: Engine, tmp_path: Path, repo_config_data: dict[str, Any]
) -> None:
    """A search feed gives the title alone; a second feed brings the summary the first left
    out: the verdict is worked out again on the fuller words."""
    link = "https://www.gov.uk/government/news/new-duties-for-councils"
    server = FeedServer()
    server.put("/search.rss", _rss(link, "New duties for councils"))
    server.put(
        "/news.rss",
        _rss(
            link,
            "New duties for councils",
            "Corporate parenting principles under the Children and Social Work Act 2017 come "
            "into force: councils must publish their local offer for care leavers.",
        ),
    )
    data = pinned_data(repo_config_data)
    data["matching"] = {**data["matching"], "fetch_instruments": False}
    with running(server):
        data["feeds"] = [{"name": "search", "url": server.url("/search.rss")}]
        first = poll_and_match(engine, parse_config(data, tmp_path / "config.yaml"))
        assert first is not None and first.matching is not None
        assert first.matching.classified == 1
        title_only = _verdict(engine)
        data["feeds"].append({"name": "news", "url": server.url("/news.rss")})
        later = datetime.now(UTC) + timedelta(minutes=1)
        second = poll_and_match(engine, parse_config(data, tmp_path / "config.yaml"), now=later)
    assert second is not None and second.matching is not None
    assert (second.poll.new_items, second.matching.classified) == (0, 1)
    with_summary = _verdict(engine)
    assert with_summary["state"] == "relevant" != title_only["state"]
    assert any(entry["field"] == "summary" for entry in with_summary["evidence"])


def _verdict(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        (row,) = connection.execute(select(item_matches)).all()
    return dict(row._mapping)
