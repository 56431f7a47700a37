"""The top-level group, its shared options, and how a failure reaches the terminal."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Callable, Mapping
from functools import cached_property, wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from actwatch import __version__
from actwatch.core.words import count

if TYPE_CHECKING:
    from rich.console import Console

    from actwatch.config import Config
    from actwatch.db import Engine

CONFIG_INVALID = 2
# Output that goes to a file or a pipe is never wrapped: a table row stays one line for grep,
# sort and less -S, whatever the 80 columns rich assumes when there is no terminal.
UNWRAPPED = 100_000


def make_console(*, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or unwrapped when writing to a file or pipe (COLUMNS,
    when set, wins either way)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not os.environ.get("COLUMNS") and not stream.isatty():
        width = UNWRAPPED
    return Console(stderr=stderr, width=width)


class App:
    """What every command needs, made on first use so `--help` and `--version` stay instant."""

    def __init__(self, config_file: str | None, verbosity: int) -> None:
        self.config_option = config_file
        self.verbosity = verbosity
        self.console = make_console()
        self.errors = make_console(stderr=True)

    @cached_property
    def config_file(self) -> Path:
        # The configuration (pydantic, its models) is imported by the commands that run, never
        # by `--version` or `--help`.
        from actwatch.config import config_path

        return config_path(self.config_option)

    @cached_property
    def config(self) -> Config:
        from actwatch.config import ConfigError, load_config

        try:
            return load_config(self.config_file)
        except ConfigError as exc:
            for problem in exc.problems:
                self.errors.print(problem, markup=False, highlight=False, soft_wrap=True)
            self.errors.print(
                f"{exc.path}: {count(len(exc.problems), 'problem')}; nothing was done.",
                markup=False,
                highlight=False,
            )
            sys.exit(CONFIG_INVALID)

    @cached_property
    def engine(self) -> Engine:
        from actwatch.db import open_database

        engine = open_database(self.config)
        # Pooled connections closed when the command ends, not left to the garbage collector.
        context = click.get_current_context(silent=True)
        if context is not None:
            context.find_root().call_on_close(engine.dispose)
        return engine

    def fail(self, message: str, code: int = 1) -> NoReturn:
        self.errors.print(f"Error: {message}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(code)


pass_app = click.make_pass_decorator(App)


class LazyGroup(click.Group):
    """A group whose commands are imported when one of them is run (or listed by `--help`):
    each command module pulls in its stage, and `actwatch --version` needs none of them.

    `lazy` maps each command name to the module whose `register(group)` adds it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, str] = {}

    def add_lazy(self, lazy: Mapping[str, str]) -> None:
        self.lazy.update(lazy)

    def load_all(self) -> None:
        for module in dict.fromkeys(self.lazy.values()):
            self._load(module)

    def _load(self, module: str) -> None:
        loaded = {name for name, owner in self.lazy.items() if owner == module}
        if loaded <= set(self.commands):
            return
        importlib.import_module(module).register(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self._load(self.lazy[cmd_name])
        return super().get_command(ctx, cmd_name)


F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """One clear line instead of a traceback for the failures an operator can fix."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OSError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        except Exception as exc:
            # Only a command that opened the database can fail with the database's error, so
            # the storage layer is imported here, not by every command that never touches it.
            if "sqlalchemy" not in sys.modules:
                raise
            from actwatch.db import OperationalError

            if not isinstance(exc, OperationalError):
                raise
            message = str(exc.orig or exc).strip().splitlines()[0]
            click.echo(f"Error: cannot use the database: {message}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=str),
    envvar="ACTWATCH_CONFIG",
    help="The config file (default: ./config.yaml, or $ACTWATCH_CONFIG).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="actwatch")
@click.pass_context
def main(ctx: click.Context, config_file: str | None, verbose: int) -> None:
    """Watch the implementation of an Act and publish a seasonal bulletin."""
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = App(config_file, verbose)
