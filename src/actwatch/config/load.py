"""Read a config file and turn every mistake in it into a line an editor can act on."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from actwatch.config.models import Config
from actwatch.config.types import SLUG_PATTERN

DEFAULT_CONFIG = Path("config.yaml")
CONFIG_ENV = "ACTWATCH_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds one readable line each."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.path = path
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if env := os.environ.get(CONFIG_ENV):
        return Path(env)
    return DEFAULT_CONFIG


def key_path(location: Sequence[int | str]) -> str:
    """('feeds', 3, 'url') -> 'feeds[3].url'."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _describe(error: Any) -> str:
    location = list(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        unknown = location.pop()
        return f"{key_path(location)}: unknown key {unknown!r}"
    if kind == "missing":
        return f"{key_path(location)}: required key missing"
    if location and location[-1] == "[key]":
        location.pop()
        return f"{key_path(location)}: {error['input']!r} is not a valid key ({_reason(error)})"
    if not location:
        # Model validators that check several keys write out their own key path.
        return _reason(error)
    return f"{key_path(location)}: {_reason(error)}"


def _reason(error: Any) -> str:
    if error["type"] == "string_pattern_mismatch" and error["ctx"]["pattern"] == SLUG_PATTERN:
        return "use lower-case letters and digits joined by hyphens, e.g. care-leavers"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def parse_config(data: Any, path: Path) -> Config:
    if data is None:
        raise ConfigError(path, [f"{path}: the file is empty"])
    if not isinstance(data, dict):
        raise ConfigError(path, [f"{path}: expected a mapping of keys at the top level"])
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(error) for error in exc.errors()]) from None
    return config.model_copy(update={"path": path.resolve()})


def _read_yaml(text: str) -> Any:
    """The document, read by libyaml when PyYAML has it (the pure-Python reader takes a third of
    a second over the shipped config, on every command). Its constructor is the same SafeLoader
    one; a document libyaml refuses is read again in Python so that the error reads as always."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yaml.load(text, Loader=fast)  # noqa: S506 (the safe loader, in C)
        except yaml.YAMLError:
            pass
    return yaml.safe_load(text)


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    resolved = config_path(path)
    try:
        text = resolved.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(resolved, [f"{resolved}: no such config file"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(resolved, [f"{resolved}: cannot read: {exc}"]) from None
    try:
        data = _read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{resolved}:{mark.line + 1}" if mark is not None else str(resolved)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(resolved, [f"{where}: bad YAML: {problem}"]) from None
    return parse_config(data, resolved)
