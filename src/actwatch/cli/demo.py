"""`actwatch demo`: the whole pipeline offline, in one folder."""

from __future__ import annotations

import shlex
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
@pass_app
@friendly_errors
def demo(app: App, folder: Path) -> None:
    """Run everything offline on the bundled sample feeds and write a bulletin into --out.

    Serves the sample feeds on 127.0.0.1, polls them, matches the items, compiles the season
    with the most news and renders it as HTML, plain text and a Markdown archive post.
    """
    from actwatch.demo import DemoError, run_demo

    console = app.console
    try:
        with console.status("Running the demo...") as status:
            report = run_demo(folder, progress=lambda message: status.update(message + "..."))
    except DemoError as exc:
        app.fail(str(exc))

    console.print(
        f"[bold]Demo ready in {report.folder}[/] ({report.seconds:.1f}s)", highlight=False
    )
    console.print(
        f"Feeds: {report.feeds} sample feeds, {report.feeds_ok} read"
        + (f", {report.feeds_failed} failed" if report.feeds_failed else "")
        + f". Items: {report.items} stored, {report.relevant} relevant, "
        f"{report.uncertain} uncertain (for the editor to decide).",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(title="Relevant items per strand", title_justify="left")
    table.add_column("strand")
    table.add_column("items", justify="right")
    for slug, count in report.relevant_by_strand.items():
        table.add_row(report.strand_names.get(slug, slug), str(count))
    console.print(table)
    if report.season is None:
        console.print("No relevant items, so no bulletin was compiled.", highlight=False)
    else:
        console.print(
            f"Bulletin {report.bulletin_id}: {report.season.label} "
            f"({report.bulletin_items} items, the season with the most news). Files written:",
            highlight=False,
            soft_wrap=True,
        )
        for path in report.files:
            console.print(f"  {path}  ({path.stat().st_size:,} bytes)", highlight=False)
    config_arg = shlex.quote(str(report.config_path))
    console.print("Next, try:", highlight=False)
    for command in (
        f"actwatch --config {config_arg} bulletins",
        f"actwatch --config {config_arg} show {report.bulletin_id or 1} --format text",
        f"actwatch --config {config_arg} items",
        f"actwatch --config {config_arg} draft winter-2017",
    ):
        console.print(f"  {command}", highlight=False, markup=False, soft_wrap=True)


def register(group: click.Group) -> None:
    group.add_command(demo)
