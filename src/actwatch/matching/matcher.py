"""`compile_rules(config)`: the editor's rules, compiled once into a few fast matchers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from actwatch.config import Config
from actwatch.core.provisions import ProvisionMap
from actwatch.matching.cues import Cue, Lexicon

# Bumped when the classifier's logic changes, so that stored verdicts are redone like after an
# edit of the rules.
MATCHER_VERSION = 2
RULE_SECTIONS = ("act", "strands", "event_types", "matching")


@dataclass(frozen=True, slots=True)
class Matcher:
    # Groups: "relevance" (act aliases, strand cues, programmes, supporting, context, negative),
    # "exclusion" and "type"; leftmost-longest matching applies within each group.
    lexicon: Lexicon
    display_types: dict[str, str]  # lower-case GOV.UK display type -> event type
    legislation_types: tuple[str, ...]
    alternative_numbers: dict[str, str]  # series ("C") -> event type
    type_order: tuple[str, ...]
    strand_order: tuple[str, ...]
    sections: ProvisionMap
    relevant_threshold: float
    uncertain_threshold: float
    reject_other_acts: bool
    act_names: tuple[str, ...]  # how commencement prose names this Act
    rules_hash: str


def rules_hash(config: Config) -> str:
    """Changes whenever the rules (or the classifier) change: stored verdicts are then stale."""
    data = config.model_dump(mode="json", include=set(RULE_SECTIONS))
    data["matcher_version"] = MATCHER_VERSION
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def compile_rules(config: Config) -> Matcher:
    relevance: list[Cue] = [Cue(alias, "act") for alias in config.act.aliases]
    exclusions: list[Cue] = []
    for slug, strand in config.strands.items():
        relevance.extend(Cue(text, "strand", slug) for text in strand.cues)
        relevance.extend(Cue(text, "programme", slug) for text in strand.programmes)
        relevance.extend(Cue(text, "supporting", slug) for text in strand.supporting_cues)
        exclusions.extend(Cue(text, "exclusion", slug) for text in strand.exclusions)
    relevance.extend(Cue(text, "context") for text in config.matching.context_cues)
    relevance.extend(Cue(text, "negative") for text in config.matching.negative_cues)

    type_cues: list[Cue] = []
    display_types: dict[str, str] = {}
    alternative_numbers: dict[str, str] = {}
    for slug, event_type in config.event_types.items():
        type_cues.extend(Cue(text, "type", slug) for text in event_type.cues)
        for name in event_type.display_types:
            display_types.setdefault(name.strip().lower(), slug)
        for series in event_type.alternative_numbers:
            alternative_numbers.setdefault(series.strip().upper().rstrip("."), slug)

    return Matcher(
        lexicon=Lexicon({"relevance": relevance, "exclusion": exclusions, "type": type_cues}),
        display_types=display_types,
        legislation_types=tuple(
            slug for slug, event_type in config.event_types.items() if event_type.legislation
        ),
        alternative_numbers=alternative_numbers,
        type_order=tuple(config.event_types),
        strand_order=tuple(config.strands),
        sections=ProvisionMap(
            {slug: strand.sections for slug, strand in config.strands.items()},
            config.matching.outside_strands,
        ),
        relevant_threshold=config.matching.thresholds.relevant,
        uncertain_threshold=config.matching.thresholds.uncertain,
        reject_other_acts=config.matching.reject_other_acts,
        act_names=(config.act.name, *config.act.aliases),
        rules_hash=rules_hash(config),
    )
