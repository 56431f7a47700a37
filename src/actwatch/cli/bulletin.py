"""Commands over the bulletin stage: `draft`, `bulletins`, `show`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from actwatch.cli.base import App, friendly_errors, pass_app

FORMATS = ("html", "text", "markdown")


@click.command()
@click.argument("season", required=False)
@pass_app
@friendly_errors
def draft(app: App, season: str | None) -> None:
    """Create SEASON's draft bulletin (e.g. autumn-2017), or refresh it with new items.

    Without SEASON: the season that ended last. Refreshing adds the season's newly relevant
    items and never changes what the editor already decided.
    """
    from actwatch.bulletin import BulletinError, SeasonError, parse_season
    from actwatch.pipeline import draft_and_notify

    try:
        chosen = parse_season(app.config, season) if season else None
    except SeasonError as exc:
        raise click.BadParameter(str(exc), param_hint="SEASON") from None
    try:
        drafted = draft_and_notify(app.engine, app.config, chosen)
    except BulletinError as exc:
        app.fail(str(exc))
    result = drafted.draft
    slug = result.season.slug
    if result.created:
        message = (
            f"Created the {slug} draft (bulletin {result.bulletin_id}) with {result.total} item(s)."
        )
    else:
        message = (
            f"Refreshed the {slug} draft (bulletin {result.bulletin_id}): "
            f"{result.added} new item(s), {result.total} in all; the editor's choices are kept."
        )
    app.console.print(message, highlight=False, markup=False, soft_wrap=True)
    if not result.total:
        app.console.print(
            "No relevant announcements in this season yet: poll and match first "
            "(the draft will pick them up when refreshed).",
            highlight=False,
            soft_wrap=True,
        )
    app.console.print(
        f"Preview: actwatch show {result.bulletin_id} --format html -o {slug}.html",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    # Once per draft: a refresh retries a notification that failed before.
    if drafted.notified.error is not None:
        app.errors.print(
            f"Warning: could not email the editor ({drafted.notified.error}); the next "
            "`actwatch draft` tries again.",
            markup=False,
            highlight=False,
        )
    elif drafted.notified.told:
        app.console.print(
            f"Told {app.config.bulletin.editor.email} that the draft is ready.",
            highlight=False,
            markup=False,
        )


@click.command("bulletins")
@click.option("--json", "as_json", is_flag=True, help="One JSON list of the bulletins.")
@pass_app
@friendly_errors
def list_command(app: App, as_json: bool) -> None:
    """List the bulletins: one per season."""
    from actwatch.bulletin import list_bulletins

    summaries = list_bulletins(app.engine, app.config)
    if as_json:
        click.echo(json.dumps([summary.as_dict() for summary in summaries], ensure_ascii=False))
        return
    if not summaries:
        app.console.print("No bulletins yet: `actwatch draft` creates one.", highlight=False)
        return
    table = Table(title=f"{len(summaries)} bulletin(s)", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("season", no_wrap=True)
    table.add_column("state")
    table.add_column("items", justify="right")
    table.add_column("title", overflow="fold")
    for summary in summaries:
        table.add_row(
            str(summary.id),
            summary.season,
            summary.state,
            str(summary.items),
            escape(summary.title),
        )
    app.console.print(table)


@click.command()
@click.argument("bulletin")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="html: the email; text: its plain-text part; markdown: the archive post.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of the terminal.",
)
@pass_app
@friendly_errors
def show(app: App, bulletin: str, output_format: str, output: Path | None) -> None:
    """Render BULLETIN (its id or season, e.g. autumn-2017) as the editor will review it.

    Links point at `web.base_url` (archive, unsubscribe and preferences pages).
    """
    from actwatch.bulletin import BulletinError, RenderError
    from actwatch.pipeline import render

    try:
        # The archive post lists everything; the email caps each section.
        rendered = render(app.engine, app.config, bulletin, [output_format])[output_format]
    except (BulletinError, RenderError) as exc:
        app.fail(str(exc))
    if output is None:
        click.echo(rendered, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(rendered, encoding="utf-8")
    app.console.print(
        f"Wrote {output} ({len(rendered.encode('utf-8')):,} bytes).",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


def register(group: click.Group) -> None:
    group.add_command(draft)
    group.add_command(list_command)
    group.add_command(show)
