"""The public pages' fixtures: an approved bulletin with readers, a real SMTP sink to send it
through, and the app whose own mail (confirmations, lost links) goes to a maildir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from actwatch.config import Config
from actwatch.delivery import send_bulletin
from actwatch.mail import MaildirTransport
from actwatch.subscribers import import_file
from actwatch.web import create_app
from tests.delivery.conftest import ENV, READERS, Approved, make_approved

# The delivery tests' config (their mail goes to the sink) serves these pages too.
from tests.delivery.conftest import config as config
from tests.delivery.smtp import Sink
from tests.web.public.pages import BASE


@pytest.fixture
def approved(engine: Engine, config: Config, tmp_path: Path) -> Approved:
    target = make_approved(engine, config)
    readers = tmp_path / "readers.csv"
    readers.write_text(READERS, encoding="utf-8")
    import_file(engine, config, readers)
    return target


@pytest.fixture
def outbox(tmp_path: Path) -> MaildirTransport:
    return MaildirTransport(tmp_path / "outbox")


@pytest.fixture
def app(approved: Approved, outbox: MaildirTransport) -> Starlette:
    return create_app(approved.config, approved.engine, env=ENV, transport_factory=lambda: outbox)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE, follow_redirects=False) as client:
        yield client


@pytest.fixture
def sent(approved: Approved, sink: Sink) -> Sink:
    report = send_bulletin(approved.engine, approved.config, approved.bulletin_id, env=ENV)
    assert report.finished
    return sink
