"""Commands over the matching stage: `reclassify` and `evaluate`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from actwatch.cli.base import App, friendly_errors, pass_app


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@click.option("--offline", is_flag=True, help="Use stored instrument texts only; fetch nothing.")
@pass_app
@friendly_errors
def reclassify(app: App, as_json: bool, offline: bool) -> None:
    """Re-apply the current rules to every stored item (safe to run again).

    An editor's own decision on an item is kept; the matcher's verdict beside it is refreshed.
    """
    from actwatch.pipeline import reclassify as reclassify_items

    report = reclassify_items(app.engine, app.config, offline=offline)
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    app.console.print(
        f"Reclassified {report.classified} item(s): {report.relevant} relevant, "
        f"{report.uncertain} uncertain (for the editor), {report.rejected} rejected."
        + (
            f" Instruments fetched: {report.instruments_fetched}"
            f" ({report.instrument_errors} failed)."
            if report.instruments_fetched or report.instrument_errors
            else ""
        ),
        highlight=False,
    )


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print only the scores as JSON.")
@pass_app
def evaluate(app: App, file: Path, as_json: bool) -> None:
    """Score the rules on labelled items (JSON lines, like tests/data/eval/dev.jsonl).

    Classifies the file's items in memory; the database is not touched.
    """
    from actwatch.matching import compile_rules
    from actwatch.matching.evaluate import LabelError, evaluate, load_labelled

    config = app.config
    try:
        labelled = load_labelled(file, config.strands, config.event_types)
    except (LabelError, UnicodeDecodeError) as exc:
        app.fail(str(exc))
    scores = evaluate(compile_rules(config), labelled)
    if as_json:
        click.echo(json.dumps(scores.as_dict()))
        return
    console = app.console
    rel, strands = scores.relevance, scores.strands
    console.print(f"{scores.items} labelled item(s) from {escape(str(file))}", highlight=False)
    console.print(
        f"Relevance: precision {rel['precision']:.3f}  recall {rel['recall']:.3f}  "
        f"F1 {rel['f1']:.3f}",
        highlight=False,
    )
    console.print(
        f"Type accuracy (items labelled relevant): {scores.type_accuracy:.3f}", highlight=False
    )
    console.print(
        f"Strands (micro): precision {strands['precision']:.3f}  recall {strands['recall']:.3f}"
        f"  F1 {strands['f1']:.3f}",
        highlight=False,
    )
    if not scores.misses:
        console.print("[green]No misses.[/]")
        return
    console.print(f"\n{len(scores.misses)} miss(es):", highlight=False)
    for miss in scores.misses:
        result = miss.classification
        console.print(
            f"[bold]{escape(miss.id)}[/] {miss.what}: expected {escape(str(miss.expected))}, "
            f"got {escape(str(miss.got))} — {escape(miss.title)}",
            highlight=False,
        )
        console.print(
            f"    {result.state} ({result.confidence:.2f}), type {result.event_type}, "
            f"strands {', '.join(result.strands) or '-'}",
            highlight=False,
        )
        for entry in result.evidence:
            target = entry.strand or entry.event_type or ""
            console.print(
                f"    - {entry.kind} {escape(repr(entry.cue))} in {entry.field}: "
                f"{escape(repr(entry.text))}" + (f" -> {target}" if target else ""),
                highlight=False,
            )
        if not result.evidence:
            console.print("    (no cue matched)", highlight=False)


def register(group: click.Group) -> None:
    group.add_command(reclassify)
    group.add_command(evaluate)
