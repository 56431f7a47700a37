"""An approved bulletin, subscribers with different strand choices, and a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from actwatch.config import Config, parse_config
from actwatch.review import approve
from actwatch.subscribers import import_file
from tests.bulletin.conftest import pinned_data
from tests.delivery.smtp import Sink
from tests.review.conftest import make_draft

SECRET = "delivery-test-secret-" + "s" * 40
ENV = {"ACTWATCH_SECRET_KEY": SECRET}
APPROVED_AT = datetime(2017, 12, 4, 10, 0, tzinfo=UTC)

# Three readers with three different choices (and the bulletin's strands differ between them).
READERS = (
    "email,name,strands\n"
    "all@example.org,Alex All,\n"
    "leavers@example.org,Lee Leavers,care-leavers;corporate-parenting\n"
    "safe@example.org,Sam Safe,safeguarding-partnerships\n"
)


def config_data(repo_config_data: dict[str, Any], mail_url: str) -> dict[str, Any]:
    data = pinned_data(repo_config_data)
    data["mail"] = {
        **data["mail"],
        "url": mail_url,
        "unsubscribe_mailto": "unsubscribe@actwatch.example.org",
        "retry_backoff": "1s",
        "max_attempts": 3,
    }
    return data


@pytest.fixture
def config(tmp_path: Path, repo_config_data: dict[str, Any], sink: Sink) -> Config:
    return parse_config(config_data(repo_config_data, sink.url), tmp_path / "config.yaml")


@dataclass(frozen=True)
class Approved:
    engine: Engine
    config: Config
    bulletin_id: int


def make_approved(engine: Engine, config: Config) -> Approved:
    draft = make_draft(engine, config)
    approve(engine, config, draft.bulletin_id, by="Jo Broad", now=APPROVED_AT)
    return Approved(engine, config, draft.bulletin_id)


@pytest.fixture
def approved(sqlite_engine: Engine, config: Config) -> Approved:
    return make_approved(sqlite_engine, config)


@pytest.fixture
def add_readers(tmp_path: Path) -> Callable[[Approved, str], None]:
    def add(target: Approved, csv_text: str = READERS) -> None:
        path = tmp_path / "readers.csv"
        path.write_text(csv_text, encoding="utf-8")
        report = import_file(target.engine, target.config, path)
        assert not report.rejected, report.rejected

    return add
