"""Work done once per request: the editor's bulletin page, its preview and approval each
compose the season's bulletin exactly once (it was four times per page view, twice per
approval), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from actwatch.bulletin.compose import compose
from actwatch.bulletin.model import Bulletin
from tests.review.conftest import Draft

Client = tuple[TestClient, str]


class Counter:
    def __init__(self) -> None:
        self.calls = 0


@pytest.fixture
def composed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter]:
    """Counts every composition of a stored bulletin."""
    counter = Counter()

    def counting(*args: Any, **kwargs: Any) -> Bulletin:
        counter.calls += 1
        return compose(*args, **kwargs)

    monkeypatch.setattr("actwatch.bulletin.store.compose", counting)
    yield counter


def test_the_bulletin_page_composes_once(
    editor_client: Client, draft: Draft, composed: Counter
) -> None:
    client, _token = editor_client
    composed.calls = 0
    page = client.get(f"/editor/bulletins/{draft.bulletin_id}")
    assert page.status_code == 200
    assert "Approve" in page.text and "Care leavers" in page.text
    assert composed.calls == 1

    composed.calls = 0
    for kind in ("html", "text", "markdown"):
        assert client.get(f"/editor/bulletins/{draft.bulletin_id}/preview?format={kind}").is_success
    assert composed.calls == 3  # one per preview request


def test_approval_composes_once(editor_client: Client, draft: Draft, composed: Counter) -> None:
    client, token = editor_client
    page = client.get(f"/editor/bulletins/{draft.bulletin_id}").text
    content_hash = page.split('name="content_hash" value="', 1)[1].split('"', 1)[0]
    composed.calls = 0
    response = client.post(
        f"/editor/bulletins/{draft.bulletin_id}/approve",
        data={"csrf_token": token, "revision": "1", "content_hash": content_hash},
    )
    assert response.status_code == 303
    assert composed.calls == 1
    # Approved: the page shows the frozen copy and composes once for the review itself.
    composed.calls = 0
    page = client.get(f"/editor/bulletins/{draft.bulletin_id}").text
    assert "Approved by Jo Broad: this exact copy" in page
    assert composed.calls == 1
