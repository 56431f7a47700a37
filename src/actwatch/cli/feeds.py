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
    from actwatch.feeds import UnknownFeedError, poll_feeds

    try:
        with _progress_bar(app, enabled=not as_json and sys.stderr.isatty()) as progress:
            report = poll_feeds(
                app.engine,
                app.config,
                feed_names=feed_names or None,
                progress=progress,
                force=force,
            )
    except UnknownFeedError as exc:
        app.fail(str(exc))
    from actwatch.matching.store import classify_pending

    matched = classify_pending(app.engine, app.config)
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "matching": matched.as_dict()}))
        return
    console = app.console
    console.print(
        f"Polled {report.feeds} feed(s) in {report.seconds:.1f}s: {report.ok} ok, "
        f"{report.not_modified} not modified, {report.failed} failed"
        + (f", {report.skipped} not due" if report.skipped else "")
        + f". {report.new_items} new item(s), {report.updated_items} updated.",
        highlight=False,
    )
    if matched.classified:
        console.print(
            f"Classified {matched.classified} item(s): {matched.relevant} relevant, "
            f"{matched.uncertain} uncertain (for the editor), {matched.rejected} rejected.",
            highlight=False,
        )
    if report.skipped and not force:
        console.print(
            f"  {report.skipped} feed(s) not due yet (back-off, Retry-After, max-age or "
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
        with app.engine.begin() as connection:
            if not enable_feed(connection, enable):
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
    from sqlalchemy import select

    from actwatch.db.schema import feeds

    with app.engine.connect() as connection:
        rows = connection.execute(select(feeds).order_by(feeds.c.id)).all()
    order = {feed.name: index for index, feed in enumerate(app.config.feeds)}
    rows = sorted(rows, key=lambda row: (order.get(row.name, len(order)), row.id))
    return [
        {
            "name": row.name,
            "url": row.url,
            "fetch_url": row.fetch_url,
            "status": row.status if row.enabled else "disabled",
            "error": row.error or (row.disabled_reason if not row.enabled else None),
            "warning": row.warning,
            # Kept when later fetches are clean: what went wrong last, and when.
            "last_error": _event(row.last_error, row.last_error_at),
            "last_warning": _event(row.last_warning, row.last_warning_at),
            "identity": row.identity or {},
            "items": row.items_seen,
            "last_fetched": _iso(row.last_fetched_at),
            "last_ok": _iso(row.last_ok_at),
            "next_fetch": _iso(row.next_fetch_at),
            "failures": row.consecutive_failures,
            "enabled": row.enabled,
            "title": row.feed_title,
        }
        for row in rows
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
    """List stored items, newest first, with how the matcher judged them."""
    rows = item_listing(app, since.replace(tzinfo=UTC) if since else None, limit)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"{len(rows)} items", title_justify="left")
    table.add_column("published", no_wrap=True)
    table.add_column("title", overflow="fold")
    table.add_column("type")
    table.add_column("sources")
    table.add_column("match")
    for row in rows:
        match = row["state"] or "-"
        if row["strands"]:
            match += ": " + ", ".join(row["strands"])
        published = (row["published"] or "")[:10]
        if row["date_source"] == "first_seen":
            published += " (undated: first seen)"
        table.add_row(
            published,
            escape(row["title"]),
            escape(row["type_hint"] or ""),
            escape(", ".join(row["sources"])),
            escape(match),
        )
    app.console.print(table)


def item_listing(app: App, since: datetime | None, limit: int | None) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from actwatch.db.schema import feeds, item_matches, item_sources, item_strands
    from actwatch.db.schema import items as items_table

    query = (
        select(
            items_table.c.id,
            items_table.c.title,
            items_table.c.link,
            items_table.c.type_hint,
            items_table.c.summary,
            items_table.c.published_at,
            items_table.c.date_source,
            items_table.c.updated_at,
            items_table.c.first_seen_at,
            items_table.c.source_meta,
            item_matches.c.state,
            item_matches.c.editor_state,
            item_matches.c.relevant,
            item_matches.c.event_type,
            item_matches.c.confidence,
            item_matches.c.evidence,
        )
        .select_from(
            items_table.outerjoin(item_matches, item_matches.c.item_id == items_table.c.id)
        )
        .order_by(items_table.c.published_at.desc(), items_table.c.id.desc())
    )
    if since is not None:
        query = query.where(items_table.c.published_at >= since)
    if limit is not None:
        query = query.limit(limit)
    with app.engine.connect() as connection:
        rows = connection.execute(query).all()
        ids = [row.id for row in rows]
        sources: dict[int, list[str]] = {}
        strands: dict[int, list[str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for item_id, name in connection.execute(
                select(item_sources.c.item_id, feeds.c.name)
                .join(feeds, feeds.c.id == item_sources.c.feed_id)
                .where(item_sources.c.item_id.in_(chunk))
                .order_by(item_sources.c.first_seen_at, item_sources.c.id)
            ):
                sources.setdefault(item_id, []).append(name)
            for item_id, strand in connection.execute(
                select(item_strands.c.item_id, item_strands.c.strand)
                .where(item_strands.c.item_id.in_(chunk))
                .order_by(item_strands.c.strand)
            ):
                strands.setdefault(item_id, []).append(strand)
    return [
        {
            "id": row.id,
            "title": row.title,
            "link": row.link,
            "type_hint": row.type_hint,
            "summary": row.summary,
            "published": _iso(row.published_at),
            # first_seen: the feed gave no usable date, so `published` is when it was first seen.
            "date_source": row.date_source,
            "updated": _iso(row.updated_at),
            "first_seen": _iso(row.first_seen_at),
            "sources": sources.get(row.id, []),
            "source_meta": row.source_meta,
            "state": row.state,
            "editor_state": row.editor_state,
            "relevant": row.relevant,
            "event_type": row.event_type,
            "strands": strands.get(row.id, []) if row.state is not None else None,
            "confidence": row.confidence,
            "evidence": row.evidence,
        }
        for row in rows
    ]


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
