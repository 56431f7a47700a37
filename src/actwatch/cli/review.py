"""Commands for the editor's review, the same steps as the web editor: `review`, `exclude`,
`include`, `dismiss`, `summary`, `move`, `reorder`, `add`, `headline`, `preheader`, `intro`,
`submit`, `approve`, `reject`, `withdraw`, `reopen`, `schedule`, `unschedule`, `test-send` and
`audit`."""

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
from actwatch.core.words import count


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
    out.print(f"Subject: {view.subject}", highlight=False, markup=False, soft_wrap=True)
    default = "" if view.preheader else " (the default; `actwatch preheader` sets your own)"
    out.print(
        f"Preview text: {view.preview_text}{default}", highlight=False, markup=False, soft_wrap=True
    )
    table = Table(title=f"{count(view.item_count, 'item')}", title_justify="left", show_lines=False)
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
    steps = next_commands(view.id, view.state, view.actions)
    if not steps:
        out.print("Next: nothing (this bulletin is finished).", highlight=False)
        return
    out.print("Next:", highlight=False)
    width = max(len(command) for command, _ in steps)
    for command, what in steps:
        out.print(f"  {command.ljust(width)}  {what}", highlight=False, markup=False)


# What each step of the review is on the command line: (command, what it does).
NEXT_STEPS: dict[str, tuple[str, str]] = {
    "approve": ("actwatch approve {id}", "approve this version (freezes what subscribers get)"),
    "submit": ("actwatch submit {id}", "mark it as in review (the draft is no longer refreshed)"),
    "schedule": ("actwatch schedule {id} --at DATETIME", "send it at a time"),
    "send_now": ("actwatch send {id}", "send it now, to every confirmed subscriber"),
    "unschedule": ("actwatch unschedule {id}", "keep the approval, send nothing for now"),
    "reject": ("actwatch reject {id} --reason TEXT", "it will not go out as drafted"),
    "withdraw": ("actwatch withdraw {id}", "send nothing (it can be reopened)"),
    "reopen": ("actwatch reopen {id}", "bring it back to review"),
    "finish_sending": ("actwatch send {id}", "carry on sending (after an interruption)"),
    "resume_sending": (
        "actwatch send {id}",
        "send it again once the server accepts the message (`actwatch deliveries {id}`: why)",
    ),
}


def next_commands(bulletin_id: int, state: str, actions: list[str]) -> list[tuple[str, str]]:
    """The commands that take the bulletin on from `state`, each once."""
    steps: list[tuple[str, str]] = []
    seen: set[str] = set()
    for action in actions:
        found = NEXT_STEPS.get(action)
        if found is None:
            continue  # done by another step (`actwatch send` starts sending)
        command = found[0].format(id=bulletin_id)
        if command not in seen:
            seen.add(command)
            steps.append((command, found[1]))
    return steps


def _edited(app: App, edit: Any, what: str) -> None:
    message = f"Bulletin {edit.bulletin_id}: {what} (revision {edit.revision})."
    app.console.print(message, highlight=False, markup=False)
    if edit.approval_reset:
        app.console.print(
            "The approval was discarded: the bulletin is back in review and needs a new approval.",
            style="bold yellow",
        )


@click.command()
@click.argument("bulletin")
@click.argument("item", type=int)
@by_option
@pass_app
@friendly_errors
def include(app: App, bulletin: str, item: int, actor: str) -> None:
    """Put ITEM into BULLETIN: one left out, one from the season's uncertain queue, or one the
    matcher judged not relevant (your verdict then stands through every reclassify)."""
    from actwatch.review import include_item

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        included = include_item(app.engine, app.config, bulletin_id, item, actor=actor)
    said = {
        "back": f"item {item} included",
        "queue": f"item {item} added from the uncertain queue",
        "overruled": f"item {item} added; the matcher's verdict ({included.verdict}) is overruled",
    }[included.how]
    _edited(app, included.edit, said)


@click.command()
@click.argument("bulletin")
@click.argument("item", type=int)
@by_option
@pass_app
@friendly_errors
def exclude(app: App, bulletin: str, item: int, actor: str) -> None:
    """Leave ITEM out of BULLETIN (it stays listed, and can be included again)."""
    from actwatch.review import set_included

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        edit = set_included(app.engine, bulletin_id, item, False, actor=actor)
    _edited(app, edit, f"item {item} excluded")


@click.command()
@click.argument("item", type=int)
@by_option
@pass_app
@friendly_errors
def dismiss(app: App, item: int, actor: str) -> None:
    """Mark an uncertain ITEM not relevant: it leaves the uncertain queue for good."""
    from actwatch.review import dismiss_uncertain

    with _review_errors(app):
        dismiss_uncertain(app.engine, item, actor=actor)
    app.console.print(
        f"Item {item} is marked not relevant and leaves the uncertain queue.",
        highlight=False,
        markup=False,
    )


@click.command()
@click.argument("bulletin")
@click.argument("item", type=int)
@click.argument("text", required=False)
@click.option(
    "--file",
    "source",
    type=click.File("r", encoding="utf-8"),
    help="Read the summary from a file ('-' reads standard input).",
)
@by_option
@pass_app
@friendly_errors
def summary(app: App, bulletin: str, item: int, text: str | None, source: Any, actor: str) -> None:
    """Write ITEM's summary in BULLETIN as TEXT ("" brings back the feed's own summary)."""
    from actwatch.review import set_summary

    if (text is None) == (source is None):
        raise click.UsageError("give the summary as TEXT or with --file, not both")
    written = source.read() if source is not None else text
    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        edit = set_summary(app.engine, bulletin_id, item, written, actor=actor)
    said = "summary written" if (written or "").strip() else "the feed's own summary is back"
    _edited(app, edit, f"item {item}: {said}")


@click.command()
@click.argument("bulletin")
@click.argument("item", type=int)
@click.option(
    "--strand",
    metavar="SLUG",
    help="Show the item under this strand ('matcher': where the matcher put it).",
)
@click.option("--up", "offset", flag_value=-1, type=int, help="One place up in its section.")
@click.option("--down", "offset", flag_value=1, type=int, help="One place down in its section.")
@by_option
@pass_app
@friendly_errors
def move(
    app: App, bulletin: str, item: int, strand: str | None, offset: int | None, actor: str
) -> None:
    """Move ITEM to another strand (--strand), or up or down within its section."""
    from actwatch.review import move_item, move_to_strand

    if (strand is None) == (offset is None):
        raise click.UsageError("say where: --strand SLUG, --up or --down")
    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        if strand is not None:
            chosen = None if strand in ("", "matcher") else strand
            edit = move_to_strand(app.engine, app.config, bulletin_id, item, chosen, actor=actor)
            where = app.config.strands[chosen].name if chosen else "the strand the matcher chose"
            _edited(app, edit, f"item {item} now appears under {where}")
            return
        assert offset is not None
        edit = move_item(app.engine, app.config, bulletin_id, item, offset, actor=actor)
    _edited(app, edit, f"item {item} moved {'up' if offset < 0 else 'down'}")


@click.command()
@click.argument("bulletin")
@click.argument("items", nargs=-1, type=int, required=True)
@by_option
@pass_app
@friendly_errors
def reorder(app: App, bulletin: str, items: tuple[int, ...], actor: str) -> None:
    """Show ITEMS in this order, each within its own section (e.g. the ids of one section in
    the order you want, as `actwatch review` lists them)."""
    from actwatch.review import reorder as reorder_items

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        edit = reorder_items(app.engine, bulletin_id, list(items), actor=actor)
    _edited(app, edit, f"{count(len(items), 'item')} in the order given")


@click.command()
@click.argument("bulletin")
@click.argument("link")
@click.option("--title", required=True, help="The headline of the news.")
@click.option("--summary", "summary_text", default="", help="A sentence or two about it.")
@click.option("--strand", metavar="SLUG", help="The strand it belongs to (default: other news).")
@click.option(
    "--type",
    "event_type",
    default="other",
    show_default=True,
    metavar="TYPE",
    help="The kind of announcement (event_types in the config).",
)
@click.option(
    "--date",
    "published",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="When it was published (default: today, or the season's last day).",
)
@by_option
@pass_app
@friendly_errors
def add(
    app: App,
    bulletin: str,
    link: str,
    title: str,
    summary_text: str,
    strand: str | None,
    event_type: str,
    published: datetime | None,
    actor: str,
) -> None:
    """Add news that came by other means to BULLETIN: its LINK and a --title."""
    from actwatch.review import ManualItem, add_manual_item

    bulletin_id = _bulletin_id(app, bulletin)
    manual = ManualItem(
        link=link,
        title=title,
        summary=summary_text,
        strand=strand or None,
        event_type=event_type,
        published_on=published.date() if published else None,
    )
    with _review_errors(app):
        edit, item_id = add_manual_item(app.engine, app.config, bulletin_id, manual, actor=actor)
    _edited(app, edit, f"added item {item_id}")


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
@click.argument("text")
@by_option
@pass_app
@friendly_errors
def preheader(app: App, bulletin: str, text: str, actor: str) -> None:
    """Set BULLETIN's preview text: what inboxes show after the subject ("" brings back the
    default)."""
    from actwatch.review import set_preheader

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        edit = set_preheader(app.engine, bulletin_id, text, actor=actor)
    _edited(app, edit, "preview text set" if text.strip() else "default preview text")


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
@by_option
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
@by_option
@pass_app
@friendly_errors
def submit(app: App, bulletin: str, actor: str) -> None:
    """Mark BULLETIN's draft as in review: from now on it is not refreshed with new items."""
    from actwatch.review import submit as submit_bulletin

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        submit_bulletin(app.engine, bulletin_id, actor=actor)
    app.console.print(f"Bulletin {bulletin_id} is in review.", highlight=False, markup=False)


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


@click.command()
@click.argument("bulletin")
@by_option
@pass_app
@friendly_errors
def unschedule(app: App, bulletin: str, actor: str) -> None:
    """Take BULLETIN off the schedule: the approval stands, nothing is sent until it is
    scheduled (or sent) again."""
    from actwatch.review import unschedule as unschedule_bulletin

    bulletin_id = _bulletin_id(app, bulletin)
    with _review_errors(app):
        unschedule_bulletin(app.engine, bulletin_id, actor=actor)
    app.console.print(
        f"Bulletin {bulletin_id} is unscheduled; the approval stands.",
        highlight=False,
        markup=False,
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
    from actwatch.review import audit_entries

    bulletin_id = _bulletin_id(app, bulletin)
    entries = audit_entries(app.engine, app.config, bulletin_id)
    if as_json:
        for entry in entries:
            click.echo(
                json.dumps(
                    {
                        "at": entry.at.isoformat(),
                        "actor": entry.actor,
                        "action": entry.action,
                        "from_state": entry.from_state,
                        "to_state": entry.to_state,
                        "detail": entry.detail,
                        "description": entry.what,
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table(title=f"Audit trail of bulletin {bulletin_id}", title_justify="left")
    table.add_column("when", no_wrap=True)
    table.add_column("who")
    table.add_column("what", overflow="fold")
    table.add_column("state", no_wrap=True)
    for entry in entries:
        table.add_row(
            _when(entry.at, app), escape(entry.actor), escape(entry.what), entry.state_change
        )
    app.console.print(table)


def register(group: click.Group) -> None:
    for command in (
        review,
        exclude,
        include,
        dismiss,
        summary,
        move,
        reorder,
        add,
        headline,
        preheader,
        intro,
        submit,
        approve,
        reject,
        withdraw,
        reopen,
        schedule,
        unschedule,
        test_send,
        audit,
    ):
        group.add_command(command)
