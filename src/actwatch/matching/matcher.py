"""`compile_rules(config)`: the editor's rules, compiled once into a few fast matchers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Protocol

from actwatch.core.provisions import ProvisionMap
from actwatch.matching.cues import Cue, Lexicon

if TYPE_CHECKING:
    # Only compiling the rules reads the config: a worker process that is handed a compiled
    # matcher never loads the config's models (pydantic, SQLAlchemy's URL parsing).
    from actwatch.config import Config
    from actwatch.matching.classify import Reading
    from actwatch.matching.model import Classification, ItemText

# Bumped when the classifier's logic changes, so that stored verdicts are redone like after an
# edit of the rules.
MATCHER_VERSION = 3
RULE_SECTIONS = ("act", "strands", "event_types", "matching")


class Scorer(Protocol):
    """The learned scorer as the matcher sees it (actwatch.matching.learned.LearnedModel)."""

    @property
    def fingerprint(self) -> str: ...

    def decide(self, matcher: Matcher, item: ItemText, reading: Reading) -> Classification: ...

    def decide_many(
        self, matcher: Matcher, items: Sequence[ItemText], readings: Sequence[Reading]
    ) -> list[Classification]: ...


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
    publishers: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # name -> (domains, strands)
    jurisdictions: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]  # -> (domains, legislation)
    introduced: date | None = None
    domain_places: dict[str, str] = field(default_factory=dict)  # host suffix -> jurisdiction
    domain_publishers: dict[str, str] = field(default_factory=dict)  # host suffix -> publisher
    tense_sensitive: frozenset[str] = frozenset()  # types whose future cues do not count
    complaint_sensitive: frozenset[str] = frozenset()
    statutory_types: frozenset[str] = frozenset()  # types only the Act's provisions can have
    statutory_strands: frozenset[str] = frozenset()  # strands with sections of the Act
    model: Scorer | None = None  # the learned scorer; None: the rules alone decide

    @property
    def fingerprint(self) -> str:
        """What stored verdicts were made with: the rules, and the learned scorer if any."""
        if self.model is None:
            return self.rules_hash
        return hashlib.sha256(f"{self.rules_hash}:{self.model.fingerprint}".encode()).hexdigest()


def rules_hash(config: Config) -> str:
    """Changes whenever the rules (or the classifier) change: stored verdicts are then stale."""
    data = config.model_dump(mode="json", include=set(RULE_SECTIONS))
    data["matcher_version"] = MATCHER_VERSION
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def _with_aliases(cues: list[Cue], aliases: dict[str, list[str]]) -> list[Cue]:
    """Each cue, then its aliases in the same role (matched case-insensitively by cue text)."""
    if not aliases:
        return cues
    by_text = {text.strip().lower(): variants for text, variants in aliases.items()}
    expanded: list[Cue] = []
    for cue in cues:
        expanded.append(cue)
        for variant in by_text.get(cue.text.strip().lower(), ()):
            expanded.append(Cue(variant, cue.kind, cue.target))
    return expanded


def compile_rules(config: Config) -> Matcher:
    relevance: list[Cue] = [Cue(alias, "act") for alias in config.act.aliases]
    exclusions: list[Cue] = []
    for slug, strand in config.strands.items():
        relevance.extend(Cue(text, "strand", slug) for text in strand.cues)
        relevance.extend(Cue(text, "programme", slug) for text in strand.programmes)
        relevance.extend(Cue(text, "supporting", slug) for text in strand.supporting_cues)
        exclusions.extend(Cue(text, "exclusion", slug) for text in strand.exclusions)
    matching = config.matching
    relevance.extend(Cue(text, "context") for text in matching.context_cues)
    relevance.extend(Cue(text, "negative") for text in matching.negative_cues)

    type_cues: list[Cue] = []
    display_types: dict[str, str] = {}
    alternative_numbers: dict[str, str] = {}
    for slug, event_type in config.event_types.items():
        type_cues.extend(Cue(text, "type", slug) for text in event_type.cues)
        for name in event_type.display_types:
            display_types.setdefault(name.strip().lower(), slug)
        for series in event_type.alternative_numbers:
            alternative_numbers.setdefault(series.strip().upper().rstrip("."), slug)

    places: list[Cue] = []
    shared: list[Cue] = []
    places.extend(Cue(text, "home", "home") for text in matching.home_cues)
    for place, jurisdiction in matching.jurisdictions.items():
        places.extend(Cue(text, "jurisdiction", place) for text in jurisdiction.cues)
        shared.extend(Cue(text, "shared", place) for text in jurisdiction.shared)
    modality = matching.modality
    markers = [
        *(Cue(text, "future") for text in modality.future),
        *(Cue(text, "negation") for text in modality.negation),
        *(Cue(text, "complaint") for text in modality.complaint),
        *(Cue(text, "subordinate") for text in modality.subordinate),
    ]
    aliases = matching.aliases
    groups = {
        "relevance": _with_aliases(relevance, aliases),
        "exclusion": _with_aliases(exclusions, aliases),
        "type": _with_aliases(type_cues, aliases),
        "jurisdiction": places,
        "shared": shared,
        "modality": markers,
    }
    return Matcher(
        lexicon=Lexicon({group: cues for group, cues in groups.items() if cues}),
        display_types=display_types,
        legislation_types=tuple(
            slug for slug, event_type in config.event_types.items() if event_type.legislation
        ),
        alternative_numbers=alternative_numbers,
        type_order=tuple(config.event_types),
        strand_order=tuple(config.strands),
        sections=ProvisionMap(
            {slug: strand.sections for slug, strand in config.strands.items()},
            matching.outside_strands,
        ),
        relevant_threshold=matching.thresholds.relevant,
        uncertain_threshold=matching.thresholds.uncertain,
        reject_other_acts=matching.reject_other_acts,
        act_names=(config.act.name, *config.act.aliases),
        rules_hash=rules_hash(config),
        publishers={
            name: (
                tuple(d.strip().lower().lstrip(".") for d in publisher.domains),
                tuple(publisher.strands),
            )
            for name, publisher in matching.publishers.items()
        },
        jurisdictions={
            place: (
                tuple(d.strip().lower().lstrip(".") for d in jurisdiction.domains),
                tuple(kind.strip().lower() for kind in jurisdiction.legislation),
            )
            for place, jurisdiction in matching.jurisdictions.items()
        },
        introduced=config.act.introduced,
        domain_places={
            domain.strip().lower().lstrip("."): place
            for place, jurisdiction in matching.jurisdictions.items()
            for domain in jurisdiction.domains
        },
        domain_publishers={
            domain.strip().lower().lstrip("."): name
            for name, publisher in matching.publishers.items()
            for domain in publisher.domains
        },
        tense_sensitive=frozenset(
            slug for slug, event_type in config.event_types.items() if event_type.tense_sensitive
        ),
        complaint_sensitive=frozenset(
            slug
            for slug, event_type in config.event_types.items()
            if event_type.complaint_sensitive
        ),
        statutory_types=frozenset(
            slug for slug, event_type in config.event_types.items() if event_type.statutory
        ),
        statutory_strands=frozenset(
            slug for slug, strand in config.strands.items() if strand.sections
        ),
    )
