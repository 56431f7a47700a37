"""Commands for the editor's review: `review`, `exclude`, `include`, `headline`, `intro`,
`approve`, `reject`, `withdraw`, `reopen`, `schedule`, `test-send` and `audit`."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from actwatch.cli.base import App, friendly_errors, pass_app


def _default_actor() -> str:
    try:
        return f"{getpass.getuser()} (command line)"
    except (KeyError, OSError):
        return "command line"


by_option = click.option(
    "--by", "actor", default=_default_actor, show_default="your login name", help="Who does this."
)


@contextmanager
def _review_errors(app: App) -> Iterator[None]:
    from actwatch.bulletin import BulletinError, RenderError
    from actwatch.mail import MailError
    from actwatch.review import ReviewError

    try:
        yield
    except (ReviewError, BulletinError, RenderError, MailError, ValueError) as exc:
        app.fail(str(exc))


def _bulletin_id(app: App, reference: str) -> int:
    from actwatch.review.records import find_bulletin_id

    with _review_errors(app):
        return find_bulletin_id(app.engine, reference)


def _when(moment: datetime | None, app: App) -> str:
    if moment is None:
        return "-"
    return f"{moment.astimezone(app.config.schedule.zone):%d %b %Y %H:%M %Z}"


@click.command()
@click.argument("bulletin")
@click.option("--json", "as_json", is_flag=True, help="Print the review as JSON.")
@pass_app
@friendly_errors
def review(app: App, bulletin: str, as_json: bool) -> None:
    """Summarise BULLETIN for review: its items section by section, and warnings."""
    from actwatch.review import editor_link, review_with_preview
    from actwatch.review.freeze import to_jsonable

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        view, rendered = review_with_preview(app.engine, app.config, bulletin_id)
    if as_json:
        data = to_jsonable(view)
        data["actions"] = view.actions
        data["current_hash"] = rendered.content_hash if rendered else None
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    out = app.console
    out.print(f"[bold]{escape(view.title)}[/]", soft_wrap=True)
    approval = (
        f"approved by {escape(view.approved_by or '')} on {_when(view.approved_at, app)} "
        f"(revision {view.approved_revision}, hash {view.content_hash[:12]})"
        if view.content_hash
        else "not approved"
    )
    out.print(
        f"Bulletin {view.id} ({view.season}): [bold]{view.state_label}[/], revision "
        f"{view.revision}, {approval}."
    )
    if view.scheduled_for:
        out.print(f"Scheduled for {_when(view.scheduled_for, app)}.")
    out.print(f"Editor: {editor_link(app.config, view.id)}", highlight=False)
    table = Table(title=f"{view.item_count} item(s)", title_justify="left", show_lines=False)
    table.add_column("item", justify="right")
    table.add_column("section")
    table.add_column("date", no_wrap=True)
    table.add_column("title", overflow="fold")
    table.add_column("source")
    for section in view.sections:
        for index, item in enumerate(section.items):
            in_email = not section.in_email or index < section.in_email
            table.add_row(
                str(item.item_id),
                escape(section.title) if index == 0 else "",
                f"{item.published_on:%d %b}" if item.published_on else "",
                escape(item.title) + ("" if in_email else " [dim](web archive only)[/]"),
                escape(item.source),
            )
    out.print(table)
    if view.excluded:
        out.print("[bold]Excluded[/] (`actwatch include ID ITEM` puts one back):")
        for item in view.excluded:
            out.print(f"  {item.item_id}  {escape(item.title)}", soft_wrap=True)
    if view.uncertain:
        out.print("[bold]Uncertain[/] (`actwatch include ID ITEM` adds one):")
        for entry in view.uncertain:
            out.print(
                f"  {entry.item_id}  {entry.published_on:%d %b}  {escape(entry.title)} "
                f"[dim]({entry.confidence:.2f})[/]",
                soft_wrap=True,
            )
    if view.warnings:
        out.print("[bold yellow]Warnings[/]")
        for warning in view.warnings:
            out.print(f"  - {escape(warning)}", soft_wrap=True)
    if rendered:
        out.print(
            f"Current content hash {rendered.content_hash[:12]}, HTML "
            f"{len(rendered.html.encode()):,} bytes.",
            highlight=False,
        )
    next_steps = ", ".join(action.replace("_", " ") for action in view.actions)
    out.print(f"Next: {next_steps or 'nothing (this bulletin is finished)'}.", highlight=False)


def _edited(app: App, edit: Any, what: str) -> None:
    message = f"Bulletin {edit.bulletin_id}: {what} (revision {edit.revision})."
    app.console.print(message, highlight=False, markup=False)
    if edit.approval_reset:
        app.console.print(
            "The approval was discarded: the bulletin is back in review and needs a new approval.",
            style="bold yellow",
        )


def _item_command(name: str, included: bool) -> click.Command:
    help_text = (
        "Put ITEM back into BULLETIN (or add it from the season's uncertain queue)."
        if included
        else "Leave ITEM out of BULLETIN (it stays listed, and can be included again)."
    )

    @click.command(name, help=help_text)
    @click.argument("bulletin")
    @click.argument("item", type=int)
    @by_option
    @pass_app
    @friendly_errors
    def command(app: App, bulletin: str, item: int, actor: str) -> None:
        from actwatch.review import include_item, set_included

        bulletin_id = _bulletin_id(app, bulletin)
        with _review_errors(app):
            if included:
                edit, from_queue = include_item(
                    app.engine, app.config, bulletin_id, item, actor=actor
                )
                if from_queue:
                    _edited(app, edit, f"item {item} added from the uncertain queue")
                    return
            else:
                edit = set_included(app.engine, bulletin_id, item, False, actor=actor)
        _edited(app, edit, f"item {item} {'included' if included else 'excluded'}")

    return command


@click.command()
@click.argument("bulletin")
@click.argument("text")
@by_option
@pass_app
@friendly_errors
def headline(app: App, bulletin: str, text: str, actor: str) -> None:
    """Set BULLETIN's headline (after the season's title in the subject; "" removes it)."""
    from actwatch.review import set_headline

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        edit = set_headline(app.engine, bulletin_id, text, actor=actor)
    _edited(app, edit, "headline set")


@click.command()
@click.argument("bulletin")
@click.option(
    "--file",
    "source",
    type=click.File("r", encoding="utf-8"),
    required=True,
    help="A Markdown file with the introduction ('-' reads standard input).",
)
@by_option
@pass_app
@friendly_errors
def intro(app: App, bulletin: str, source: Any, actor: str) -> None:
    """Set BULLETIN's introduction from a Markdown file (raw HTML is shown as text)."""
    from actwatch.review import set_intro

    bulletin_id = _bulletin_id(app, bulletin)
    text = source.read()
    with _review_errors(app):
        edit = set_intro(app.engine, bulletin_id, text, actor=actor)
    _edited(app, edit, "introduction set")


@click.command()
@click.argument("bulletin")
@click.option("--by", "actor", required=True, help="The editor approving it (recorded).")
@click.option("--hash", "expected_hash", help="Approve only if the content hash is still this.")
@pass_app
@friendly_errors
def approve(app: App, bulletin: str, actor: str, expected_hash: str | None) -> None:
    """Approve BULLETIN as it is now: its HTML, text and Markdown are frozen for sending."""
    from actwatch.pipeline import approve as approve_bulletin

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        approval = approve_bulletin(
            app.engine, app.config, bulletin_id, by=actor, expected_hash=expected_hash
        )
    app.console.print(
        f"Approved bulletin {approval.bulletin_id} (revision {approval.revision}) as "
        f"{approval.approved_by}; content hash {approval.content_hash}. Any later edit "
        "discards this approval.",
        highlight=False,
        markup=False,
    )


@click.command()
@click.argument("bulletin")
@click.option("--reason", default="", help="Why (recorded in the audit log).")
@by_option
@pass_app
@friendly_errors
def withdraw(app: App, bulletin: str, reason: str, actor: str) -> None:
    """Withdraw BULLETIN: it will not be sent, and any approval is discarded."""
    from actwatch.review import withdraw as withdraw_bulletin

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        withdraw_bulletin(app.engine, bulletin_id, actor=actor, reason=reason)
    app.console.print(
        f"Withdrew bulletin {bulletin_id}; `actwatch reopen {bulletin_id}` brings it back.",
        highlight=False,
        markup=False,
    )


@click.command()
@click.argument("bulletin")
@click.option("--reason", required=True, help="Why (recorded in the audit log).")
@by_option
@pass_app
@friendly_errors
def reject(app: App, bulletin: str, reason: str, actor: str) -> None:
    """Reject BULLETIN's draft: it will not go out as it is."""
    from actwatch.review import reject as reject_bulletin

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        reject_bulletin(app.engine, bulletin_id, actor=actor, reason=reason)
    app.console.print(f"Rejected bulletin {bulletin_id}.", highlight=False, markup=False)


@click.command()
@click.argument("bulletin")
@by_option
@pass_app
@friendly_errors
def reopen(app: App, bulletin: str, actor: str) -> None:
    """Bring a rejected or withdrawn BULLETIN back to review."""
    from actwatch.review import reopen as reopen_bulletin

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        reopen_bulletin(app.engine, bulletin_id, actor=actor)
    app.console.print(f"Bulletin {bulletin_id} is back in review.", highlight=False, markup=False)


def parse_when(text: str, zone: Any) -> datetime:
    """ISO 8601 date and time; without an offset it is local time in `schedule.timezone`."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            "use e.g. 2017-12-05T09:00 or '2017-12-05 09:00+00:00'", param_hint="--at"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


@click.command()
@click.argument("bulletin")
@click.option(
    "--at",
    "when",
    required=True,
    help="When to send: e.g. 2017-12-05T09:00 (local time in schedule.timezone unless an "
    "offset is given).",
)
@by_option
@pass_app
@friendly_errors
def schedule(app: App, bulletin: str, when: str, actor: str) -> None:
    """Schedule the approved BULLETIN to be sent at a time."""
    from actwatch.review import schedule as schedule_bulletin

    at = parse_when(when, app.config.schedule.zone)
    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        schedule_bulletin(app.engine, bulletin_id, actor=actor, at=at)
    app.console.print(
        f"Bulletin {bulletin_id} will be sent at {_when(at, app)}.", highlight=False, markup=False
    )


@click.command("test-send")
@click.argument("bulletin")
@click.option("--to", "address", required=True, help="The one address to send a test copy to.")
@by_option
@pass_app
@friendly_errors
def test_send(app: App, bulletin: str, address: str, actor: str) -> None:
    """Send one test copy of BULLETIN to one address (the approved copy once approved)."""
    from actwatch.review import send_test_copy

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        sent = send_test_copy(app.engine, app.config, bulletin_id, address, actor=actor)
    kind = "the approved copy" if sent.frozen else "the current draft (not yet approved)"
    app.console.print(
        f"Sent {kind} of bulletin {bulletin_id} to {sent.to} via {app.config.mail.url} "
        f"({sent.message_id}).",
        highlight=False,
        markup=False,
    )


@click.command()
@click.argument("bulletin")
@click.option("--json", "as_json", is_flag=True, help="Print the trail as JSON lines.")
@pass_app
@friendly_errors
def audit(app: App, bulletin: str, as_json: bool) -> None:
    """Show BULLETIN's audit trail: who did what, when (newest first)."""
    from actwatch.review import audit_trail

    bulletin_id = _bulletin_id(app, bulletin)
    rows = audit_trail(app.engine, bulletin_id)
    if as_json:
        for row in rows:
            click.echo(
                json.dumps(
                    {
                        "at": row.at.isoformat(),
                        "actor": row.actor,
                        "action": row.action,
                        "from_state": row.from_state,
                        "to_state": row.to_state,
                        "detail": row.detail,
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table(title=f"Audit trail of bulletin {bulletin_id}", title_justify="left")
    for column in ("when", "who", "what", "state", "detail"):
        table.add_column(column, overflow="fold")
    for row in rows:
        state = f"{row.from_state or ''} -> {row.to_state}" if row.to_state else ""
        detail = ", ".join(f"{k}={v}" for k, v in row.detail.items())
        table.add_row(
            _when(row.at, app), escape(row.actor), row.action, state, escape(detail[:200])
        )
    app.console.print(table)


def register(group: click.Group) -> None:
    for command in (
        review,
        _item_command("exclude", False),
        _item_command("include", True),
        headline,
        intro,
        approve,
        reject,
        withdraw,
        reopen,
        schedule,
        test_send,
        audit,
    ):
        group.add_command(command)
