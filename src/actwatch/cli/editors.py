"""`actwatch editors`: the accounts that may log in to the web editor (there is no default)."""

from __future__ import annotations

import json
import sys

import click
from rich.markup import escape
from rich.table import Table

from actwatch.cli.base import App, friendly_errors, pass_app
from actwatch.core.words import count


def _read_password(app: App, from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            app.fail("no password on standard input")
        return password
    if not sys.stdin.isatty():
        app.fail("no terminal to ask for the password: use --password-stdin")
    entered: str = click.prompt(
        "Password", hide_input=True, confirmation_prompt="Repeat the password"
    )
    return entered


password_stdin = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


@click.group("editors")
def editors_group() -> None:
    """Editor accounts for the web editor."""


@editors_group.command("add")
@click.argument("name")
@click.option("--email", help="The editor's email address (optional).")
@password_stdin
@pass_app
@friendly_errors
def add(app: App, name: str, email: str | None, password_stdin: bool) -> None:
    """Create an editor account called NAME (asks for the password twice)."""
    from actwatch.editors import AccountError, add_editor, find_editor

    engine = app.engine
    if find_editor(engine, name) is not None:
        app.fail(f"there is already an editor called {name!r}")
    password = _read_password(app, password_stdin)
    try:
        editor = add_editor(engine, name, password, email=email)
    except AccountError as exc:
        app.fail(str(exc))
    app.console.print(
        f"Added editor {editor.name!r}: log in at {app.config.web.base_url.rstrip('/')}/editor/",
        highlight=False,
        markup=False,
    )


@editors_group.command("passwd")
@click.argument("name")
@password_stdin
@pass_app
@friendly_errors
def passwd(app: App, name: str, password_stdin: bool) -> None:
    """Set a new password for editor NAME."""
    from actwatch.editors import AccountError, find_editor, set_password

    if find_editor(app.engine, name) is None:
        app.fail(f"no editor called {name!r}")
    password = _read_password(app, password_stdin)
    try:
        set_password(app.engine, name, password)
    except AccountError as exc:
        app.fail(str(exc))
    app.console.print(f"Changed the password of {name!r}.", highlight=False, markup=False)


@editors_group.command("remove")
@click.argument("name")
@pass_app
@friendly_errors
def remove(app: App, name: str) -> None:
    """Delete editor NAME's account (their sessions end at their next request)."""
    from actwatch.editors import AccountError, remove_editor

    try:
        remove_editor(app.engine, name)
    except AccountError as exc:
        app.fail(str(exc))
    app.console.print(f"Removed editor {name!r}.", highlight=False, markup=False)


@editors_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON list of the accounts.")
@pass_app
@friendly_errors
def list_command(app: App, as_json: bool) -> None:
    """List the editor accounts."""
    from actwatch.editors import list_editors

    found = list_editors(app.engine)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": editor.name,
                        "email": editor.email,
                        "created": editor.created_at.isoformat(),
                        "last_login": editor.last_login_at.isoformat()
                        if editor.last_login_at
                        else None,
                    }
                    for editor in found
                ],
                ensure_ascii=False,
            )
        )
        return
    if not found:
        app.console.print("No editors yet: `actwatch editors add NAME` creates one.")
        return
    table = Table(title=f"{count(len(found), 'editor')}", title_justify="left")
    for column in ("name", "email", "created", "last login"):
        table.add_column(column)
    zone = app.config.schedule.zone
    for editor in found:
        table.add_row(
            escape(editor.name),
            escape(editor.email or "-"),
            f"{editor.created_at.astimezone(zone):%d %b %Y}",
            f"{editor.last_login_at.astimezone(zone):%d %b %Y %H:%M}"
            if editor.last_login_at
            else "never",
        )
    app.console.print(table)


def register(group: click.Group) -> None:
    group.add_command(editors_group)
