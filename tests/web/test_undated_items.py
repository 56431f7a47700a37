"""The editor sees which items the feed gave no date for: their date is when they were first
seen, which decides their season."""

from __future__ import annotations

from sqlalchemy import update
from starlette.testclient import TestClient

from actwatch.db.schema import item_matches, items
from tests.review.conftest import Draft

UNDATED = "(undated: first seen)"


def test_undated_items_are_marked_where_the_editor_lists_items(
    editor_client: tuple[TestClient, str], draft: Draft
) -> None:
    client, _ = editor_client
    assert UNDATED not in client.get("/editor/bulletins/1").text
    with draft.engine.begin() as connection:
        connection.execute(update(items).values(date_source="first_seen"))
        some_item = min(draft.ids.values())
        connection.execute(
            update(item_matches)
            .where(item_matches.c.item_id == some_item)
            .values(editor_state="uncertain")
        )
    assert UNDATED in client.get("/editor/bulletins/1").text
    assert UNDATED in client.get("/editor/").text
