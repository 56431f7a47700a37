"""`actwatch deliveries BULLETIN [--json]`: how a bulletin's send stands (the same report as
the editor's page); `actwatch deliveries retry BULLETIN [--failed] [--blocked]`: queue again."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from rich.markup import escape

from actwatch.cli.base import App, friendly_errors, pass_app
from actwatch.core.words import count

# In the order the report lists them, with what each means for the operator.
STATE_WORDS = (
    ("sent", "sent"),
    ("pending", "waiting their turn"),
    ("sending", "in flight (or in doubt)"),
    ("retry", "deferred (4xx), retried later"),
    ("bounced", "bounced (5xx at RCPT; address suppressed)"),
    ("failed", "failed"),
    ("suppressed", "not sent: the reader left first"),
)


class _ShowByDefault(click.Group):
    """`deliveries BULLETIN` shows the report; `deliveries retry BULLETIN` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ShowByDefault)
def deliveries() -> None:
    """A bulletin's send: counts by state and the commonest errors, or queue messages again.

    \b
    actwatch deliveries BULLETIN [--json]
    actwatch deliveries retry BULLETIN [--failed] [--blocked]
    """


@deliveries.command("show")
@click.argument("bulletin")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@pass_app
@friendly_errors
def show(app: App, bulletin: str, as_json: bool) -> None:
    """How BULLETIN's send stands. Exits 0 when every subscriber has a final outcome (or
    nothing has been sent yet and nothing is wrong), 1 when anything needs attention."""
    from actwatch.cli.review import _bulletin_id
    from actwatch.delivery import delivery_report

    bulletin_id = _bulletin_id(app, bulletin)
    report = delivery_report(app.engine, app.config, bulletin_id)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        sys.exit(1 if report.attention else 0)
    out = app.console
    out.print(
        f"[bold]Bulletin {report.bulletin_id}[/] ({escape(report.season)}): "
        f"{report.state.replace('_', ' ')}",
        highlight=False,
    )
    if not report.total:
        out.print(
            f"  Not sent yet: it would go to {count(report.audience, 'confirmed subscriber')}.",
            highlight=False,
            markup=False,
        )
    for state, words in STATE_WORDS:
        value = report.counts.get(state, 0)
        if value or (state == "sent" and report.total):
            out.print(f"  {words:<44} {value:>8,}", highlight=False, markup=False)
    if report.next_retry is not None:
        out.print(f"  next retry at {report.next_retry:%d %b %Y %H:%M:%S} UTC", highlight=False)
    for problem in report.problems:
        out.print(f"[red]{escape(problem)}[/]", highlight=False, soft_wrap=True)
    if report.top_errors:
        out.print("Commonest errors:", highlight=False)
        for state, error, n in report.top_errors:
            out.print(f"  {n:>6,} {state}: {error}", highlight=False, markup=False, soft_wrap=True)
    sys.exit(1 if report.attention else 0)


@deliveries.command("retry")
@click.argument("bulletin")
@click.option("--failed", "failed", is_flag=True, help="Queue the failed messages again.")
@click.option("--blocked", "blocked", is_flag=True, help="Let a blocked bulletin carry on.")
@click.option("--by", "actor", default="actwatch deliveries retry", show_default=True)
@pass_app
@friendly_errors
def retry_command(app: App, bulletin: str, failed: bool, blocked: bool, actor: str) -> None:
    """Queue BULLETIN's messages again: the failed ones (their tries reset), and, if it is
    blocked, the bulletin itself. Without a flag, both. Then `actwatch send BULLETIN` (or the
    service) sends them."""
    from actwatch.cli.review import _bulletin_id
    from actwatch.delivery import retry
    from actwatch.review import ReviewError

    bulletin_id = _bulletin_id(app, bulletin)
    both = not failed and not blocked
    try:
        done: Any = retry(
            app.engine, bulletin_id, failed=failed or both, blocked=blocked or both, actor=actor
        )
    except ReviewError as exc:
        app.fail(str(exc))
    parts = []
    if failed or both:
        parts.append(f"{count(done.failed, 'failed message')} queued again")
    if done.unblocked:
        parts.append("the bulletin is no longer blocked")
    elif blocked:
        parts.append("the bulletin was not blocked")
    app.console.print(
        f"Bulletin {bulletin_id}: " + "; ".join(parts) + f". Run `actwatch send {bulletin_id}`.",
        highlight=False,
        markup=False,
    )
