"""Commands over the matching stage: `reclassify`, `evaluate` and `learn`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from actwatch.cli.base import App, friendly_errors, pass_app

if TYPE_CHECKING:
    from actwatch.matching.evaluate import Scores


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
@click.argument(
    "file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option(
    "--folds",
    type=click.IntRange(min=2),
    help="Cross-validate: each item is judged by a scorer trained without it (k folds).",
)
@click.option(
    "--decisions",
    is_flag=True,
    help="Score the current matcher against the editor's past decisions (reads the database).",
)
@pass_app
def evaluate(
    app: App, file: Path | None, as_json: bool, folds: int | None, decisions: bool
) -> None:
    """Score the matcher on labelled items (JSON lines, like the shipped dev.jsonl).

    Prints relevance precision/recall/F1, type accuracy with a confusion matrix, per-type recall
    (commencement and pilot first), per-strand precision and recall, the uncertain queue, and
    every miss with its evidence. Without --decisions the database is not touched; the learned
    scorer trains on the shipped labelled sets minus the file's own items.
    """
    from actwatch.matching import compile_rules
    from actwatch.matching.evaluate import (
        LabelError,
        cross_validate,
        evaluate,
        load_labelled,
        without,
    )
    from actwatch.matching.learned import train, with_model
    from actwatch.matching.store import shipped_examples

    config = app.config
    if decisions:
        if file is not None or folds:
            app.fail("--decisions scores the editor's decisions: give no FILE and no --folds")
        from actwatch.matching.learning import decisions_labelled
        from actwatch.matching.store import load_matcher
        from actwatch.review import bulletin_decisions

        engine = app.engine
        labelled = decisions_labelled(engine, bulletin_decisions(engine))
        source = f"{len(labelled)} editor decision(s)"
        scores = evaluate(load_matcher(engine, config), labelled)
    else:
        if file is None:
            app.fail("give a labelled FILE (JSON lines), or --decisions")
        try:
            labelled = load_labelled(file, config.strands, config.event_types)
        except (LabelError, UnicodeDecodeError) as exc:
            app.fail(str(exc))
        source = f"{len(labelled)} labelled item(s) from {escape(str(file))}"
        rules = compile_rules(config)
        extra = (
            without(shipped_examples(config), labelled) if config.matching.learned_scorer else []
        )
        if folds:
            if not config.matching.learned_scorer:
                app.fail(
                    "--folds cross-validates the learned scorer: matching.learned_scorer is off"
                )
            scores = cross_validate(rules, labelled, folds, extra)
            source += f", {folds}-fold cross-validated"
        else:
            matcher = with_model(rules, train(rules, extra)) if extra else rules
            scores = evaluate(matcher, labelled)
    if as_json:
        click.echo(json.dumps(scores.as_dict()))
        return
    _print_scores(app, source, scores)


def _print_scores(app: App, source: str, scores: Scores) -> None:
    console = app.console
    rel, strands = scores.relevance, scores.strands
    console.print(source, highlight=False)
    console.print(
        f"Relevance: precision {rel['precision']:.3f}  recall {rel['recall']:.3f}  "
        f"F1 {rel['f1']:.3f}",
        highlight=False,
    )
    console.print(
        f"Type accuracy (items labelled relevant): {scores.type_accuracy:.3f}", highlight=False
    )
    for slug, recall in scores.type_recall.items():
        console.print(
            f"  {slug:<14} recall {recall['recall']:.3f} ({recall['support']} item(s))",
            highlight=False,
        )
    if scores.confusion:
        got_types = sorted({got for row in scores.confusion.values() for got in row})
        console.print("Confusion (rows: expected, columns: got):", highlight=False)
        console.print(" " * 16 + " ".join(f"{slug[:8]:>8}" for slug in got_types), highlight=False)
        for expected, row in scores.confusion.items():
            console.print(
                f"  {expected:<14}" + " ".join(f"{row.get(slug, 0):>8}" for slug in got_types),
                highlight=False,
            )
    console.print(
        f"Strands (micro): precision {strands['precision']:.3f}  recall {strands['recall']:.3f}"
        f"  F1 {strands['f1']:.3f}",
        highlight=False,
    )
    for slug, figures in scores.per_strand.items():
        console.print(
            f"  {slug:<26} precision {figures['precision']:.3f}  recall {figures['recall']:.3f}"
            f" ({figures['support']} labelled)",
            highlight=False,
        )
    queue = scores.uncertain
    console.print(
        f"Uncertain queue: {queue.get('relevant', 0)} relevant item(s)"
        f" ({queue.get('share_of_relevant', 0.0):.1%}), {queue.get('irrelevant', 0)} irrelevant"
        f" ({queue.get('share_of_irrelevant', 0.0):.1%})",
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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--folds",
    type=click.IntRange(min=2),
    default=5,
    show_default=True,
    help="Folds for the scores.",
)
@pass_app
@friendly_errors
def learn(app: App, as_json: bool, folds: int) -> None:
    """Retrain the matcher on the shipped examples plus the editor's decisions.

    Every pick, dismissal, exclusion, type or strand change and hand-added item is a labelled
    example. Prints cross-validated scores before and after, then reclassifies stored items
    (offline: stored instrument texts only). Approved bulletins never change.
    """
    from actwatch.matching.learning import learn as learn_decisions
    from actwatch.review import bulletin_decisions

    engine = app.engine
    report = learn_decisions(
        engine, app.config, bulletin_decisions(engine), folds=folds, now=datetime.now(UTC)
    )
    if as_json:
        click.echo(json.dumps(report.as_dict()))
        return
    console = app.console
    console.print(
        f"Learned from {report.decisions} editor decision(s): {report.examples_before} example(s)"
        f" before, {report.examples_after} now ({folds}-fold cross-validated).",
        highlight=False,
    )
    rows = [("all examples", report.before, report.after)]
    if report.decisions_before is not None and report.decisions_after is not None:
        rows.append(("editor's decisions", report.decisions_before, report.decisions_after))
    for name, before, after in rows:
        console.print(
            f"  {name}: relevance F1 {before.relevance['f1']:.3f} -> {after.relevance['f1']:.3f},"
            f" type accuracy {before.type_accuracy:.3f} -> {after.type_accuracy:.3f},"
            f" strand F1 {before.strands['f1']:.3f} -> {after.strands['f1']:.3f}",
            highlight=False,
        )
    counts = report.reclassified
    console.print(
        f"Reclassified {counts.classified} item(s): {counts.relevant} relevant,"
        f" {counts.uncertain} uncertain, {counts.rejected} rejected.",
        highlight=False,
    )


def register(group: click.Group) -> None:
    group.add_command(reclassify)
    group.add_command(evaluate)
    group.add_command(learn)
