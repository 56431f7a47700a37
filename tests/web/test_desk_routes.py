"""The editor's desk through Starlette's test client, on SQLite and PostgreSQL: where a change
lands (HX-Location for htmx, a 303 with the fragment otherwise, a `place` only if it is an
element id), drafts from the dashboard, the preview text, "Send now" (its page changes nothing;
its POST wakes the scheduler it shares a process with) and the delivery report."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from actwatch.bulletin.model import StoredItem
from actwatch.db.schema import audit_log, bulletins
from actwatch.review import approve
from tests.bulletin.fixtures import insert_item
from tests.review.conftest import Draft

Client = tuple[TestClient, str]


def stored(draft: Draft) -> Any:
    with draft.engine.connect() as connection:
        return connection.execute(select(bulletins).where(bulletins.c.id == 1)).one()


def send(client: TestClient, token: str, path: str, htmx: bool = False, **data: Any) -> Any:
    data.setdefault("revision", str(stored_revision(client)))
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(path, data={"csrf_token": token, **data}, headers=headers)


def stored_revision(client: TestClient) -> int:
    page = client.get("/editor/bulletins/1").text
    found = re.search(r'name="revision" value="(\d+)"', page)
    assert found
    return int(found.group(1))


def messages(client: TestClient, path: str = "/editor/bulletins/1") -> list[str]:
    return re.findall(r'<span class="flash-text">([^<]*)</span>', client.get(path).text)


def late_news(draft: Draft, n: int, published: datetime, state: str = "relevant") -> int:
    return insert_item(
        draft.engine,
        StoredItem(
            id=0,
            title=f"Staying close pilot {n}",
            link=f"https://www.gov.uk/government/news/staying-close-{n}",
            source="GOV.UK",
            published_at=published,
            summary="A pilot.",
            event_type="pilot",
            strands=("care-leavers",),
        ),
        state=state,
    )


def test_a_change_lands_where_the_editor_was(editor_client: Client, draft: Draft) -> None:
    client, token = editor_client
    item = draft.ids[2]
    # htmx: HX-Location, which htmx follows keeping the fragment (a 303's is lost).
    response = send(
        client, token, f"/editor/bulletins/1/items/{item}/summary", htmx=True, summary="Short."
    )
    assert response.status_code == 200 and "location" not in response.headers
    target = json.loads(response.headers["HX-Location"])
    assert target == {"path": f"/editor/bulletins/1#item-{item}", "target": "body"}
    assert messages(client) == [f"Saved the summary for item {item}."]
    # Without htmx: the 303 carries the fragment, which browsers keep.
    response = send(client, token, f"/editor/bulletins/1/items/{item}/summary", summary="Shorter.")
    assert response.status_code == 303
    assert response.headers["location"] == f"/editor/bulletins/1#item-{item}"
    # A form may name where to land, but only an element id.
    response = send(
        client, token, "/editor/bulletins/1/headline", headline="Hello", place="item-99"
    )
    assert response.headers["location"] == "/editor/bulletins/1#item-99"
    for hostile in ('x"><script>', "//evil.example", "item 1", "#a", "A" * 200):
        response = send(client, token, "/editor/bulletins/1/headline", headline="Hi", place=hostile)
        assert response.headers["location"] == "/editor/bulletins/1#headline", hostile
    # An error lands in the same place, with the reason.
    response = send(client, token, f"/editor/bulletins/1/items/{item}/summary", summary="x" * 1001)
    assert response.headers["location"] == f"/editor/bulletins/1#item-{item}"
    assert messages(client) == ["Too long: at most 1000 characters (this is 1001)."]


def test_excluding_lands_on_the_next_item(editor_client: Client, draft: Draft) -> None:
    client, _ = editor_client
    page = client.get("/editor/bulletins/1").text
    order = [int(found) for found in re.findall(r'<li id="item-(\d+)"', page)]
    places = dict(
        re.findall(
            r'items/(\d+)/exclude" class="inline">.*?name="place" value="([\w-]+)"', page, re.S
        )
    )
    for index, item in enumerate(order):
        expected = order[index + 1] if index + 1 < len(order) else order[index - 1]
        assert places[str(item)] == f"item-{expected}"


def test_the_preview_text_is_edited_and_shown_with_the_subject(
    editor_client: Client, draft: Draft
) -> None:
    client, token = editor_client
    page = client.get("/editor/bulletins/1").text
    assert '<dd class="subject">Autumn 2017 news: Children &amp; Social Work Act</dd>' in page
    assert "(the default)" in page
    response = send(client, token, "/editor/bulletins/1/preheader", preheader="What's <new>")
    assert response.headers["location"] == "/editor/bulletins/1#preheader"
    page = client.get("/editor/bulletins/1").text
    assert '<dd class="preview-text">What&#39;s &lt;new&gt;</dd>' in page
    assert stored(draft).preheader == "What's <new>"
    html = client.get("/editor/bulletins/1/preview?format=html").text
    assert "What&#39;s &lt;new&gt;" in html or "What&#x27;s &lt;new&gt;" in html


def test_drafts_are_made_from_the_dashboard(editor_client: Client, draft: Draft) -> None:
    client, token = editor_client
    spring = late_news(draft, 1, datetime(2018, 4, 3, 9, tzinfo=UTC))
    unsure = late_news(draft, 2, datetime(2018, 1, 9, 9, tzinfo=UTC), state="uncertain")
    page = client.get("/editor/").text
    assert "Spring 2018" in page and "Draft Winter 2017-18 with it" in page
    response = client.post("/editor/drafts", data={"csrf_token": token, "season": "spring-2018"})
    assert response.status_code == 303 and response.headers["location"] == "/editor/bulletins/2"
    assert "Created the Spring 2018 draft with 1 item." in messages(client, "/editor/")
    assert f"#{spring}" in client.get("/editor/bulletins/2").text
    # Again: the same bulletin, nothing new.
    response = client.post("/editor/drafts", data={"csrf_token": token, "season": "spring-2018"})
    assert response.headers["location"] == "/editor/bulletins/2"
    response = client.post("/editor/drafts", data={"csrf_token": token, "season": "nonsense"})
    assert response.headers["location"] == "/editor/#drafts"
    assert any("nonsense" in message for message in messages(client, "/editor/"))

    # An uncertain item of a season without a bulletin: its season is drafted with it.
    response = client.post(f"/editor/uncertain/{unsure}/pick", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == f"/editor/bulletins/3#item-{unsure}"
    assert (
        f"Item {unsure} is now in the winter-2017 bulletin (the winter-2017 draft was "
        in (messages(client, "/editor/")[0])
    )
    assert f'id="item-{unsure}"' in client.get("/editor/bulletins/3").text
    page = client.get("/editor/").text
    seasons = re.findall(r'<td class="season"><a href="/editor/bulletins/\d+">([\w-]+)<', page)
    assert seasons == ["spring-2018", "winter-2017", "autumn-2017"]


def test_send_now_asks_first_then_wakes_the_scheduler(draft: Draft, editor_client: Client) -> None:
    client, token = editor_client
    woken: list[str] = []

    class Service:
        def wake(self, job: str) -> bool:
            woken.append(job)
            return True

    app: Starlette = client.app  # type: ignore[assignment]
    app.state.service = Service()
    page = client.get("/editor/bulletins/1").text
    assert "Goes to <strong>0 confirmed subscribers</strong>" not in page
    assert "No confirmed subscribers yet" in page and "Send now" not in page
    approval = approve(draft.engine, draft.config, 1, by="Jo")
    page = client.get("/editor/bulletins/1").text
    assert 'href="/editor/bulletins/1/send"' in page

    before = stored(draft)
    confirm = client.get("/editor/bulletins/1/send").text
    assert "Send Autumn 2017 now?" in confirm and approval.content_hash[:12] in confirm
    assert "nobody would get it" in confirm
    assert stored(draft).state == before.state == "approved"  # asking changes nothing

    response = send(client, token, "/editor/bulletins/1/send-now", content_hash="0" * 64)
    assert response.headers["location"] == "/editor/bulletins/1#delivery"
    assert "approved copy changed" in messages(client)[0] and woken == []
    response = send(
        client, token, "/editor/bulletins/1/send-now", content_hash=approval.content_hash
    )
    assert messages(client) == ["Sending now: the delivery report below follows it."]
    assert woken == ["send-due"]
    row = stored(draft)
    assert row.state == "scheduled" and row.scheduled_for is not None
    with draft.engine.connect() as connection:
        actions = connection.execute(
            select(audit_log.c.action).order_by(audit_log.c.id.desc()).limit(1)
        ).scalar_one()
    assert actions == "send_now"


def test_a_send_under_way_shows_its_report_and_nothing_to_check(
    editor_client: Client, draft: Draft, tmp_path: Path
) -> None:
    from actwatch.delivery import prepare
    from actwatch.review import schedule, start_sending
    from actwatch.subscribers import import_file

    client, _ = editor_client
    readers = tmp_path / "readers.csv"
    readers.write_text("email,name,strands\na@example.org,A,\nb@example.org,B,\n", encoding="utf-8")
    import_file(draft.engine, draft.config, readers)
    approve(draft.engine, draft.config, 1, by="Jo")
    page = client.get("/editor/bulletins/1").text
    assert "Goes to <strong>2 confirmed subscribers</strong>" in page
    assert "Check before it is sent" in page
    due = datetime.now(UTC) + timedelta(hours=1)
    schedule(draft.engine, 1, actor="Jo", at=due)
    assert "to be sent" in client.get("/editor/bulletins/1").text
    start_sending(draft.engine, 1, actor="delivery", now=due)
    prepare(draft.engine, 1)
    page = client.get("/editor/bulletins/1").text
    assert "<strong>0 of 2 sent</strong>; 2 still to go." in page
    assert "being sent now" in page
    for gone in ("to be sent", "Check before", "Goes to", 'id="decision"', "Send test"):
        assert gone not in page, gone
