"""A stop in the middle of a poll: a feed server that hangs does not hold the service up."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from actwatch.demo.samples import FeedServer
from tests.service.conftest import Installation, service_data, wait_until

pytestmark = pytest.mark.slow


def test_sigterm_during_a_hanging_fetch(
    repo_config_data: dict[str, Any],
    feed_server: FeedServer,
    installation: Callable[[dict[str, Any]], Installation],
) -> None:
    asked = threading.Event()
    release = threading.Event()

    def hang(handler: BaseHTTPRequestHandler) -> None:
        asked.set()
        release.wait(30)  # far longer than the service may take to stop
        handler.send_response(503)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    feed_server.routes["/hang.atom"] = hang
    data = service_data(repo_config_data, feed_server=feed_server, mail_url="maildir:mail")
    data["feeds"].append({"name": "hanging", "url": feed_server.url("/hang.atom")})
    site = installation(data)
    try:
        service = site.start("serve", "--no-web", "--log-format", "json")
        wait_until(asked.is_set, "the hanging fetch", process=service, installation=site)
        code, seconds = site.stop(service)
        assert code == 0, site.log_text(service)[-3000:]
        assert seconds < 10
        messages = [event.get("message", "") for event in site.events(service)]
        assert any(message.startswith("poll interrupted") for message in messages), messages
    finally:
        release.set()
