"""The pipeline's verbs, which every face calls: poll and match, draft and notify, approve,
render. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from actwatch.bulletin import parse_season
from actwatch.config import Config, parse_config
from actwatch.db.schema import bulletins
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
