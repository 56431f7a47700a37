"""`actwatch subscribers import|add|list|export|remove|show|erase`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from actwatch.cli.base import App, friendly_errors, pass_app
from actwatch.core.words import count

STATUSES = ("pending", "confirmed", "unsubscribed", "bounced", "erased")


@click.group()
def subscribers() -> None:
    """Import, list, export and remove subscribers; a person's data on request."""


@subscribers.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@pass_app
@friendly_errors
def import_(app: App, files: tuple[Path, ...], as_json: bool) -> None:
    """Import CSV FILES (columns email, name, strands). Imported addresses count as confirmed.

    Rejected rows are listed with their line number and why; the valid rows import anyway, and
    the command then exits with status 1 so that a script notices. Nobody who unsubscribed,
    bounced or was erased is added back. Safe to repeat."""
    from actwatch.subscribers import ImportFileError, import_file

    failed = False
    reports: list[dict[str, object]] = []
    for path in files:
        try:
            report = import_file(app.engine, app.config, path)
        except ImportFileError as exc:
            failed = True
            reports.append({"file": str(path), "error": str(exc)})
            if not as_json:
                app.errors.print(f"Error: {exc}", markup=False, highlight=False, soft_wrap=True)
            continue
        failed = failed or bool(report.rejected)
        reports.append(report.as_dict())
        if as_json:
            continue
        app.console.print(
            f"{path}: {count(report.rows, 'row')}; {report.added} added, "
            f"{report.confirmed} confirmed (had signed up on the web), "
            f"{report.unchanged} already subscribed, "
            f"{len(report.rejected)} rejected. Consent recorded as '{report.evidence}'.",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for rejected in report.rejected:
            app.console.print(
                f"  line {rejected.line}: {rejected.email or '(no address)'}: {rejected.reason}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
    if as_json:
        click.echo(json.dumps({"files": reports, "ok": not failed}, ensure_ascii=False, indent=2))
    if failed:
        raise SystemExit(1)


@subscribers.command("add")
@click.argument("email")
@click.option("--name", default="", help="Their name.")
@click.option(
    "--strand",
    "strands",
    multiple=True,
    metavar="SLUG",
    help="A strand they get (repeatable; none: every strand, and new ones too).",
)
@click.option("--by", "actor", default=None, help="Who holds their consent (default: you).")
@pass_app
@friendly_errors
def add(app: App, email: str, name: str, strands: tuple[str, ...], actor: str | None) -> None:
    """Add one subscriber who asked you directly: confirmed at once, with you recorded as the
    evidence of consent. Nobody who unsubscribed, bounced or was erased is added back."""
    import getpass

    from actwatch.subscribers import add_by_hand

    who = actor or f"{getpass.getuser()} (command line)"
    report = add_by_hand(app.engine, app.config, email=email, name=name, strands=strands, by=who)
    if report.rejected:
        app.fail(f"{email} was not added: {report.rejected[0].reason}")
    said = (
        "added"
        if report.added
        else "confirmed (had signed up on the web)"
        if report.confirmed
        else "already subscribed (their own choices are kept)"
    )
    app.console.print(
        f"{email.strip().lower()}: {said}. Consent recorded as '{report.evidence}'.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@subscribers.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only subscribers in this state.")
@click.option("--strand", help="Only subscribers who get this strand.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@pass_app
@friendly_errors
def list_(app: App, status: str | None, strand: str | None, as_json: bool) -> None:
    """List subscribers with their status and strands."""
    from actwatch.subscribers import list_subscribers

    found = list_subscribers(app.engine, status=status, strand=strand)
    if as_json:
        for s in found:
            click.echo(
                json.dumps(
                    {
                        "email": s.email,
                        "name": s.name,
                        "status": s.status,
                        "strands": "all" if s.all_strands else list(s.strands),
                        "consent": s.consent_source,
                        "consent_at": s.consent_at.isoformat(),
                    },
                    ensure_ascii=False,
                )
            )
        return
    table = Table(title=f"{count(len(found), 'subscriber')}", title_justify="left")
    for column in ("email", "name", "status", "strands", "since"):
        table.add_column(column, overflow="fold")
    for s in found:
        table.add_row(
            escape(s.email),
            escape(s.name or ""),
            s.status,
            "all" if s.all_strands else ", ".join(s.strands),
            f"{s.consent_at:%Y-%m-%d}",
        )
    app.console.print(table)


@subscribers.command()
@click.option(
    "--status",
    type=click.Choice((*STATUSES, "all")),
    default="confirmed",
    show_default=True,
    help="Which subscribers to export.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File.")
@pass_app
@friendly_errors
def export(app: App, status: str, output: Path | None) -> None:
    """Export subscribers as CSV (the import's columns plus status and consent)."""
    from actwatch.subscribers import export_csv

    text = export_csv(app.engine, status=None if status == "all" else status)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8", newline="")
        app.errors.print(f"Wrote {output}", highlight=False, markup=False)


def _find(app: App, who: str) -> object:
    from actwatch.subscribers import LINK_TOKEN_LENGTH, SecretMissing, TokenError, Tokens
    from actwatch.subscribers.store import by_link, find_subscriber

    who = who.strip()
    if "@" not in who and len(who) == LINK_TOKEN_LENGTH:
        # A token from an unsubscribe link or a mailto request's subject.
        try:
            claim = Tokens.from_config(app.config).read_link_token(who.removeprefix("unsubscribe-"))
        except (TokenError, SecretMissing) as exc:
            app.fail(str(exc))
        found = by_link(app.engine, claim.subscriber_id, claim.nonce)
    else:
        found = find_subscriber(app.engine, who)
    if found is None:
        app.fail(f"no subscriber {who!r}")
    return found


@subscribers.command()
@click.argument("who")
@pass_app
@friendly_errors
def remove(app: App, who: str) -> None:
    """Unsubscribe WHO (an address, or the token from an unsubscribe link or mailto subject).

    The address stays on file as unsubscribed, so no import adds it back; `erase` deletes it."""
    from actwatch.subscribers import Subscriber
    from actwatch.subscribers.store import unsubscribe

    found = _find(app, who.removeprefix("unsubscribe-"))
    assert isinstance(found, Subscriber)
    changed = unsubscribe(app.engine, found.id)
    state = "unsubscribed" if changed else f"already {found.status}"
    app.console.print(f"{found.email}: {state}.", highlight=False, markup=False)


@subscribers.command()
@click.argument("email")
@pass_app
@friendly_errors
def show(app: App, email: str) -> None:
    """Everything held about one person, as JSON (for a subject access request)."""
    from actwatch.subscribers import Subscriber, person_data

    found = _find(app, email)
    assert isinstance(found, Subscriber)
    click.echo(json.dumps(person_data(app.engine, found), ensure_ascii=False, indent=2))


@subscribers.command()
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
@friendly_errors
def erase(app: App, email: str, yes: bool) -> None:
    """Erase one person's data on request: name, address, choices, message ids.

    Only a one-way digest of the address remains, so that no import can add them back."""
    from actwatch.subscribers import Subscriber
    from actwatch.subscribers import erase as erase_person

    found = _find(app, email)
    assert isinstance(found, Subscriber)
    if not yes:
        click.confirm(f"Erase everything held about {found.email}?", abort=True)
    erase_person(app.engine, found.id)
    app.console.print(f"Erased {found.email}.", highlight=False, markup=False)


def register(group: click.Group) -> None:
    group.add_command(subscribers)
