"""The web editor on a real draft: an app, an editor account and a logged-in test client."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from actwatch.config import Config, parse_config
from actwatch.editors import add_editor
from actwatch.mail import MaildirTransport
from actwatch.web import create_app
from tests.bulletin.conftest import pinned_data
from tests.review.conftest import Draft, make_draft

SECRET = "test-secret-" + "x" * 40
EDITOR = "Jo Broad"
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def config(tmp_path: Path, repo_config_data: dict[str, Any]) -> Config:
    data = pinned_data(repo_config_data)
    data["mail"] = {**data["mail"], "url": "maildir:mail"}
    return parse_config(data, tmp_path / "config.yaml")


def draft_with_editor(engine: Engine, config: Config) -> Draft:
    draft = make_draft(engine, config)
    add_editor(engine, EDITOR, PASSWORD, email="jo@example.org")
    return draft


@pytest.fixture
def draft(engine: Engine, config: Config) -> Draft:
    """The autumn 2017 draft and an editor account, on SQLite and on PostgreSQL."""
    return draft_with_editor(engine, config)


@pytest.fixture
def outbox(tmp_path: Path) -> MaildirTransport:
    return MaildirTransport(tmp_path / "outbox")


@pytest.fixture
def make_app(config: Config, draft: Draft, outbox: MaildirTransport) -> Callable[[], Starlette]:
    def make() -> Starlette:
        return create_app(
            config,
            draft.engine,
            env={config.web.secret_key_env: SECRET},
            transport_factory=lambda: outbox,
        )

    return make


@pytest.fixture
def app(make_app: Callable[[], Starlette]) -> Starlette:
    return make_app()


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def log_in(client: TestClient, name: str = EDITOR, password: str = PASSWORD) -> str:
    """Log in; returns the session's CSRF token."""
    token = csrf_of(client.get("/editor/login").text)
    response = client.post(
        "/editor/login",
        data={"name": name, "password": password, "csrf_token": token, "next": "/editor/"},
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/editor/").text)


@pytest.fixture
def editor_client(client: TestClient) -> tuple[TestClient, str]:
    return client, log_in(client)
