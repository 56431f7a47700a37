"""`actwatch init`, `config check` and `--version` through the real command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from actwatch import __version__
from actwatch.cli import main
from actwatch.db import make_engine, metadata
from tests.conftest import REPO


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_config_check_summarises_the_real_config() -> None:
    result = CliRunner().invoke(
        main, ["--config", str(REPO / "config.yaml"), "config", "check"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "Children and Social Work Act 2017" in result.output
    assert "9 strands" in result.output
    for slug in ("care-leavers", "social-work-england", "safeguarding-partnerships"):
        assert slug in result.output
    assert "gov-uk-dfe" in result.output and "legislation-new-uksi" in result.output


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_init_creates_the_schema_then_changes_nothing(
    backend: str, request: pytest.FixtureRequest, write_config: Callable[..., Path], tmp_path: Path
) -> None:
    url = (
        "sqlite:///fresh/actwatch.db"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    path = write_config(database={"url": url})
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(path), "init"])
    assert first.exit_code == 0, first.output
    assert "Database ready" in first.output
    engine = make_engine(
        url if backend != "sqlite" else f"sqlite:///{tmp_path / 'fresh' / 'actwatch.db'}"
    )
    tables_before = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables_before
    second = runner.invoke(main, ["--config", str(path), "init"])
    assert second.exit_code == 0, second.output
    assert "up to date" in second.output
    assert set(inspect(engine).get_table_names()) == tables_before
    engine.dispose()


def test_unreachable_database_is_one_clear_line(write_config: Callable[..., Path]) -> None:
    path = write_config(database={"url": "postgresql://nobody@127.0.0.1:1/none"})
    result = CliRunner().invoke(main, ["--config", str(path), "init"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot use the database:")
    assert "Traceback" not in result.output
