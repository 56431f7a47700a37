"""Each command imports only what it needs: the command table names every command's module."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import click
import pytest

from actwatch.cli import COMMAND_MODULES, COMMANDS, main

HEAVY = (
    "sqlalchemy",
    "alembic",
    "httpx",
    "feedparser",
    "jinja2",
    "mjml",
    "starlette",
    "sklearn",
    "numpy",
    "pydantic",
)


def test_the_command_table_names_exactly_what_each_module_registers() -> None:
    registered: dict[str, str] = {}
    for module in COMMAND_MODULES:
        group = click.Group()
        importlib.import_module(module).register(group)
        registered.update(dict.fromkeys(group.commands, module))
    assert registered == COMMANDS


def test_every_command_resolves_through_the_group() -> None:
    context = click.Context(main)
    assert main.list_commands(context) == sorted(COMMANDS)
    for name in COMMANDS:
        command = main.get_command(context, name)
        assert command is not None and command.name == name


def _imported_by(args: list[str], cwd: Path) -> set[str]:
    script = (
        "import sys\n"
        "from actwatch.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"heavy = [m for m in sys.modules if m.split('.')[0] in {HEAVY!r}]\n"
        "print('\\n'.join(heavy), file=sys.stderr)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, check=False
    )
    assert result.returncode == 0, result.stderr
    return {line.split(".")[0] for line in result.stderr.splitlines() if line}


def test_version_imports_no_stage(tmp_path: Path) -> None:
    assert _imported_by(["--version"], tmp_path) == set()


@pytest.mark.parametrize("args", [["--help"], ["poll", "--help"]])
def test_help_imports_no_stage(args: list[str], tmp_path: Path) -> None:
    assert _imported_by(args, tmp_path) == set()


def test_listing_bulletins_imports_the_store_only(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    args = ["--config", str(write_config()), "bulletins", "--json"]
    _imported_by(args, tmp_path)  # creates the schema (Alembic)
    assert _imported_by(args, tmp_path) == {"sqlalchemy", "pydantic"}
