"""The editor's routes through Starlette's test client: login on every route, CSRF on every
form, the review's state rules, and an edit after approval discarding the approval."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update
from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from actwatch.config import Config
from actwatch.db.schema import audit_log, bulletin_items, bulletins, items, login_failures
from actwatch.editors import remove_editor, set_password
from actwatch.mail import MaildirTransport
from actwatch.review import render_for_approval
from actwatch.web import WebConfigError, create_app
from actwatch.web.session import safe_next
from tests.review.conftest import Draft
from tests.web.conftest import EDITOR, PASSWORD, csrf_of, log_in

Client = tuple[TestClient, str]


def editor_routes(app: Starlette) -> list[tuple[str, str]]:
    """Every (method, path) under /editor, with ids filled in."""
    found = []
    for mount in app.routes:
        if isinstance(mount, Mount) and mount.path == "/editor":
            for route in mount.routes:
                assert isinstance(route, Route)
                path = "/editor" + re.sub(r"\{(\w+)(:\w+)?\}", "1", route.path)
                for method in sorted((route.methods or set()) - {"HEAD"}):
                    found.append((method, path))
    return found


def row(draft: Draft) -> Any:
    with draft.engine.connect() as connection:
        return connection.execute(select(bulletins)).one()


def audit_count(draft: Draft) -> int:
    with draft.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(audit_log)).scalar_one())


def flashes(client: TestClient, path: str = "/editor/bulletins/1") -> list[str]:
    page = client.get(path).text
    return re.findall(
        r'<p class="flash flash-\w+" role="\w+"><span class="flash-text">([^<]*)</span>', page
    )


def first_item(draft: Draft) -> int:
    return draft.ids[2]  # the pilot: a movable item in its own section


def test_every_editor_route_requires_login(
    app: Starlette, client: TestClient, draft: Draft
) -> None:
    routes = editor_routes(app)
    assert len(routes) > 25
    before = audit_count(draft)
    for method, path in routes:
        if path == "/editor/login":
            continue
        response = client.request(method, path, data={"revision": "1"})
        assert response.status_code == 303, (method, path)
        assert response.headers["location"].startswith("/editor/login?next="), (method, path)
    assert audit_count(draft) == before
    assert row(draft).revision == 1


def test_a_missing_or_wrong_csrf_token_is_rejected(
    app: Starlette, editor_client: Client, draft: Draft
) -> None:
    client, token = editor_client
    before = audit_count(draft)
    posts = [path for method, path in editor_routes(app) if method == "POST"]
    for path in posts:
        for sent in ({"revision": "1"}, {"revision": "1", "csrf_token": token[::-1]}):
            response = client.post(path, data=sent)
            assert response.status_code == 403, (path, sent)
            assert "CSRF" in response.text or path == "/editor/login"
    # The header htmx sends is checked the same way.
    response = client.post(
        "/editor/bulletins/1/submit", data={"revision": "1"}, headers={"X-CSRF-Token": "nope"}
    )
    assert response.status_code == 403
    assert audit_count(draft) == before
    assert row(draft).state == "draft"
    # Still logged in: logging out needs the token too.
    assert client.get("/editor/").status_code == 200


def test_the_login_form_needs_its_token_too(client: TestClient, draft: Draft) -> None:
    response = client.post("/editor/login", data={"name": EDITOR, "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/editor/").status_code == 303


def test_log_in_and_out(client: TestClient, draft: Draft) -> None:
    response = client.get("/editor/bulletins/1")
    assert response.headers["location"] == "/editor/login?next=/editor/bulletins/1"
    token = csrf_of(client.get("/editor/login?next=/editor/bulletins/1").text)
    response = client.post(
        "/editor/login",
        data={
            "name": "jo broad",  # names are not case-sensitive
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/editor/bulletins/1",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == "/editor/bulletins/1"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie
    # A new session on login: the token from before logging in is void.
    new_token = csrf_of(client.get("/editor/bulletins/1").text)
    assert new_token != token
    assert client.post("/editor/logout", data={"csrf_token": token}).status_code == 403
    assert client.post("/editor/logout", data={"csrf_token": new_token}).status_code == 303
    assert client.get("/editor/").status_code == 303


def test_wrong_passwords_are_limited_and_the_limit_survives_a_restart(
    make_app: Callable[[], Starlette], draft: Draft
) -> None:
    with TestClient(make_app(), base_url="https://testserver", follow_redirects=False) as client:
        token = csrf_of(client.get("/editor/login").text)
        for _ in range(5):
            response = client.post(
                "/editor/login",
                data={"name": EDITOR, "password": "wrong password", "csrf_token": token},
            )
            assert response.status_code == 401
            assert "do not match" in response.text
    # Five more failures happened a moment ago (another process, or before a restart): the
    # delay has doubled five times, and a new process remembers it.
    with draft.engine.begin() as connection:
        moment = datetime.now(UTC)
        for _ in range(5):
            connection.execute(
                insert(login_failures).values(name=EDITOR.lower(), address="testclient", at=moment)
            )
    with TestClient(make_app(), base_url="https://testserver", follow_redirects=False) as client:
        token = csrf_of(client.get("/editor/login").text)
        response = client.post(
            "/editor/login", data={"name": EDITOR, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 429
        assert "too many failed logins" in response.text.lower()
        assert 10 <= int(response.headers["retry-after"]) <= 32
        # Time passes: the failures age out of the window.
        with draft.engine.begin() as connection:
            for failure_id, at in connection.execute(
                select(login_failures.c.id, login_failures.c.at)
            ).all():
                connection.execute(
                    update(login_failures)
                    .where(login_failures.c.id == failure_id)
                    .values(at=at - timedelta(minutes=16))
                )
    with TestClient(make_app(), base_url="https://testserver", follow_redirects=False) as client:
        token = csrf_of(client.get("/editor/login").text)
        response = client.post(
            "/editor/login", data={"name": EDITOR, "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303


def test_an_unknown_editor_cannot_log_in(client: TestClient, draft: Draft) -> None:
    token = csrf_of(client.get("/editor/login").text)
    response = client.post(
        "/editor/login", data={"name": "Mallory", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 401


def test_a_changed_password_or_removed_account_ends_sessions(
    editor_client: Client, draft: Draft
) -> None:
    client, _ = editor_client
    set_password(draft.engine, EDITOR, "another long password")
    assert client.get("/editor/").status_code == 303
    log_in(client, password="another long password")
    remove_editor(draft.engine, EDITOR)
    assert client.get("/editor/").status_code == 303


def test_the_next_page_is_always_inside_the_editor() -> None:
    assert safe_next("/editor/bulletins/1") == "/editor/bulletins/1"
    for bad in ("https://evil.example/", "//evil.example/", "/editor//evil", "/\\evil", None, 3):
        assert safe_next(bad) == "/editor/"


def test_no_secret_key_no_web_editor(config: Config, draft: Draft) -> None:
    with pytest.raises(WebConfigError, match="ACTWATCH_SECRET_KEY"):
        create_app(config, draft.engine, env={})
    with pytest.raises(WebConfigError):
        create_app(config, draft.engine, env={"ACTWATCH_SECRET_KEY": "short"})


def post(client: TestClient, token: str, path: str, **data: Any) -> Any:
    data.setdefault("revision", str(data.pop("rev", None) or 1))
    response = client.post(path, data={"csrf_token": token, **data})
    assert response.status_code == 303, response.text
    return response


def test_exclude_approve_then_an_edit_discards_the_approval(
    editor_client: Client, draft: Draft, config: Config
) -> None:
    client, token = editor_client
    item = first_item(draft)
    post(client, token, f"/editor/bulletins/1/items/{item}/exclude", rev=1)
    assert f"Item {item} is left out of the bulletin." in flashes(client)
    with draft.engine.connect() as connection:
        included = connection.execute(
            select(bulletin_items.c.included).where(bulletin_items.c.item_id == item)
        ).scalar_one()
    assert included is False

    page = client.get("/editor/bulletins/1").text
    content_hash = re.search(r'name="content_hash" value="(\w+)"', page)
    assert content_hash is not None
    assert content_hash.group(1) == render_for_approval(draft.engine, config, 1).content_hash
    post(client, token, "/editor/bulletins/1/approve", rev=2, content_hash=content_hash.group(1))
    approved = row(draft)
    assert approved.state == "approved" and approved.approved_by == EDITOR
    assert approved.content_hash == content_hash.group(1)
    assert approved.approved_revision == 2 and approved.frozen_html

    # The preview now shows the frozen copy, byte for byte.
    assert client.get("/editor/bulletins/1/preview?format=html").text == approved.frozen_html
    assert client.get("/editor/bulletins/1/preview?format=text").text == approved.frozen_text

    post(
        client,
        token,
        f"/editor/bulletins/1/items/{draft.ids[3]}/summary",
        rev=2,
        summary="A shorter summary.",
    )
    assert any("The approval was discarded" in message for message in flashes(client))
    reset = row(draft)
    assert reset.state == "in_review" and reset.revision == 3
    assert reset.content_hash is None and reset.frozen_html is None and reset.approved_by is None
    with draft.engine.connect() as connection:
        actions = connection.execute(
            select(audit_log.c.action, audit_log.c.actor).order_by(audit_log.c.id)
        ).all()
    assert [a for a, _ in actions][-5:] == [
        "exclude_item",
        "submit",
        "approve",
        "reset_approval",
        "edit_summary",
    ]
    assert {actor for _, actor in actions[1:]} == {EDITOR}


def test_a_stale_page_cannot_overwrite_a_newer_edit(editor_client: Client, draft: Draft) -> None:
    client, token = editor_client
    post(client, token, "/editor/bulletins/1/headline", rev=1, headline="First tab")
    post(client, token, "/editor/bulletins/1/headline", rev=1, headline="Second tab")
    messages = flashes(client)
    assert any("changed since you looked at it" in message for message in messages)
    assert row(draft).headline == "First tab"


def test_the_state_rules_hold_on_the_web(editor_client: Client, draft: Draft) -> None:
    client, token = editor_client
    post(client, token, "/editor/bulletins/1/schedule", at="2099-01-01T09:00")
    assert any("Cannot schedule a bulletin that is draft" in m for m in flashes(client))
    post(client, token, "/editor/bulletins/1/approve", content_hash="0" * 64)
    assert any("content changed since you looked" in m for m in flashes(client))
    post(client, token, "/editor/bulletins/1/reopen")
    assert any("Cannot reopen" in m for m in flashes(client))
    assert row(draft).state == "draft"

    post(client, token, "/editor/bulletins/1/withdraw", reason="Not this season")
    assert row(draft).state == "withdrawn"
    post(client, token, f"/editor/bulletins/1/items/{first_item(draft)}/exclude")
    assert any("reopen it to edit it" in m for m in flashes(client))
    post(client, token, "/editor/bulletins/1/reopen")
    assert row(draft).state == "in_review"


def test_schedule_after_approval(editor_client: Client, draft: Draft, config: Config) -> None:
    client, token = editor_client
    digest = render_for_approval(draft.engine, config, 1).content_hash
    post(client, token, "/editor/bulletins/1/approve", content_hash=digest)
    post(client, token, "/editor/bulletins/1/schedule", at="2099-01-01T09:00")
    scheduled = row(draft)
    assert scheduled.state == "scheduled"
    assert scheduled.scheduled_for.isoformat() == "2099-01-01T09:00:00+00:00"  # GMT in January
    assert "Scheduled for 01 January 2099 at 09:00 GMT." in flashes(client)
    post(client, token, "/editor/bulletins/1/unschedule")
    assert row(draft).state == "approved" and row(draft).scheduled_for is None


def test_edit_every_way(editor_client: Client, draft: Draft, config: Config) -> None:
    client, token = editor_client
    strand_item, other_item = draft.ids[5], draft.ids[8]
    post(
        client,
        token,
        f"/editor/bulletins/1/items/{strand_item}/strand",
        rev=1,
        strand="mixed-economy",
    )
    post(
        client,
        token,
        "/editor/bulletins/1/intro",
        rev=2,
        intro_md="Hello <script>x</script> **all**",
    )
    post(
        client,
        token,
        "/editor/bulletins/1/manual",
        rev=3,
        link="https://www.example.org/news/letter",
        title="Minister's letter to directors",
        summary="Sent by email to directors of children's services.",
        strand="care-leavers",
        event_type="other",
        published_on="2017-11-20",
    )
    assert any("Added item" in m for m in flashes(client))
    text = client.get("/editor/bulletins/1/preview?format=text").text
    assert "Minister's letter to directors" in text
    html = client.get("/editor/bulletins/1/preview?format=html").text
    assert "<strong>all</strong>" in html and "<script>" not in html
    post(client, token, f"/editor/bulletins/1/items/{other_item}/summary", rev=4, summary="")
    assert row(draft).revision == 5


def test_untrusted_text_is_escaped_and_the_preview_is_sandboxed(
    editor_client: Client, draft: Draft
) -> None:
    client, _ = editor_client
    with draft.engine.begin() as connection:
        connection.execute(
            update(items)
            .where(items.c.id == draft.ids[2])
            .values(title='Pilots <img src=x onerror="alert(1)"> begin')
        )
    page = client.get("/editor/bulletins/1").text
    assert "<img src=x" not in page and "Pilots &lt;img src=x" in page
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame.group(0)
    assert "allow-scripts" not in frame.group(0) and "allow-same-origin" not in frame.group(0)
    response = client.get("/editor/bulletins/1/preview?format=html")
    csp = response.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert "script-src 'self'" in client.get("/editor/").headers["content-security-policy"]
    assert client.get("/editor/").headers["x-frame-options"] == "DENY"


def test_test_send_goes_to_one_address(
    editor_client: Client, draft: Draft, outbox: MaildirTransport
) -> None:
    client, token = editor_client
    post(client, token, "/editor/bulletins/1/test-send", to="reviewer@example.org")
    assert "Sent the current draft to reviewer@example.org." in flashes(client)
    [message] = outbox.messages()
    assert message["To"] == "reviewer@example.org"
    assert message["Subject"].startswith("[Test] Autumn 2017 news")
    post(client, token, "/editor/bulletins/1/test-send", to="not an address")
    assert any("Not an email address" in m for m in flashes(client))
    assert len(outbox.messages()) == 1


def test_dashboard_and_audit_pages(editor_client: Client, draft: Draft) -> None:
    client, token = editor_client
    post(client, token, "/editor/bulletins/1/headline", headline="A <b>bold</b> season")
    page = client.get("/editor/").text
    assert "autumn-2017" in page and "All feeds are working." in page
    audit = client.get("/editor/bulletins/1/audit").text
    assert "Set the headline to “A &lt;b&gt;bold&lt;/b&gt; season”." in audit and EDITOR in audit
    assert client.get("/editor/bulletins/99").status_code == 404


def test_the_intro_preview_is_sanitised(editor_client: Client, draft: Draft) -> None:
    client, token = editor_client
    response = client.post(
        "/editor/bulletins/1/intro/preview",
        data={"intro_md": "**Hi** <script>alert(1)</script> [x](javascript:alert(1))"},
        headers={"X-CSRF-Token": token},
    )
    assert response.status_code == 200
    assert "<strong>Hi</strong>" in response.text
    assert "<script>" not in response.text and "&lt;script&gt;" in response.text
    assert "href" not in response.text


def test_static_htmx_is_served(client: TestClient) -> None:
    response = client.get("/static/htmx.min.js")
    assert response.status_code == 200 and response.text.startswith("var htmx=")
