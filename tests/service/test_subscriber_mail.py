"""`actwatch serve` sends the subscriber mail its web pages queue: a sign-up through the served
form gets its confirmation link, after the page has answered; a stop still takes seconds."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from actwatch.mail import MaildirTransport
from tests.service.conftest import Installation, get, service_data, wait_until

pytestmark = pytest.mark.slow


def test_the_served_sign_up_form_gets_its_confirmation_email(
    repo_config_data: dict[str, Any], installation: Callable[[dict[str, Any]], Installation]
) -> None:
    site = installation(service_data(repo_config_data, feed_server=None, mail_url="maildir:mail"))
    web = site.start("serve", "--web-only", "--log-format", "json")
    wait_until(
        lambda: (r := get(site.base_url + "/healthz")) is not None and r.status_code == 200,
        "the web app to answer",
        process=web,
        installation=site,
    )
    with httpx.Client(base_url=site.base_url) as client:
        page = client.get("/subscribe").text
        found = re.search(r'name="form_token" value="([^"]+)"', page)
        assert found
        answer = client.post(
            "/subscribe", data={"form_token": found.group(1), "email": "reader@example.org"}
        )
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    maildir = MaildirTransport(site.folder / "mail")

    def delivered() -> list[Any]:
        try:
            return maildir.messages()
        except FileNotFoundError:
            return []

    (message,) = wait_until(delivered, "the confirmation email", process=web, installation=site)
    assert message["Subject"].startswith("Confirm your subscription")
    assert "https://actwatch.example.org/subscribe/confirm/" in str(message.get_content())
    code, seconds = site.stop(web)
    assert code == 0 and seconds < 10
