"""The README documents every command and every configuration key (as sqlite-utils does)."""

from __future__ import annotations

import re

import click
import pytest
from pydantic import BaseModel

from actwatch.cli import main
from actwatch.config import Config
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _command_paths(group: click.Group, prefix: str = "actwatch") -> list[str]:
    paths = []
    # Through list_commands/get_command: the top-level group imports its commands lazily.
    context = click.Context(group)
    for name in sorted(group.list_commands(context)):
        command = group.get_command(context, name)
        assert command is not None, name
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, path))
        else:
            paths.append(path)
    return paths


@pytest.mark.parametrize("command", _command_paths(main))
def test_every_command_is_in_the_readme(command: str) -> None:
    documented = f"`{command}" in README or f"{command}`" in README
    assert documented, f"README lacks {command}"


def _keys(model: type[BaseModel]) -> set[str]:
    keys = set()
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        keys.add(field.alias or name)
        annotation = field.annotation
        for candidate in getattr(annotation, "__args__", ()) or (annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys |= _keys(candidate)
    return keys


def test_every_config_key_is_in_the_readme() -> None:
    reference = README[README.index("## Configuration reference") :]
    documented = set(re.findall(r"`([a-z_]+)", reference))
    documented |= {
        part for ref in re.findall(r"`([a-z_.]+)`", reference) for part in ref.split(".")
    }
    missing = sorted(_keys(Config) - documented)
    assert missing == [], f"README's configuration reference lacks {missing}"


def test_quick_start_has_two_sh_blocks() -> None:
    quick = README[
        README.index("## Quick start") : README.index("\n## ", README.index("## Quick start") + 1)
    ]
    assert quick.count("```sh") == 2
