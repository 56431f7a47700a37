"""Items per second for the matcher on synthetic items (target: 3,000/s on one core).

Synthetic items mix the rules' own cues (strands, types, traps) with ordinary news words, in
GOV.UK, legislation.gov.uk and sector-press shapes. Measured in the same run:
- the matcher as `actwatch poll` uses it (rules plus the learned scorer, in batches of 500);
- the rules alone (what the matcher was before the learned scorer);
- a naive baseline: one regular expression per cue, cue search only, on a sample.
The figure of the rules-only matcher before this work (README, 2-core machine) is printed for
comparison; the machine's load changes every figure, so compare the ones of one run.

    python benchmarks/match.py [--items N] [--config config.yaml]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import time
from dataclasses import replace
from pathlib import Path

from actwatch.config import load_config
from actwatch.matching import ItemText
from actwatch.matching.classify import classify_many
from actwatch.matching.cues import cue_pattern
from actwatch.matching.store import load_matcher

REPO = Path(__file__).resolve().parents[1]
TARGET = 3_000
BEFORE = 20_400  # rules only, items/s, as the README recorded it before the learned scorer
QUIET_BASELINE = 900  # the naive baseline on the quiet machine that figure was measured on
BATCH = 500
FILLER = " ".join(
    (
        "the government today announced plans for councils schools families young people local",
        "services minister said new support across England report published data shows more than",
        "children will be able to help improve outcomes education health week year national",
    )
).split()
DISPLAY_TYPES = (None, "Press release", "Statutory guidance", "Open consultation", "News story")


def synthetic_items(count: int, cues: list[str], seed: int = 2017) -> list[ItemText]:
    rng = random.Random(seed)
    phrases = [cue.replace("*", "s") for cue in cues]
    items = []
    for index in range(count):
        title_words = rng.choices(FILLER, k=rng.randint(6, 12))
        summary_words = rng.choices(FILLER, k=rng.randint(20, 45))
        for _ in range(rng.randint(0, 2)):
            title_words.insert(rng.randrange(len(title_words) + 1), rng.choice(phrases))
        for _ in range(rng.randint(0, 4)):
            summary_words.insert(rng.randrange(len(summary_words) + 1), rng.choice(phrases))
        if index % 10 == 0:
            act = rng.choice(["Children and Social Work", "Childcare"])
            title = f"The {act} Act 2017 (Commencement No. {index % 7 + 1}) Regulations 2018"
            link = f"https://www.legislation.gov.uk/uksi/2018/{index % 999}/made"
            summary = (
                "These Regulations bring into force on 1st April 2018 sections 1 to 3 and"
                f" section {index % 60}. " + " ".join(summary_words)
            )
        else:
            title = " ".join(title_words).capitalize()
            link = f"https://www.gov.uk/government/news/item-{index}"
            summary = " ".join(summary_words).capitalize() + "."
        items.append(
            ItemText(title=title, summary=summary, type_hint=rng.choice(DISPLAY_TYPES), link=link)
        )
    return items


def naive_baseline(items: list[ItemText], cues: list[str]) -> float:
    patterns = [re.compile(cue_pattern(cue), re.IGNORECASE) for cue in cues]
    started = time.perf_counter()
    for item in items:
        for text in (item.title, item.summary):
            for pattern in patterns:
                pattern.search(text)
    return len(items) / (time.perf_counter() - started)


def rate(matcher: object, items: list[ItemText]) -> tuple[float, dict[str, int]]:
    states: dict[str, int] = {}
    started = time.perf_counter()
    for start in range(0, len(items), BATCH):
        for result in classify_many(matcher, items[start : start + BATCH]):  # type: ignore[arg-type]
            states[result.state] = states.get(result.state, 0) + 1
    return len(items) / (time.perf_counter() - started), states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    args = parser.parse_args()
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the target says

    config = load_config(args.config)
    started = time.perf_counter()
    matcher = load_matcher(None, config)
    train_s = time.perf_counter() - started
    rules = replace(matcher, model=None)
    cues = list(config.act.aliases) + list(config.matching.negative_cues)
    for strand in config.strands.values():
        cues += strand.cues + strand.programmes + strand.supporting_cues
    for event_type in config.event_types.values():
        cues += event_type.cues
    items = synthetic_items(args.items, cues)

    rate(matcher, items[:1_000])  # warm the cue caches
    full, states = rate(matcher, items)
    rules_only, _ = rate(rules, items)
    baseline = naive_baseline(items[: min(len(items), 5_000)], cues)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    print(f"learned scorer trained in {train_s:.2f} s (first use; cached afterwards)")
    print(f"load average at the end: {load:.2f}")
    print(
        f"matcher (rules + learned scorer): {full:,.0f} items/s on one core"
        f" = {full / baseline:.1f} x the baseline"
    )
    print(f"  verdicts: {', '.join(f'{k} {v:,}' for k, v in sorted(states.items()))}")
    print(
        f"rules alone, same run: {rules_only:,.0f} items/s = {rules_only / baseline:.1f} x the"
        f" baseline (README before: {BEFORE:,} = {BEFORE / QUIET_BASELINE:.1f} x)"
    )
    print(f"baseline, one regex per cue, cue search only: {baseline:,.0f} items/s")
    print(f"target {TARGET:,} items/s: {'met' if full >= TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
