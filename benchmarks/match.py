"""Items per second for the matcher on 100,000 synthetic items (target: 20,000/s on one core).

Synthetic items mix the rules' own cues (strands, types, traps) with ordinary news words, in
GOV.UK, legislation.gov.uk and sector-press shapes. As a baseline in the same run, the same
rules are applied the naive way (one regular expression per cue) to a sample.

    python benchmarks/match.py [--items N] [--config config.yaml]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

from actwatch.config import load_config
from actwatch.matching import ItemText, classify, compile_rules
from actwatch.matching.cues import cue_pattern

REPO = Path(__file__).resolve().parents[1]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--config", type=Path, default=REPO / "config.yaml")
    args = parser.parse_args()

    config = load_config(args.config)
    started = time.perf_counter()
    matcher = compile_rules(config)
    compile_ms = (time.perf_counter() - started) * 1000
    cues = list(config.act.aliases) + list(config.matching.negative_cues)
    for strand in config.strands.values():
        cues += strand.cues + strand.programmes + strand.supporting_cues
    for event_type in config.event_types.values():
        cues += event_type.cues
    items = synthetic_items(args.items, cues)

    states: dict[str, int] = {}
    started = time.perf_counter()
    for item in items:
        result = classify(matcher, item)
        states[result.state] = states.get(result.state, 0) + 1
    seconds = time.perf_counter() - started
    rate = len(items) / seconds
    baseline = naive_baseline(items[: min(len(items), 5_000)], cues)

    print(f"rules compiled in {compile_ms:.1f} ms ({len(cues)} cues)")
    print(f"classified {len(items):,} items in {seconds:.2f} s: {rate:,.0f} items/s on one core")
    print(f"  verdicts: {', '.join(f'{k} {v:,}' for k, v in sorted(states.items()))}")
    print(f"baseline, one regex per cue, cue search only: {baseline:,.0f} items/s")
    print(f"target 20,000 items/s: {'met' if rate >= 20_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
