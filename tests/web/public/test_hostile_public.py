"""The public pages against a hostile internet, through the real app (issue 13): link scanners,
enumeration by status, body or timing, mail bombing, huge bodies, headers and logs. On SQLite
and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from actwatch.config import Config, parse_config
from actwatch.db.schema import subscriber_mail
from actwatch.delivery import send_bulletin
from actwatch.mail import MaildirTransport
from actwatch.subscribers import import_file
from actwatch.web import create_app
from actwatch.web.limits import FormLimit, FormLimits
from tests.conftest import free_port
from tests.delivery.conftest import ENV, Approved, config_data
from tests.delivery.smtp import Sink, running
from tests.web.public.pages import (
    BASE,
    confirmation_link,
    form_token,
    path_of,
    sent_so_far,
    status_of,
    unsubscribe_url,
    wait_for_mail,
)

ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


# Link scanners (GET and HEAD) change nothing; the one-click POST still works.


def test_head_and_get_on_unsubscribe_and_confirm_links_change_nothing(
    approved: Approved, sink: Sink, client: TestClient, outbox: MaildirTransport, app: Starlette
) -> None:
    assert send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV).finished
    unsubscribe = path_of(unsubscribe_url(sink, "safe@example.org"))
    for method in ("HEAD", "GET", "HEAD", "GET"):
        assert client.request(method, unsubscribe).status_code == 200
    assert status_of(approved.engine, "safe@example.org") == "confirmed"

    client.post(
        "/subscribe",
        data={"form_token": form_token(client.get("/subscribe").text), "email": "new@example.org"},
    )
    confirm = confirmation_link(outbox)
    for method in ("HEAD", "GET", "HEAD", "GET"):
        assert client.request(method, confirm).status_code == 200
    assert status_of(approved.engine, "new@example.org") == "pending"

    # RFC 8058: the provider's POST, without a cookie or a form token, unsubscribes: plain 200.
    with TestClient(app, base_url=BASE, follow_redirects=False) as provider:
        response = provider.post(
            unsubscribe, content=b"List-Unsubscribe=One-Click", headers=ONE_CLICK
        )
    assert response.status_code == 200 and "location" not in response.headers
    assert response.headers["content-type"].startswith("text/plain")
    assert status_of(approved.engine, "safe@example.org") == "unsubscribed"
    # The confirmation button (a POST) confirms.
    assert client.post(confirm).status_code == 200
    assert status_of(approved.engine, "new@example.org") == "confirmed"


# The forms: the same answer whoever the address belongs to.


def _slow_app(approved: Approved, config: Config) -> Starlette:
    app = create_app(config, approved.engine, env=ENV)
    # The per-client limit is the subject of another test: here one client asks many times.
    app.state.form_limits = FormLimits(
        {
            form: FormLimit(per_client=1000, per_address=3, window=3600)
            for form in ("subscribe", "manage", "link")
        }
    )
    return app


def _timed(client: TestClient, path: str, email: str) -> tuple[int, str, float]:
    token = form_token(client.get(path).text)
    start = time.perf_counter()
    response = client.post(path, data={"form_token": token, "email": email})
    return response.status_code, response.text, time.perf_counter() - start


@pytest.mark.parametrize("form", ["/subscribe", "/manage"])
def test_known_and_unknown_addresses_get_the_same_answer_and_timing(
    approved: Approved, tmp_path: Path, repo_config_data: dict[str, Any], form: str
) -> None:
    rounds = 9
    known = [f"known{i}@example.org" for i in range(rounds)]
    readers = tmp_path / "known.csv"
    readers.write_text("email\n" + "\n".join(known) + "\n", encoding="utf-8")
    assert import_file(approved.engine, approved.config, readers).added == rounds
    # A mail server that takes 0.3 s a message.
    with running(Sink(delay=0.3)) as slow:
        config = parse_config(config_data(repo_config_data, slow.url), tmp_path / "config.yaml")
        with TestClient(_slow_app(approved, config), base_url=BASE) as client:
            _timed(client, form, "warm-up@example.org")
            answers: dict[str, list[tuple[int, str, float]]] = {"known": [], "unknown": []}
            for index in range(rounds):
                answers["known"].append(_timed(client, form, known[index]))
                answers["unknown"].append(_timed(client, form, f"stranger{index}@example.org"))
            deadline = time.monotonic() + 30
            while slow.total() < rounds and time.monotonic() < deadline:
                time.sleep(0.05)
        assert slow.total() >= rounds  # the known addresses were mailed, after the answers
    statuses = {status for group in answers.values() for status, _, _ in group}
    bodies = {body for group in answers.values() for _, body, _ in group}
    assert statuses == {200} and len(bodies) == 1
    median = {name: statistics.median(t for _, _, t in group) for name, group in answers.items()}
    assert abs(median["known"] - median["unknown"]) < 0.05, median


@pytest.mark.parametrize("form", ["/subscribe", "/manage"])
def test_a_mail_server_that_is_down_changes_no_answer(
    approved: Approved, tmp_path: Path, repo_config_data: dict[str, Any], form: str
) -> None:
    closed = f"smtp://127.0.0.1:{free_port()}"
    config = parse_config(config_data(repo_config_data, closed), tmp_path / "config.yaml")
    with TestClient(_slow_app(approved, config), base_url=BASE) as client:
        known = _timed(client, form, "all@example.org")
        unknown = _timed(client, form, "nobody-here@example.org")
    assert known[0] == unknown[0] == 200 and known[1] == unknown[1]
    # The mail waits in the queue for the server to come back.
    with approved.engine.connect() as connection:
        queued = connection.execute(
            select(subscriber_mail.c.state, subscriber_mail.c.last_error)
        ).all()
    assert queued and all(state == "queued" for state, _ in queued)
    # Loud, not silent: the operator's metrics show the mail waiting.
    with TestClient(_slow_app(approved, config), base_url=BASE) as client:
        metrics = client.get("/metrics").text
    waiting = re.search(r'actwatch_subscriber_mail\{state="queued"\} (\d+)', metrics)
    assert waiting and int(waiting.group(1)) >= 1, metrics


# Mail bombing.


def test_a_hundred_sign_ups_from_one_client_do_not_send_a_hundred_emails(
    approved: Approved, client: TestClient, outbox: MaildirTransport
) -> None:
    token = form_token(client.get("/subscribe").text)
    started = time.monotonic()
    statuses = []
    for index in range(100):
        response = client.post(
            "/subscribe", data={"form_token": token, "email": f"victim{index}@example.org"}
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) > 0
            assert "Too many requests" in response.text
    assert time.monotonic() - started < 60
    assert statuses.count(200) <= 10 and statuses.count(429) >= 90
    wait_for_mail(outbox, statuses.count(200))
    time.sleep(0.5)
    assert len(sent_so_far(outbox)) == statuses.count(200)


def test_one_address_cannot_be_mail_bombed_from_many_clients(
    approved: Approved, app: Starlette, outbox: MaildirTransport
) -> None:
    statuses = []
    for index in range(30):
        # Thirty different clients (addresses), one victim.
        with TestClient(
            app, base_url=BASE, follow_redirects=False, client=(f"198.51.100.{index + 1}", 40000)
        ) as client:
            token = form_token(client.get("/manage").text)
            response = client.post(
                "/manage", data={"form_token": token, "email": "all@example.org"}
            )
            statuses.append(response.status_code)
    assert statuses.count(200) == 3 and statuses.count(429) == 27
    wait_for_mail(outbox, 1)
    time.sleep(0.5)
    assert len(sent_so_far(outbox)) == 1  # one "your links" email, however often asked


def test_the_outbox_caps_mail_to_one_address_whatever_asks(approved: Approved) -> None:
    from actwatch.subscribers import find_subscriber, outbox

    subscriber = find_subscriber(approved.engine, "all@example.org")
    assert subscriber is not None
    assert outbox.queue(approved.engine, subscriber.id, outbox.LINKS)
    assert not outbox.queue(approved.engine, subscriber.id, outbox.LINKS)  # within 10 minutes
    with approved.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(subscriber_mail)).scalar() == 1


# Request bodies.


@pytest.fixture
def server(app: Starlette) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 (a real HTTP server: bodies arrive over a socket)."""
    port = free_port()
    instance = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=10)


def _raw_post(base: str, path: str, headers: str, body: bytes) -> tuple[bytes, float]:
    host, port = base.removeprefix("http://").split(":")
    start = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
        # The server may close before it has all of it: that is the point.
        with contextlib.suppress(OSError):
            connection.sendall(body)
        reply = connection.recv(4096)
    return reply, time.monotonic() - start


def test_a_20_mb_body_gets_413_quickly(server: str) -> None:
    declared = 20 * 1024 * 1024
    reply, seconds = _raw_post(
        server,
        "/subscribe",
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {declared}\r\n",
        b"email=" + b"a" * 65_536,
    )
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert seconds < 5
    # Without a declared length (chunked), the limit is found while reading.
    chunk = b"a" * 32_768
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(8)) + b"0\r\n\r\n"
    reply, _ = _raw_post(
        server,
        "/manage",
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n",
        chunked,
    )
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    # The editor may send more (a long introduction), up to 1 MB; its login form may not.
    big = httpx.post(f"{server}/editor/bulletins/1/intro", content=b"x" * 200_000)
    assert big.status_code != 413
    login = httpx.post(f"{server}/editor/login", content=b"x" * 200_000)
    assert login.status_code == 413


def test_tokens_never_reach_the_access_log(
    server: str, approved: Approved, caplog: pytest.LogCaptureFixture
) -> None:
    token = "A" * 27 + "." + "B" * 43
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        httpx.get(f"{server}/unsubscribe/{token}")
        httpx.head(f"{server}/preferences/{token}")
        httpx.get(f"{server}/subscribe/confirm/{token}x")
        deadline = time.monotonic() + 5
        while len([r for r in caplog.records if r.name == "uvicorn.access"]) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    lines = [record.getMessage() for record in caplog.records if record.name == "uvicorn.access"]
    assert any("/unsubscribe/[token]" in line for line in lines), lines
    assert not [line for line in lines if token in line or "AAAAAAAA" in line]


# Headers.


def test_hsts_only_when_the_base_url_is_https(
    approved: Approved, tmp_path: Path, repo_config_data: dict[str, Any], sink: Sink
) -> None:
    for base, expected in (
        ("https://bulletin.example.org", True),
        ("http://127.0.0.1:8080", False),
    ):
        data = config_data(repo_config_data, sink.url)
        data["web"] = {**data["web"], "base_url": base}
        config = parse_config(data, tmp_path / "config.yaml")
        with TestClient(create_app(config, approved.engine, env=ENV)) as client:
            for path in ("/archive/", "/subscribe", "/editor/login"):
                header = client.get(path).headers.get("strict-transport-security")
                if expected:
                    assert header is not None and re.match(r"max-age=\d{8}", header)
                else:
                    assert header is None


def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    approved: Approved, app: Starlette
) -> None:
    def sign_up(peer: str, forwarded: str, index: int) -> int:
        with TestClient(app, base_url=BASE, client=(peer, 40000)) as client:
            token = form_token(client.get("/subscribe").text)
            return client.post(
                "/subscribe",
                data={"form_token": token, "email": f"p{peer}-{index}@example.org"},
                headers={"X-Forwarded-For": forwarded},
            ).status_code

    # Behind the proxy on 127.0.0.1 (trusted by default): each visitor has a limit of their own.
    assert [sign_up("127.0.0.1", "203.0.113.1", i) for i in range(10)] == [200] * 10
    assert sign_up("127.0.0.1", "203.0.113.1", 10) == 429
    assert sign_up("127.0.0.1", "203.0.113.2", 0) == 200
    # A client on the internet writing its own header is still one client.
    statuses = [sign_up("198.51.100.9", f"192.0.2.{i}", i) for i in range(11)]
    assert statuses == [200] * 10 + [429]


# The archive: Atom content as escaped HTML, the tracker as a table.


def test_the_atom_content_is_escaped_html_and_the_tracker_a_table(
    approved: Approved, client: TestClient
) -> None:
    import xml.etree.ElementTree as ElementTree

    from tests.bulletin.test_markdown_safety import parsed

    assert send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV).finished
    feed = ElementTree.fromstring(client.get("/archive/feed.atom").content)
    atom = "{http://www.w3.org/2005/Atom}"
    contents = feed.findall(f"{atom}entry/{atom}content")
    assert contents
    for content in contents:
        assert content.get("type") == "html"
        assert list(content) == []  # RFC 4287: text, no child elements
        html = parsed(content.text or "")
        assert {"h2", "ul", "li", "a", "table"} <= set(html.tags)
        assert "script" not in html.tags
    page = client.get("/archive/autumn-2017").text
    table = re.search(r"<table>.*?</table>", page, re.S)
    assert table, "the tracker is not a table"
    assert "<th>Strand</th>" in table.group() and "<td>Care leavers</td>" in table.group()
    assert "| Strand |" not in page
