"""Commands for the operator: `serve` (the service), `send-worker` and `status`."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from actwatch.cli.base import App, friendly_errors, pass_app
from actwatch.core.words import count
from actwatch.logs import LOG_FORMATS

log_format_option = click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="json: one JSON object per line (for journald, Loki and the like).",
)


def _setup_logging(app: App, log_format: str) -> None:
    from actwatch.logs import configure_logging

    level = logging.DEBUG if app.verbosity >= 2 else logging.INFO
    configure_logging("json" if log_format == "json" else "text", level)


@click.command()
@click.option(
    "--no-web", "no_web", is_flag=True, help="Run the scheduler only (the web app runs elsewhere)."
)
@click.option(
    "--web-only",
    is_flag=True,
    help="Run the web app only: takes no lock, so several can run beside one scheduler.",
)
@click.option(
    "--standby",
    is_flag=True,
    help="If another scheduler runs on this database, wait and take over when it stops.",
)
@click.option("--host", help="Listen on this address (default: web.host).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Listen on this port (default: web.port)."
)
@log_format_option
@pass_app
@friendly_errors
def serve(
    app: App,
    no_web: bool,
    web_only: bool,
    standby: bool,
    host: str | None,
    port: int | None,
    log_format: str,
) -> None:
    """Run the service: the scheduler (poll, draft, send, housekeeping) and the web app.

    One scheduler runs per database: a second `serve` exits at once (or with --standby waits to
    take over). SIGTERM or Ctrl-C stops it cleanly within seconds; a restart carries on.
    """
    from actwatch.service.runner import AlreadyRunning, ServeOptions, Service, ServiceError

    if no_web and web_only:
        raise click.UsageError("--no-web and --web-only exclude each other")
    if standby and web_only:
        raise click.UsageError("--standby is for a scheduler; --web-only runs none")
    config = app.config
    _setup_logging(app, log_format)
    options = ServeOptions(
        web=not no_web, scheduler=not web_only, standby=standby, host=host, port=port
    )
    try:
        code = Service(config, options).run()
    except AlreadyRunning as exc:
        app.fail(str(exc), code=3)
    except ServiceError as exc:
        app.fail(str(exc))
    sys.exit(code)


@click.command("send-worker")
@click.option(
    "--once", is_flag=True, help="Send what is due now, then exit (instead of waiting for more)."
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    help="Seconds between looks for work (default: schedule.send_check_interval).",
)
@log_format_option
@pass_app
@friendly_errors
def send_worker(app: App, once: bool, interval: float | None, log_format: str) -> None:
    """Help send the bulletins the scheduler started (run several on PostgreSQL).

    Workers share each bulletin's messages safely: nobody is mailed twice. SIGTERM or Ctrl-C
    stops between messages.
    """
    from datetime import timedelta

    from actwatch.service.worker import run_send_worker

    config = app.config
    _setup_logging(app, log_format)
    engine = app.engine
    stop = threading.Event()

    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("actwatch.service.worker").info(
            "%s: stopping between messages", signal.Signals(signum).name
        )
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        report = run_send_worker(
            engine,
            config,
            stop,
            once=once,
            interval=timedelta(seconds=interval) if interval else None,
        )
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
    logging.getLogger("actwatch.service.worker").info(
        "send-worker done: %s sent", count(report.sent, "message"), extra={"sent": report.sent}
    )


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(seconds, 0)
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h ago"
    return f"{seconds / 86400:.1f} days ago"


def _local(app: App, text: Any) -> str:
    from actwatch.core.clock import parse_iso

    moment = parse_iso(text)
    if moment is None:
        return "-"
    return f"{moment.astimezone(app.config.schedule.zone):%d %b %Y %H:%M %Z}"


@click.command()
@click.option("--json", "as_json", is_flag=True, help="The summary as JSON (what /readyz reads).")
@pass_app
@friendly_errors
def status(app: App, as_json: bool) -> None:
    """Summarise the service: scheduler, last poll, feeds, bulletins, deliveries.

    Exits 0 when the service looks well (scheduler alive, polls on time, no send blocked,
    overdue or stalled), 1 otherwise.
    """
    from actwatch.monitor.status import collect, readiness

    summary = collect(app.engine, app.config)
    checked = readiness(app.engine, app.config)
    ready = checked.ready and not checked.degraded
    if as_json:
        click.echo(
            json.dumps({**summary.as_dict(), "ready": ready, "status": checked.status}, indent=2)
        )
        sys.exit(0 if ready else 1)
    out = app.console
    beat = summary.scheduler
    if beat.alive:
        out.print(
            f"Scheduler: [green]running[/] on {escape(beat.host or '?')} (pid {beat.pid}, "
            f"{escape(beat.mode or '?')}), since {_local(app, beat.started_at)}; heartbeat "
            f"{_ago(beat.heartbeat_age_seconds)}",
            highlight=False,
        )
    elif beat.stopped_at:
        out.print(
            f"Scheduler: [yellow]stopped[/] cleanly at {_local(app, beat.stopped_at)}",
            highlight=False,
        )
    elif beat.heartbeat_at:
        out.print(
            f"Scheduler: [red]not running[/] (last heartbeat {_ago(beat.heartbeat_age_seconds)}, "
            f"on {escape(beat.host or '?')} pid {beat.pid}): start `actwatch serve`",
            highlight=False,
        )
    else:
        out.print("Scheduler: [red]never started[/] on this database", highlight=False)
    poll = summary.last_poll
    if poll.finished_at:
        out.print(
            f"Last poll: {_ago(poll.age_seconds)} ({_local(app, poll.finished_at)}): {poll.feeds} "
            f"fetched, {poll.ok} ok, {poll.not_modified} not modified, {poll.failed} failed, "
            f"{poll.skipped} not due; {count(poll.new_items, 'new item')}"
            + (" [red](overdue)[/]" if poll.overdue else ""),
            highlight=False,
        )
    else:
        out.print("Last poll: never", highlight=False)
    feeds = {key: value for key, value in summary.feeds.items() if value}
    broken = summary.feeds.get("error", 0) + summary.feeds.get("disabled", 0)
    out.print(
        "Feeds: "
        + (", ".join(f"{value} {key.replace('_', ' ')}" for key, value in feeds.items()) or "none")
        + (" [red](see `actwatch feeds`)[/]" if broken else ""),
        highlight=False,
    )
    matches = summary.matches
    out.print(
        f"Items: {summary.items} stored; {matches['relevant']} relevant, "
        f"{matches['uncertain']} uncertain, {matches['rejected']} rejected",
        highlight=False,
    )
    subs = summary.subscribers
    out.print(
        f"Subscribers: {subs['confirmed']} confirmed, {subs['pending']} awaiting confirmation, "
        f"{subs['unsubscribed']} unsubscribed, {subs['bounced']} bounced",
        highlight=False,
    )
    draft = summary.next_draft
    if draft["bulletin_id"] is None:
        out.print(
            f"Next draft: {draft['season']} at {_local(app, draft['due_at'])}", highlight=False
        )
    else:
        out.print(
            f"Last season: {draft['season']} is bulletin {draft['bulletin_id']} "
            f"({draft['state'].replace('_', ' ')})",
            highlight=False,
        )
    if summary.active_bulletins:
        table = Table(title="Bulletins in progress", title_justify="left")
        for column in ("id", "season", "state", "send at", "deliveries"):
            table.add_column(column)
        for bulletin in summary.active_bulletins:
            table.add_row(
                str(bulletin.id),
                bulletin.season,
                bulletin.state.replace("_", " "),
                _local(app, bulletin.scheduled_for) if bulletin.scheduled_for else "",
                ", ".join(f"{n} {state}" for state, n in sorted(bulletin.deliveries.items())),
            )
        out.print(table)
    if summary.send_rate:
        out.print(f"Sending: {summary.send_rate:.1f} messages a second", highlight=False)
    for send in summary.sends:
        what = [
            word
            for word, flag in (
                ("BLOCKED", send.blocked),
                ("OVERDUE", send.overdue),
                ("STALLED", send.stalled),
            )
            if flag
        ]
        if send.failed:
            what.append(f"{count(send.failed, 'message')} failed")
        out.print(
            f"[red]Send of bulletin {send.bulletin_id} ({escape(send.season)}): "
            f"{', '.join(what)}[/]"
            + (f": {escape(send.problem)}" if send.problem else "")
            + f" (see `actwatch deliveries {send.bulletin_id}`)",
            highlight=False,
            soft_wrap=True,
        )
    if summary.housekeeping:
        out.print(f"Housekeeping: last run {_local(app, summary.housekeeping.get('at'))}")
    sys.exit(0 if ready else 1)


def register(group: click.Group) -> None:
    for command in (serve, send_worker, status):
        group.add_command(command)
