"""Commands that set things up: `init` and `config check`."""

from __future__ import annotations

import click
from rich.table import Table

from actwatch.cli.base import App, friendly_errors, pass_app


@click.command()
@pass_app
@friendly_errors
def init(app: App) -> None:
    """Create the database schema, or bring it up to date (safe to run again)."""
    from actwatch.db import current_revision, open_database, upgrade

    engine = open_database(app.config, migrate=False)
    changed = upgrade(engine)
    revision = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    if changed:
        app.console.print(f"Database ready at {where} (schema revision {revision}).")
    else:
        app.console.print(f"Database at {where} is up to date (schema revision {revision}).")
    engine.dispose()


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_app
def config_check(app: App) -> None:
    """Validate the config file, then summarise the Act, its strands and the feeds."""
    config = app.config
    act = config.act
    app.console.print(
        f"[bold]{act.name}[/] ({act.citation}, legislation.gov.uk {act.legislation_id})"
    )
    app.console.print(f"Config: {config.path}")

    strands = Table(title=f"{len(config.strands)} strands", title_justify="left")
    strands.add_column("slug", no_wrap=True)
    strands.add_column("strand")
    strands.add_column("sections")
    strands.add_column("cues", justify="right")
    for slug, strand in config.strands.items():
        strands.add_row(slug, strand.name, ", ".join(strand.sections) or "-", str(len(strand.cues)))
    app.console.print(strands)

    feeds = Table(title=f"{len(config.feeds)} feeds", title_justify="left")
    feeds.add_column("name", no_wrap=True)
    feeds.add_column("url", overflow="fold")
    feeds.add_column("enabled")
    for feed in config.feeds:
        feeds.add_row(feed.name, feed.url, "yes" if feed.enabled else "no")
    app.console.print(feeds)
    app.console.print(f"Database: {config.database_url}")
    app.console.print(f"Mail: {config.mail.url}")
    app.console.print("[green]Config OK.[/]")


def register(group: click.Group) -> None:
    group.add_command(init)
    group.add_command(config_group)
