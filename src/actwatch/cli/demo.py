"""`actwatch demo`: the whole pipeline offline, in one folder."""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path

import click
from rich.table import Table

from actwatch.cli.base import App, friendly_errors, pass_app


@click.command()
@click.option(
    "--out",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="The folder for the demo's config, database, maildir and bulletin.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help="The port the demo config's web app (`serve`, `web`) listens on, on 127.0.0.1.",
)
@pass_app
@friendly_errors
def demo(app: App, folder: Path, port: int) -> None:
    """Run everything offline on the bundled sample feeds and write a bulletin into --out.

    Serves the sample feeds on 127.0.0.1, polls them, matches the items, compiles the season
    with the most news and renders it as HTML, plain text and a Markdown archive post. Then says
    how to open it and how to review it in the web editor.
    """
    from actwatch.demo import DemoError, run_demo

    console = app.console
    try:
        with console.status("Running the demo...") as status:
            report = run_demo(
                folder, progress=lambda message: status.update(message + "..."), port=port
            )
    except DemoError as exc:
        app.fail(str(exc))

    def say(text: str = "") -> None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)

    console.print(
        f"[bold]Demo ready in {report.folder}[/] ({report.seconds:.1f}s)", highlight=False
    )
    say(
        f"Feeds: {_count(report.feeds, 'sample feed')}, {report.feeds_ok} read"
        + (f", {report.feeds_failed} failed" if report.feeds_failed else "")
        + f". Items: {report.items} stored, {report.relevant} relevant, "
        f"{report.uncertain} uncertain (for the editor to decide)."
    )
    table = Table(title="Relevant items per strand", title_justify="left")
    table.add_column("strand")
    table.add_column("items", justify="right")
    for slug, count in report.relevant_by_strand.items():
        table.add_row(report.strand_names.get(slug, slug), str(count))
    console.print(table)
    config_arg = shlex.quote(str(report.config_path))
    if report.season is None or not report.files:
        say("No relevant items, so no bulletin was compiled.")
    else:
        html, *others = report.files
        issued = f", issued {_long_date(report.issued_on)}" if report.issued_on else ""
        say(
            f"Bulletin {report.bulletin_id}: {report.season.label} "
            f"({_count(report.bulletin_items, 'item')}, the season with the most news{issued})."
        )
        say()
        say("Open the email in your browser:")
        say(f"  {html.as_uri()}")
        say(
            "Its plain-text part and the archive post are beside it: "
            + ", ".join(path.name for path in others)
            + "."
        )
    say()
    say("Review it in the web editor (it also polls the sample feeds, from itself):")
    key = report.secret_key_env
    editor = shlex.quote(report.editor_name or "Editor")
    for command in (
        f"export {key}=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')\"",
        f"actwatch --config {config_arg} editors add {editor}    # asks for a password",
        f"actwatch --config {config_arg} serve",
    ):
        say(f"  {command}")
    say(f"then open {report.web_url}/editor/ and log in as {report.editor_name or 'Editor'}.")
    say(f"({key} signs the editor's session and the readers' links; keep it for every run.)")
    say()
    say("More to try:")
    for command in (
        f"actwatch --config {config_arg} bulletins",
        f"actwatch --config {config_arg} show {report.bulletin_id or 1} --format text",
        f"actwatch --config {config_arg} items --limit 20",
    ):
        say(f"  {command}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def register(group: click.Group) -> None:
    group.add_command(demo)
