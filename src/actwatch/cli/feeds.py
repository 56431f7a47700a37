"""Commands over the feeds stage: `poll`, `feeds`, `items`."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from actwatch.cli.base import App, friendly_errors, pass_app
from actwatch.core.words import count

if TYPE_CHECKING:
    from actwatch.feeds import FeedOutcome, ProgressCallback


@click.command()
@click.option(
    "--feed", "feed_names", multiple=True, metavar="NAME", help="Only this feed (repeatable)."
)
@click.option("--force", is_flag=True, help="Fetch feeds that are not due yet (ignores back-off).")
@click.option("--json", "as_json", is_flag=True, help="Print the pass's counts as JSON.")
@pass_app
@friendly_errors
def poll(app: App, feed_names: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Fetch the feeds that are due once and store new and changed items.

    Exits 0 when the pass ran, whatever individual feeds did: see `actwatch feeds` for those.
    """
    from actwatch.feeds import UnknownFeedError
    from actwatch.pipeline import poll_and_match

    try:
        with _progress_bar(app, enabled=not as_json and sys.stderr.isatty()) as progress:
            result = poll_and_match(
                app.engine,
                app.config,
                feed_names=feed_names or None,
                progress=progress,
                force=force,
            )
    except UnknownFeedError as exc:
        app.fail(str(exc))
    assert result is not None and result.matching is not None  # nothing can stop it here
    report, matched = result.poll, result.matching
    if as_json:
        click.echo(json.dumps(result.as_dict()))
        return
    console = app.console
    console.print(
        f"Polled {count(report.feeds, 'feed')} in {report.seconds:.1f}s: {report.ok} ok, "
        f"{report.not_modified} not modified, {report.failed} failed"
        + (f", {report.skipped} not due" if report.skipped else "")
        + f". {count(report.new_items, 'new item')}, {report.updated_items} updated.",
        highlight=False,
    )
    if matched.classified:
        console.print(
            f"Classified {count(matched.classified, 'item')}: {matched.relevant} relevant, "
            f"{matched.uncertain} uncertain (for the editor), {matched.rejected} rejected.",
            highlight=False,
        )
    if report.skipped and not force:
        console.print(
            f"  {count(report.skipped, 'feed')} not due yet (back-off, Retry-After, max-age or "
            "fetch.min_interval); --force fetches them now.",
            highlight=False,
        )
    for outcome in report.outcomes:
        if outcome.status == "error":
            console.print(f"  [red]{escape(outcome.name)}[/]: {escape(outcome.error or '')}")
        elif outcome.warning:
            console.print(f"  [yellow]{escape(outcome.name)}[/]: {escape(outcome.warning)}")


@contextmanager
def _progress_bar(app: App, *, enabled: bool) -> Iterator[ProgressCallback | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=app.errors,
        transient=True,
    ) as bar:
        task = bar.add_task("Polling feeds", total=None)

        def advance(outcome: FeedOutcome, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=f"Polling {outcome.name}")

        yield advance


@click.command("feeds")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per feed, in a list.")
@click.option(
    "--enable",
    metavar="NAME",
    help="Re-enable a feed the poller disabled (its server said 410 Gone) and clear its back-off.",
)
@pass_app
@friendly_errors
def feeds_command(app: App, as_json: bool, enable: str | None) -> None:
    """Show each feed's state: broken feeds stand out."""
    from actwatch.feeds.store import enable_feed, sync_feeds

    sync_feeds(app.engine, app.config)
    if enable is not None:
        if not enable_feed(app.engine, enable):
            app.fail(f"no feed named {enable!r}")
        if not as_json:
            app.console.print(f"Feed {enable} enabled; it will be fetched on the next poll.")
    rows = feed_listing(app)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title_justify="left")
    for column in ("name", "status", "items", "last fetched", "problem"):
        table.add_column(column, no_wrap=column != "problem", overflow="fold")
    broken = 0
    for row in rows:
        status = row["status"]
        style = {"error": "red", "disabled": "red", "new": "dim"}.get(status, "green")
        broken += status in ("error", "disabled")
        problem = row["error"] or row["warning"] or ""
        if row["status"] == "error" and row["failures"] > 1:
            problem = f"{problem} ({row['failures']} failures in a row)"
        if not problem:
            earlier = row["last_error"] or row["last_warning"]
            if earlier:
                kind = "error" if row["last_error"] else "warning"
                problem = f"last {kind} {_short_time(earlier['at'])}: {earlier['message']}"
        table.add_row(
            escape(row["name"]),
            f"[{style}]{status}[/]",
            str(row["items"]),
            _short_time(row["last_fetched"]),
            escape(problem),
        )
    table.title = (
        f"{len(rows)} feeds, {broken} broken" if broken else f"{len(rows)} feeds, all well"
    )
    app.console.print(table)


def feed_listing(app: App) -> list[dict[str, Any]]:
    from actwatch.feeds.store import fetch_history, list_feeds

    order = {feed.name: index for index, feed in enumerate(app.config.feeds)}
    found = sorted(list_feeds(app.engine), key=lambda f: (order.get(f.name, len(order)), f.id))
    history = fetch_history(app.engine)
    return [
        {
            "name": feed.name,
            "url": feed.url,
            "fetch_url": feed.fetch_url,
            "status": feed.status,
            "error": feed.error,
            "warning": feed.warning,
            # Kept when later fetches are clean: what went wrong last, and when.
            "last_error": _event(feed.last_error, feed.last_error_at),
            "last_warning": _event(feed.last_warning, feed.last_warning_at),
            "identity": feed.identity,
            "fetches": history.get(feed.id, []),
            "items": feed.items,
            "last_fetched": _iso(feed.last_fetched_at),
            "last_ok": _iso(feed.last_ok_at),
            "next_fetch": _iso(feed.next_fetch_at),
            "failures": feed.failures,
            "enabled": feed.enabled,
            "title": feed.title,
        }
        for feed in found
    ]


@click.command()
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only items published on or after this date (YYYY-MM-DD, UTC).",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Items with their sources and match fields.")
@pass_app
@friendly_errors
def items(app: App, since: datetime | None, limit: int | None, as_json: bool) -> None:
    """List stored items, newest first, with their ids (for `include` and `exclude`) and how the
    matcher judged them."""
    rows = item_listing(app, since.replace(tzinfo=UTC) if since else None, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} items", title_justify="left")
    table.add_column("id", justify="right", no_wrap=True)
    table.add_column("published", no_wrap=True)
    table.add_column("title", overflow="fold")
    table.add_column("type")
    table.add_column("sources")
    table.add_column("match")
    for row in rows:
        match = row["editor_state"] or row["state"] or "-"
        if row["editor_state"]:
            match += " (editor)"
        if row["strands"]:
            match += ": " + ", ".join(row["strands"])
        published = (row["published"] or "")[:10]
        if row["date_source"] == "first_seen":
            published += " (undated: first seen)"
        table.add_row(
            str(row["id"]),
            published,
            escape(row["title"]),
            escape(row["type_hint"] or ""),
            escape(", ".join(row["sources"])),
            escape(match),
        )
    app.console.print(table)


def item_listing(app: App, since: datetime | None, limit: int | None) -> list[dict[str, Any]]:
    from actwatch.feeds.store import list_items
    from actwatch.matching.store import verdicts_for

    stories = list_items(app.engine, since=since, limit=limit)
    verdicts = verdicts_for(app.engine, [story.id for story in stories])
    listing = []
    for story in stories:
        verdict = verdicts.get(story.id)
        listing.append(
            {
                "id": story.id,
                "title": story.title,
                "link": story.link,
                "type_hint": story.type_hint,
                "summary": story.summary,
                "published": _iso(story.published_at),
                # first_seen: the feed gave no usable date; `published` is when it was first seen.
                "date_source": story.date_source,
                "updated": _iso(story.updated_at),
                "first_seen": _iso(story.first_seen_at),
                "sources": story.sources,
                "source_meta": story.source_meta,
                "state": verdict.state if verdict else None,
                "editor_state": verdict.editor_state if verdict else None,
                "relevant": verdict.relevant if verdict else None,
                "event_type": verdict.event_type if verdict else None,
                "strands": verdict.strands if verdict else None,
                "confidence": verdict.confidence if verdict else None,
                "evidence": verdict.evidence if verdict else None,
            }
        )
    return listing


def _event(message: str | None, at: datetime | None) -> dict[str, str | None] | None:
    return {"message": message, "at": _iso(at)} if message else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _short_time(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "never"


def register(group: click.Group) -> None:
    group.add_command(poll)
    group.add_command(feeds_command)
    group.add_command(items)
