"""The public pages with a real send: one-click unsubscribe end to end, the unsubscribe and
preferences pages, the double opt-in and its emails, and the archive with its Atom feed. On
SQLite and PostgreSQL."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from actwatch.config import parse_config
from actwatch.db.schema import deliveries, subscribers
from actwatch.delivery import send_bulletin
from actwatch.mail import MaildirTransport
from actwatch.review import frozen_copy
from actwatch.subscribers import Tokens, find_subscriber
from actwatch.web import create_app
from tests.delivery.conftest import ENV, SECRET, Approved, config_data
from tests.delivery.smtp import Sink
from tests.web.public.pages import (
    BASE,
    body_of,
    confirmation_link,
    form_token,
    path_of,
    sent_so_far,
    status_of,
    unsubscribe_url,
    wait_for_mail,
)


def test_one_click_unsubscribe_end_to_end(approved: Approved, sent: Sink, app: Starlette) -> None:
    url = unsubscribe_url(sent, "leavers@example.org")
    # A mail provider's POST: no cookie, no CSRF token, just the RFC 8058 body.
    with TestClient(app, base_url=BASE, follow_redirects=False, cookies=None) as provider:
        response = provider.post(
            path_of(url),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200
        assert "location" not in response.headers
        assert "set-cookie" not in response.headers
        assert status_of(approved.engine, "leavers@example.org") == "unsubscribed"
        assert status_of(approved.engine, "all@example.org") == "confirmed"
        again = provider.post(path_of(url), data={"List-Unsubscribe": "One-Click"})
        assert again.status_code == 200
        forged = path_of(url)[:-3] + ("AAA" if not path_of(url).endswith("AAA") else "BBB")
        assert provider.post(forged, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    # Once gone, a later bulletin does not reach them.
    from actwatch.delivery import prepare

    with approved.engine.connect() as connection:
        confirmed = connection.execute(
            select(subscribers.c.email).where(subscribers.c.status == "confirmed")
        ).scalars()
        assert "leavers@example.org" not in set(confirmed)

    def rows() -> int:
        with approved.engine.connect() as connection:
            return int(
                connection.execute(select(func.count()).select_from(deliveries)).scalar_one()
            )

    before = rows()
    prepare(approved.engine, approved.bulletin_id)
    assert rows() == before


def test_unsubscribe_page_asks_first(approved: Approved, sent: Sink, client: TestClient) -> None:
    path = path_of(unsubscribe_url(sent, "safe@example.org"))
    page = client.get(path)
    assert page.status_code == 200
    assert "safe@example.org" in page.text and 'method="post"' in page.text
    assert status_of(approved.engine, "safe@example.org") == "confirmed"  # GET changes nothing
    done = client.post(path)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert status_of(approved.engine, "safe@example.org") == "unsubscribed"
    assert "not subscribed" in client.get(path).text
    assert client.get("/unsubscribe/not-a-token").status_code == 404


def test_preferences_page_changes_the_strands(
    approved: Approved, sent: Sink, client: TestClient
) -> None:
    path = path_of(unsubscribe_url(sent, "safe@example.org")).replace(
        "/unsubscribe/", "/preferences/"
    )
    page = client.get(path)
    assert page.status_code == 200
    checked = re.findall(r'value="([a-z-]+)" checked', page.text)
    assert checked == ["safeguarding-partnerships"]
    saved = client.post(path, data={"strands": ["care-leavers", "social-work-england"]})
    assert saved.status_code == 200 and "Saved" in saved.text
    subscriber = find_subscriber(approved.engine, "safe@example.org")
    assert subscriber is not None
    assert subscriber.strands == ("care-leavers", "social-work-england")
    everything = client.post(path, data={"strands": list(approved.config.strands)})
    assert "every strand" in everything.text
    subscriber = find_subscriber(approved.engine, "safe@example.org")
    assert subscriber is not None and subscriber.all_strands


def test_double_opt_in(approved: Approved, client: TestClient, outbox: MaildirTransport) -> None:
    token = form_token(client.get("/subscribe").text)
    response = client.post(
        "/subscribe",
        data={
            "form_token": token,
            "email": "New.Reader@Example.org",
            "name": "New Reader",
            "strands": ["care-leavers"],
        },
    )
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert status_of(approved.engine, "new.reader@example.org") == "pending"
    link = confirmation_link(outbox)
    page = client.get(link)
    assert page.status_code == 200 and "new.reader@example.org" in page.text
    assert status_of(approved.engine, "new.reader@example.org") == "pending"  # GET is not consent
    done = client.post(link)
    assert done.status_code == 200 and "You are subscribed" in done.text
    subscriber = find_subscriber(approved.engine, "new.reader@example.org")
    assert subscriber is not None
    assert (subscriber.status, subscriber.strands) == ("confirmed", ("care-leavers",))
    assert "web form" in subscriber.consent_source and "confirmed" in subscriber.consent_source
    # Confirmed: a welcome with their own links, once (pressing the button again sends nothing).
    welcome = wait_for_mail(outbox, 2)[1]
    assert welcome["Subject"].startswith("You are subscribed")
    assert "/preferences/" in body_of(welcome) and "/unsubscribe/" in body_of(welcome)
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert client.post(link).status_code == 200
    # The same form again says the same thing; the address is told it is already subscribed
    # (nothing changes, and the form reveals nothing to whoever filled it in).
    again = client.post(
        "/subscribe",
        data={
            "form_token": form_token(client.get("/subscribe").text),
            "email": "new.reader@example.org",
        },
    )
    assert again.status_code == 200 and again.text == response.text
    notice = wait_for_mail(outbox, 3)[2]
    assert notice["Subject"].startswith("You are already subscribed")
    time.sleep(0.3)
    assert len(sent_so_far(outbox)) == 3


def test_subscribe_form_refuses_forgeries_and_bad_input(
    approved: Approved, client: TestClient, outbox: MaildirTransport
) -> None:
    assert client.post("/subscribe", data={"email": "x@example.org"}).status_code == 403
    token = form_token(client.get("/subscribe").text)
    bad = client.post("/subscribe", data={"form_token": token, "email": "nope"})
    assert bad.status_code == 400 and "@" in bad.text
    unknown = client.post(
        "/subscribe", data={"form_token": token, "email": "a@example.org", "strands": "zzz"}
    )
    assert unknown.status_code == 400 and "unknown strand" in unknown.text.lower()
    bot = client.post(
        "/subscribe", data={"form_token": token, "email": "b@example.org", "website": "spam"}
    )
    assert bot.status_code == 200 and "Check your inbox" in bot.text
    time.sleep(0.3)
    assert sent_so_far(outbox) == []


def test_confirmation_links_expire(
    approved: Approved, outbox: MaildirTransport, tmp_path: Path, repo_config_data: dict[str, Any]
) -> None:
    data = config_data(repo_config_data, "smtp://127.0.0.1:25")
    data["web"] = {**data["web"], "confirm_within": "1s"}
    config = parse_config(data, tmp_path / "config.yaml")
    app = create_app(config, approved.engine, env=ENV, transport_factory=lambda: outbox)
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        token = form_token(client.get("/subscribe").text)
        client.post("/subscribe", data={"form_token": token, "email": "late@example.org"})
        link = confirmation_link(outbox)
        time.sleep(2.1)
        expired = client.post(link)
    assert expired.status_code == 404 and "expired" in expired.text
    assert status_of(approved.engine, "late@example.org") == "pending"


def test_rotating_the_nonce_voids_old_links(
    approved: Approved, sent: Sink, client: TestClient
) -> None:
    from actwatch.subscribers.store import rotate_nonce

    path = path_of(unsubscribe_url(sent, "all@example.org"))
    subscriber = find_subscriber(approved.engine, "all@example.org")
    assert subscriber is not None
    rotate_nonce(approved.engine, subscriber.id)
    assert client.get(path).status_code == 404
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert status_of(approved.engine, "all@example.org") == "confirmed"


def test_archive_serves_the_frozen_copies(
    approved: Approved, client: TestClient, sink: Sink
) -> None:
    assert "No bulletin has been sent yet" in client.get("/archive/").text
    assert client.get("/archive/autumn-2017").status_code == 404
    send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    frozen = frozen_copy(approved.engine, approved.bulletin_id)

    index = client.get("/archive/")
    assert index.status_code == 200 and 'href="/archive/autumn-2017"' in index.text
    issue = client.get("/archive/autumn-2017")
    assert issue.status_code == 200
    assert 'id="care-leavers"' in issue.text and "{#" not in issue.text
    assert "<script>" not in issue.text
    email = client.get("/archive/autumn-2017/email")
    assert email.text == frozen.html
    assert "sandbox" in email.headers["content-security-policy"]
    assert client.get("/archive/autumn-2017.md").text == frozen.markdown

    feed_response = client.get("/archive/feed.atom")
    assert feed_response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(feed_response.content)
    assert not feed.bozo, feed.bozo_exception
    (entry,) = feed.entries
    assert entry.link == f"{BASE}/archive/autumn-2017"
    assert entry.title.startswith("Autumn 2017 news")
    assert 'id="care-leavers"' in entry.content[0].value


def test_public_pages_need_no_login_and_set_no_cookie(
    approved: Approved, client: TestClient
) -> None:
    for path in ("/subscribe", "/archive/", "/archive/feed.atom", "/manage"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "set-cookie" not in response.headers, path
    assert client.get("/editor/").status_code == 303  # the editor still needs a login


def test_lost_links_are_emailed_only_to_subscribers(
    approved: Approved, client: TestClient, outbox: MaildirTransport
) -> None:
    token = form_token(client.get("/manage").text)
    for email in ("all@example.org", "stranger@example.org"):
        response = client.post("/manage", data={"form_token": token, "email": email})
        assert response.status_code == 200 and "Check your inbox" in response.text
    (message,) = wait_for_mail(outbox, 1)
    time.sleep(0.3)
    assert len(sent_so_far(outbox)) == 1
    assert message["To"].addresses[0].addr_spec == "all@example.org"
    assert "/unsubscribe/" in str(message.get_content())
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_tokens_are_fixed_length_and_signed() -> None:
    tokens = Tokens(SECRET)
    token = tokens.link_token(7, "00" * 12)
    assert tokens.read_link_token(token).subscriber_id == 7
    other = Tokens("another-secret-" + "y" * 40)
    from actwatch.subscribers import TokenError

    with pytest.raises(TokenError):
        other.read_link_token(token)
    assert len(tokens.link_token(10**12, "ff" * 12)) == len(token)


def test_the_front_door_leads_readers_to_the_archive(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/archive/"
    assert 'href="/subscribe"' in client.get("/archive/").text
