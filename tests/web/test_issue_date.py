"""One issue date for a bulletin, whoever shows it: the web editor's preview, `show` (the
pipeline's render), the approved copy and the archive page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select, update
from starlette.testclient import TestClient

from actwatch.config import Config
from actwatch.core import clock
from actwatch.db.schema import bulletins
from actwatch.pipeline import render
from actwatch.review import approve
from tests.review.conftest import Draft

Client = tuple[TestClient, str]
DATED = re.compile(r"^(\d{1,2} [A-Z][a-z]+ \d{4}), ", re.M)  # "2 December 2017, Robin Hale"


def issue_line(text: str) -> str:
    found = DATED.search(text)
    assert found, text[:400]
    return found.group(1)


def test_preview_show_approved_copy_and_archive_agree(
    editor_client: Client, draft: Draft, config: Config
) -> None:
    client, _ = editor_client
    today = clock.now().astimezone(config.schedule.zone).date()
    expected = f"{today.day} {today:%B %Y}"
    # A draft: the day approving it would issue it, in the preview and in `show` alike.
    preview = client.get("/editor/bulletins/1/preview?format=text").text
    shown = render(draft.engine, config, 1, ["text"])["text"]
    assert issue_line(preview) == issue_line(shown) == expected
    # The same text but for the state: the preview is the copy approving it would freeze.
    assert preview == shown.replace(" [DRAFT]", "", 1)

    # Approved on another day: that day, in the frozen copy, the preview, `show` and the
    # archive; sending a week later changes none of them.
    approved_at = datetime(2017, 12, 6, 10, 0, tzinfo=UTC)
    approve(draft.engine, config, 1, by="Ed", now=approved_at)
    with draft.engine.begin() as connection:
        connection.execute(
            update(bulletins).values(
                state="sent",
                send_started_at=datetime(2017, 12, 13, tzinfo=UTC),
                sent_at=datetime(2017, 12, 13, tzinfo=UTC),
            )
        )
        frozen = connection.execute(select(bulletins.c.frozen_text)).scalar_one()
    assert issue_line(frozen) == "6 December 2017"
    assert issue_line(client.get("/editor/bulletins/1/preview?format=text").text) == (
        "6 December 2017"
    )
    assert issue_line(render(draft.engine, config, 1, ["text"])["text"]) == "6 December 2017"
    archive = client.get("/archive/autumn-2017").text
    assert "6 December 2017" in archive and "13 December 2017" not in archive
