"""When the service drafts a season, and that it does so once and tells the editor once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from actwatch.bulletin.seasons import draft_due_at, parse_season
from actwatch.config import parse_config
from actwatch.db.schema import bulletins
from actwatch.service.drafting import check_draft


def _config(tmp_path: Path, repo_config_data: dict[str, Any], **schedule: Any) -> Any:
    data = {**repo_config_data, "database": {"url": "sqlite:///actwatch.db"}}
    data["schedule"] = {**data["schedule"], **schedule}
    return parse_config(data, tmp_path / "config.yaml")


def test_due_a_day_after_the_season_at_the_local_time(
    tmp_path: Path, repo_config_data: dict[str, Any]
) -> None:
    config = _config(tmp_path, repo_config_data, draft_after="1d", draft_at="09:00")
    autumn = parse_season(config, "autumn-2017")  # ends at midnight starting 1 Dec 2017 (GMT)
    assert draft_due_at(config, autumn) == datetime(2017, 12, 2, 9, 0, tzinfo=UTC)
    summer = parse_season(config, "summer-2017")  # 2 Sep 09:00 BST is 08:00 UTC
    assert draft_due_at(config, summer) == datetime(2017, 9, 2, 8, 0, tzinfo=UTC)
    # A draft_after ending after the time of day moves to the next day's draft_at.
    late = _config(tmp_path, repo_config_data, draft_after="34h", draft_at="09:00")
    assert draft_due_at(late, autumn) == datetime(2017, 12, 3, 9, 0, tzinfo=UTC)


def test_drafts_once_after_a_poll_that_finished_after_the_due_time(
    tmp_path: Path, repo_config_data: dict[str, Any], engine: Engine
) -> None:
    config = _config(tmp_path, repo_config_data, draft_after="1d", draft_at="09:00")
    due = datetime(2017, 12, 2, 9, 0, tzinfo=UTC)

    early = check_draft(engine, config, due - timedelta(minutes=1), due)
    assert early.season.slug == "autumn-2017"
    assert early.waiting_for == "not due yet" and early.bulletin_id is None

    # Due, but the last poll finished before the due time: its items may be missing.
    stale = check_draft(engine, config, due + timedelta(hours=3), due - timedelta(hours=1))
    assert stale.bulletin_id is None and stale.waiting_for is not None
    never = check_draft(engine, config, due + timedelta(hours=3), None)
    assert never.bulletin_id is None

    made = check_draft(
        engine, config, due + timedelta(hours=3), due + timedelta(hours=2), notify=False
    )
    assert made.created and made.bulletin_id is not None and made.notify

    # Every later check finds it: no second draft, and it still asks for the notification
    # until the editor has been told.
    again = check_draft(
        engine, config, due + timedelta(hours=4), due + timedelta(hours=4), notify=False
    )
    assert (again.bulletin_id, again.created, again.notify) == (made.bulletin_id, False, True)
    assert not again.told
    with engine.begin() as connection:
        connection.execute(bulletins.update().values(editor_notified_at=due + timedelta(hours=4)))
    told = check_draft(engine, config, due + timedelta(hours=5), due + timedelta(hours=5))
    assert not told.notify
    with engine.connect() as connection:
        assert len(connection.execute(select(bulletins.c.id)).all()) == 1


def test_a_service_down_for_the_due_time_catches_up_with_the_latest_season(
    tmp_path: Path, repo_config_data: dict[str, Any], engine: Engine
) -> None:
    config = _config(tmp_path, repo_config_data)
    # Down from November to mid-March: autumn is over and winter has ended too.
    now = datetime(2018, 3, 15, 12, 0, tzinfo=UTC)
    checked = check_draft(engine, config, now, now)
    assert checked.created and checked.season.slug == "winter-2017"
