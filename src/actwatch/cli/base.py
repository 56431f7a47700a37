"""The top-level group, its shared options, and how a failure reaches the terminal."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from functools import cached_property, wraps
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from actwatch import __version__
from actwatch.config import Config, ConfigError, config_path, load_config
from actwatch.core.words import count
from actwatch.db import Engine

CONFIG_INVALID = 2
# Output that goes to a file or a pipe is never wrapped: a table row stays one line for grep,
# sort and less -S, whatever the 80 columns rich assumes when there is no terminal.
UNWRAPPED = 100_000


def make_console(*, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or unwrapped when writing to a file or pipe (COLUMNS,
    when set, wins either way)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not os.environ.get("COLUMNS") and not stream.isatty():
        width = UNWRAPPED
    return Console(stderr=stderr, width=width)


class App:
    """What every command needs, made on first use so `--help` and `--version` stay instant."""

    def __init__(self, config_file: str | None, verbosity: int) -> None:
        self.config_file = config_path(config_file)
        self.verbosity = verbosity
        self.console = make_console()
        self.errors = make_console(stderr=True)

    @cached_property
    def config(self) -> Config:
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

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(func: F) -> F:
    """One clear line instead of a traceback for the failures an operator can fix."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from actwatch.db import OperationalError

        try:
            return func(*args, **kwargs)
        except OperationalError as exc:
            message = str(exc.orig or exc).strip().splitlines()[0]
            click.echo(f"Error: cannot use the database: {message}", err=True)
            sys.exit(1)
        except OSError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
