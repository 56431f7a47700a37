"""`actwatch send BULLETIN`: deliver an approved bulletin (resumable), or write it as files
(`--dry-run DIR`), or send one copy to one address (`--to`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import FrameType

import click
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from actwatch.cli.base import App, friendly_errors, pass_app
from actwatch.core.words import count


@contextmanager
def _stop_on_signals(stop: threading.Event, app: App) -> Iterator[None]:
    """SIGTERM or Ctrl-C: finish the messages in flight, record them, stop, report."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            app.errors.print(
                f"Stopping ({signal.Signals(signum).name}): finishing the messages in flight...",
                highlight=False,
            )
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _send_errors(app: App) -> Iterator[None]:
    from actwatch.delivery import DeliveryError
    from actwatch.mail import MailError
    from actwatch.review import ReviewError
    from actwatch.subscribers import AddressError, SecretMissing

    try:
        yield
    except (DeliveryError, MailError, ReviewError, SecretMissing, AddressError) as exc:
        app.fail(str(exc))


def _when(moment: datetime | None, app: App) -> str:
    return f"{moment.astimezone(app.config.schedule.zone):%d %b %Y %H:%M:%S %Z}" if moment else "-"


@click.command()
@click.argument("bulletin")
@click.option(
    "--dry-run",
    "dry_run_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write each subscriber's message as an .eml file into this folder; send nothing.",
)
@click.option(
    "--to",
    "test_to",
    help="Send one test copy to this address only (the same test copy as the editor's "
    "`actwatch review test-send` and the web editor's; no subscriber is mailed).",
)
@click.option(
    "--connections", type=click.IntRange(1, 64), help="SMTP connections (mail.connections)."
)
@click.option("--rate", type=click.FloatRange(min=0.01), help="Messages per second at most.")
@click.option(
    "--at-most-once",
    is_flag=True,
    help="Never send again a message whose outcome is unknown (a crash, or a connection that "
    "broke after the message went): nobody gets two copies, a few may get none.",
)
@click.option("--resend-unconfirmed", is_flag=True, hidden=True)  # the default now
@click.option(
    "--accept-bounces",
    is_flag=True,
    help="Do not stop when many of the first recipients bounce (after checking that those "
    "addresses really are dead, not that the relay refuses us).",
)
@click.option(
    "--wait-retries",
    is_flag=True,
    help="Stay until deferred (4xx) messages are retried, instead of leaving them for later.",
)
@click.option(
    "--max-wait",
    default="15m",
    show_default=True,
    help="How long to wait for a mail server that does not answer before giving up (every "
    "unsent message stays queued; run again, or let the service carry on).",
)
@click.option("--by", "actor", default="actwatch send", show_default=True, help="Who sends.")
@pass_app
@friendly_errors
def send(
    app: App,
    bulletin: str,
    dry_run_dir: Path | None,
    test_to: str | None,
    connections: int | None,
    rate: float | None,
    at_most_once: bool,
    resend_unconfirmed: bool,
    accept_bounces: bool,
    wait_retries: bool,
    max_wait: str,
    actor: str,
) -> None:
    """Send BULLETIN (id or season) to every confirmed subscriber, each with their strands.

    Safe to run again after a crash, Ctrl-C or SIGTERM: it carries on with whoever is left.
    A message whose outcome is unknown (in flight when a run was killed, or its connection
    broke before the server's reply) is sent again: at most one duplicate per connection
    (see --at-most-once). A blocked bulletin is sent again from where it stopped.

    Exits 0 only when every confirmed subscriber has a final outcome (sent, or their address
    bounced); otherwise 1, with a one-line summary of what is left (pending, deferred, failed,
    blocked).
    """
    from actwatch.cli.review import _bulletin_id
    from actwatch.delivery import dry_run, send_bulletin
    from actwatch.review import send_test_copy

    config = app.config
    bulletin_id = _bulletin_id(app, bulletin)
    if dry_run_dir is not None:
        with _send_errors(app):
            written, renders = dry_run(app.engine, config, bulletin_id, dry_run_dir)
        app.console.print(
            f"Dry run: wrote {count(written, 'message')} to {dry_run_dir} "
            f"({count(renders, 'distinct rendering')}); nothing was sent or recorded.",
            highlight=False,
            markup=False,
        )
        return
    if test_to is not None:
        with _send_errors(app):
            sent = send_test_copy(app.engine, config, bulletin_id, test_to, actor=actor)
        kind = "the approved copy" if sent.frozen else "the current draft (not yet approved)"
        app.console.print(
            f"Sent a test copy ({kind}) of bulletin {bulletin_id} to {sent.to} "
            f"({sent.message_id}); no subscriber was mailed.",
            highlight=False,
            markup=False,
        )
        return

    try:
        wait_for = parse_duration(max_wait)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-wait") from None
    stop = threading.Event()
    columns = (
        TextColumn("[bold]Sending[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>7.0f} msg/s"),
        TimeRemainingColumn(),
    )
    with (
        _send_errors(app),
        _stop_on_signals(stop, app),
        Progress(*columns, console=app.errors, transient=True) as bar,
    ):
        task = bar.add_task("send", total=None, rate=0.0)

        def progress(report: object) -> None:
            from actwatch.delivery import SendReport

            assert isinstance(report, SendReport)
            bar.update(
                task, total=report.to_send or None, completed=report.handled, rate=report.rate
            )

        report = send_bulletin(
            app.engine,
            config,
            bulletin_id,
            actor=actor,
            connections=connections,
            rate_limit=rate,
            at_most_once=at_most_once,
            check_bounces=not accept_bounces,
            wait_retries=wait_retries,
            max_wait=wait_for,
            stop=stop,
            progress=progress,
        )
    _print_report(app, report)
    if not report.complete:
        app.fail(report.summary())


def _print_report(app: App, report: object) -> None:
    from actwatch.delivery import SendReport

    assert isinstance(report, SendReport)
    out = app.console
    out.print(f"[bold]{escape(report.title)}[/] (bulletin {report.bulletin_id}, {report.season})")
    lines = [
        ("sent now", report.sent),
        ("sent before", report.already_sent),
        ("deferred (4xx, retried later)", report.deferred),
        ("bounced (5xx, address suppressed)", report.bounced),
        ("failed (tries used up)", report.failed),
        ("suppressed (left before their turn)", report.remaining.get("suppressed", 0)),
        ("in doubt (connection broke during DATA)", report.uncertain),
        ("outcome unknown, queued again", report.requeued_unknown),
    ]
    for label, value in lines:
        if value or label in ("sent now",):
            out.print(f"  {label:<42} {value:>8,}", highlight=False, markup=False)
    out.print(
        f"  {'duration':<42} {report.seconds:>8.1f}s   ({report.rate:,.0f} msg/s, "
        f"{count(report.renders, 'distinct rendering')})",
        highlight=False,
        markup=False,
    )
    if report.possibly_sent:
        doubtful = len(report.possibly_sent)
        were, they = ("was", "it") if doubtful == 1 else ("were", "they")
        verb = f"{were} sent again" if report.resent else f"{were} NOT sent again"
        out.print(
            f"[yellow]{count(doubtful, 'message')} {were} in flight when an earlier "
            f"run stopped and possibly sent; {they} {verb}[/]"
            + (" (their readers may get two copies)" if report.resent else " (--at-most-once):"),
            highlight=False,
        )
        for stale in report.possibly_sent[:20]:
            out.print(f"    {stale.email}", highlight=False, markup=False)
    if report.errors:
        out.print("Errors (first few):", highlight=False)
        for error in report.errors[:5]:
            out.print(f"    {error}", highlight=False, markup=False, soft_wrap=True)
    left = report.left
    if report.blocked is not None:
        breaker = report.halt is not None and report.halt.kind == "breaker"
        out.print(
            f"[red]Blocked: {escape(report.blocked)}[/]\nNobody was marked bounced and every "
            f"unsent message is still queued. Fix the cause, then run `actwatch send "
            f"{report.bulletin_id}` again"
            + (" (with --accept-bounces if those addresses really are dead)." if breaker else "."),
            highlight=False,
        )
    elif report.halt is not None:
        out.print(
            f"[red]Stopped: {escape(report.halt.reason)}[/]\n{count(left, 'message')} still "
            f"queued (no attempt was used up): run `actwatch send {report.bulletin_id}` again "
            "later, or let the service carry on.",
            highlight=False,
        )
    elif report.interrupted:
        out.print(
            f"[yellow]Stopped before the end: {count(left, 'message')} left. Run `actwatch send "
            f"{report.bulletin_id}` again to carry on (nobody gets a second copy).[/]",
            highlight=False,
        )
    elif report.finished and report.complete:
        out.print("[green]Done: the bulletin is sent.[/]", highlight=False)
    elif report.finished:
        failed = report.remaining.get("failed", 0)
        out.print(
            f"[yellow]The bulletin is sent, but {count(failed, 'message')} failed: "
            f"`actwatch deliveries {report.bulletin_id}` shows why, `actwatch deliveries retry "
            f"{report.bulletin_id} --failed` queues them again.[/]",
            highlight=False,
        )
    elif left and report.next_retry is None:
        out.print(
            f"{count(left, 'message')} not sent yet: run "
            f"`actwatch send {report.bulletin_id}` again.",
            highlight=False,
            markup=False,
        )
    elif left:
        out.print(
            f"{count(left, 'message')} wait for a retry (next at {_when(report.next_retry, app)}): "
            f"run `actwatch send {report.bulletin_id}` again then, or use --wait-retries.",
            highlight=False,
            markup=False,
        )


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `1h`, as in the config file."""
    from pydantic import TypeAdapter, ValidationError

    from actwatch.config.types import Duration

    try:
        return TypeAdapter(Duration).validate_python(text)
    except ValidationError:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 1h)") from None


def register(group: click.Group) -> None:
    from actwatch.cli.deliveries import deliveries

    group.add_command(send)
    group.add_command(deliveries)
