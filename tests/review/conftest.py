"""A real draft to review: the bulletin stage's autumn 2017 fixture, drafted into a database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from actwatch.bulletin import draft_bulletin, parse_season
from actwatch.config import Config, parse_config
from tests.bulletin.conftest import pinned_data
from tests.bulletin.fixtures import NOW, insert_fixture


@dataclass(frozen=True)
class Draft:
    engine: Engine
    config: Config
    bulletin_id: int
    ids: dict[int, int]  # fixture item id -> database id


@pytest.fixture
def config(tmp_path: Path, repo_config_data: dict[str, Any]) -> Config:
    data = pinned_data(repo_config_data)
    data["mail"] = {**data["mail"], "url": "maildir:mail"}
    return parse_config(data, tmp_path / "config.yaml")


def make_draft(engine: Engine, config: Config) -> Draft:
    ids = insert_fixture(engine)
    result = draft_bulletin(engine, config, parse_season(config, "autumn-2017"), NOW)
    return Draft(engine, config, result.bulletin_id, ids)


@pytest.fixture
def draft(engine: Engine, config: Config) -> Draft:
    """The autumn 2017 draft on SQLite and on PostgreSQL."""
    return make_draft(engine, config)


@pytest.fixture
def sqlite_draft(sqlite_engine: Engine, config: Config) -> Draft:
    return make_draft(sqlite_engine, config)


@pytest.fixture
def write_pinned_config(
    write_config: Callable[..., Path], repo_config_data: dict[str, Any]
) -> Callable[..., Path]:
    """The pinned config written into tmp_path (mail into a maildir there)."""
    pinned = pinned_data(repo_config_data)

    def write(**sections: Any) -> Path:
        return write_config(
            strands=pinned["strands"], bulletin=pinned["bulletin"], web=pinned["web"], **sections
        )

    return write
