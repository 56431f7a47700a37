"""The learned scorer: logistic regression over the rules' readings and the item's words.

Why and how:
- The rules know the domain (the Act's names, the strands' vocabulary, tense, jurisdiction) but
  weigh their evidence by hand. The scorer learns those weights, and the words the rules lack,
  from labelled announcements: the ones shipped in `actwatch/matching/data/` and the editor's own
  decisions once `actwatch learn` has taken them in.
- Features: the rules' signals (`classify.read`: which kinds of cue matched where, in what
  sense, other Acts, jurisdictions, dates), and the rules' own verdict; words of the title and
  summary, the title's words on their own, and character 4-grams of the title's words (so
  "regionalising" and "regionalisation" share evidence). Word features are scaled to unit
  length per item.
- Models: relevance, each announcement type against the others (trained on relevant items) and
  each strand (relevant items), all scikit-learn `LogisticRegression` (liblinear with a fixed
  seed, so the same data always gives the same weights). Classes too rare to learn fall back to
  the rules.
- Confidence: the relevance model's probability is the one confidence per decision (logistic
  regression is calibrated by construction on its training data; `evaluate --folds` checks it on
  held-out items). An absolute rule (another Act's instrument) still caps it.
- Evidence: the rules' hits, then the model's strongest terms (weight x value) for its decision.
- Training is deterministic and takes about a second, so the model is trained at first use and
  cached (in the process, and in the database by `actwatch.matching.store`) under a key made of
  the rules, the training data and this module's version: editing config.yaml retrains it.
  Nothing is downloaded.
- Scoring is plain arithmetic over a weight matrix (numpy), so it stays fast (benchmarks/match.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import compress, repeat
from typing import Any

import numpy as np

from actwatch.matching.classify import FALLBACK_TYPE, Reading, read
from actwatch.matching.matcher import Matcher
from actwatch.matching.model import Classification, Evidence, ItemText

MODEL_VERSION = 1
# Regularisation (inverse strength) per model, chosen by cross-validation on the shipped data.
C_RELEVANCE = 1.0
C_TYPE = 2.0
C_STRAND = 2.0
MIN_CLASS = 2  # a type or strand with fewer labelled examples is left to the rules
MIN_TEXT_DF = 2  # a word seen once in training says nothing about other items
CHAR_N = 4
MAX_TEXT = 1_500
TOP_TERMS = 5
RULE_CAP = 0.05
RULE_SCALE = 1.0
TYPE_TRUST = 1.0  # rules' evidence for a type at least this strong decides it
MODEL_TYPE_MIN = 0.85
MODEL_STRAND_MIN = 0.7
_WORD = re.compile(r"[a-z0-9£]+(?:['’][a-z]+)?")
_STOP = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "to",
        "in",
        "on",
        "for",
        "by",
        "with",
        "at",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "has",
        "have",
        "had",
        "will",
        "would",
        "into",
        "their",
        "there",
    }
)


@dataclass(frozen=True, slots=True)
class Example:
    """A labelled announcement: what the scorer learns from."""

    item: ItemText
    relevant: bool
    event_type: str | None
    strands: frozenset[str]
    id: str = ""
    weight: float = 1.0  # an editor's decision counts more than one shipped example


def text_features(item: ItemText) -> dict[str, float]:
    """Words of title and summary, the title's words on their own and their character 4-grams
    (headline variants: "regionalising", "regionalisation"), each group scaled to unit length.
    (Word pairs were tried: cross-validation showed no gain, and they cost a third of the time.)"""
    title_words = [
        word for word in _WORD.findall(item.title.lower()[:MAX_TEXT]) if word not in _STOP
    ]
    summary_words = [
        word for word in _WORD.findall(item.summary.lower()[:MAX_TEXT]) if word not in _STOP
    ]
    # Every "w:" name before every "t:" name, each in the order first seen: the order the
    # features reach the model in, which fixes the order its sums are added in.
    names = [
        *["w:" + word for word in title_words],
        *["w:" + word for word in summary_words],
        *["t:" + word for word in title_words],
    ]
    found: dict[str, float] = {}
    if names:
        distinct = dict.fromkeys(names)
        found = dict.fromkeys(distinct, 1.0 / math.sqrt(len(distinct)))
    long_words = [word for word in title_words if len(word) >= CHAR_N]
    known = list(map(_GRAMS.get, long_words))
    if None in known:
        known = [
            _grams(word) if found_grams is None else found_grams
            for word, found_grams in zip(long_words, known, strict=True)
        ]
    grams: set[str] = set().union(*known)  # type: ignore[arg-type]
    if grams:
        # A fixed order: sums and ties come out the same every run ("c:" prefixes every name,
        # so the names sort as the grams do).
        found.update(dict.fromkeys(sorted(grams), 1.0 / math.sqrt(len(grams))))
    return found


_GRAMS: dict[str, tuple[str, ...]] = {}


def _grams(word: str) -> tuple[str, ...]:
    """A title word's character 4-grams as feature names, made once per word (news vocabulary
    is small, and slicing every title word anew was a tenth of the scorer's time)."""
    grams = _GRAMS.get(word)
    if grams is None:
        if len(_GRAMS) > 100_000:
            _GRAMS.clear()
        padded = f" {word} "
        grams = _GRAMS[word] = tuple(
            {"c:" + padded[i : i + CHAR_N] for i in range(len(padded) - CHAR_N + 1)}
        )
    return grams


def features(reading: Reading, item: ItemText) -> dict[str, float]:
    """The item's words, the rules' signals and the rules' own verdict (scaled to dominate)."""
    found = text_features(item)
    scale = RULE_SCALE
    signals = reading.signals
    names = list(map(_RULE_NAMES.get, signals))
    if None in names:
        names = list(map(_rule_name, signals))
    found.update(zip(names, [value * scale for value in signals.values()], strict=True))  # type: ignore[arg-type]
    ruled = reading.classification
    found[_rule_name("verdict:" + ruled.state)] = scale
    found[_rule_name("verdict:type:" + ruled.event_type)] = scale
    for slug in ruled.strands:
        found[_rule_name("verdict:strand:" + slug)] = scale
    return found


_RULE_NAMES: dict[str, str] = {}


def _rule_name(signal: str) -> str:
    """ "r:" + the signal's name, made once (the same few dozen names come with every item)."""
    name = _RULE_NAMES.get(signal)
    if name is None:
        if len(_RULE_NAMES) > 10_000:
            _RULE_NAMES.clear()
        name = _RULE_NAMES[signal] = "r:" + signal
    return name


@dataclass(frozen=True)
class LearnedModel:
    """Weights of every output over one vocabulary: [relevance, types..., strands...]."""

    vocabulary: dict[str, int]
    weights: np.ndarray  # (features, outputs)
    bias: np.ndarray  # (outputs,)
    types: tuple[str, ...]  # the type outputs, in order
    strands: tuple[str, ...]  # the strand outputs, in order
    trained_on: int
    data_key: str  # what the model was trained from (rules, data, version)

    @property
    def fingerprint(self) -> str:
        return self.data_key

    # --- scoring ---------------------------------------------------------------------------

    def _row(self, found: dict[str, float]) -> tuple[list[int], list[float], list[str]]:
        """The item's features the model knows, in the item's order: their columns, values and
        names. map() keeps the per-feature lookup in C: most of an item's features are words
        the model never saw."""
        looked_up = list(map(self.vocabulary.get, found))
        known = list(map(operator.is_not, looked_up, repeat(None)))
        names = list(compress(found, known))
        indices: list[int] = list(compress(looked_up, known))  # type: ignore[arg-type]
        values = list(compress(found.values(), known))
        return indices, values, names

    def scores(self, found: dict[str, float]) -> np.ndarray:
        indices, values, _ = self._row(found)
        if not indices:
            return self.bias.copy()
        result: np.ndarray = np.asarray(values) @ self.weights[indices] + self.bias
        return result

    def decide(self, matcher: Matcher, item: ItemText, reading: Reading) -> Classification:
        found = features(reading, item)
        indices, values, names = self._row(found)
        if indices:
            row = np.asarray(values)
            raw = (row @ self.weights[indices] + self.bias).tolist()
            contributions = (row * self.weights[indices, 0]).tolist()
        else:
            raw, contributions = self.bias.tolist(), []
        return self._decide(matcher, reading, found, raw, contributions, names)

    def decide_many(
        self, matcher: Matcher, items: Sequence[ItemText], readings: Sequence[Reading]
    ) -> list[Classification]:
        """Decide a batch: one sparse product for every item's scores, one product for every
        item's terms, and the results turned into Python floats once (numpy's scalars cost
        more than the arithmetic done on them)."""
        from scipy.sparse import csr_matrix

        rows = []
        data: list[float] = []
        columns: list[int] = []
        pointers = [0]
        for item, reading in zip(items, readings, strict=True):
            found = features(reading, item)
            indices, values, names = self._row(found)
            rows.append((found, names))
            columns.extend(indices)
            data.extend(values)
            pointers.append(len(columns))
        data_array = np.asarray(data)
        columns_array = np.asarray(columns, dtype=np.int64)
        # Each term's share of the relevance score: the same products, item by item or at once.
        contributions = (data_array * self.weights[columns_array, 0]).tolist()
        matrix = csr_matrix(
            (data_array, columns_array, np.asarray(pointers)),
            shape=(len(rows), len(self.vocabulary)),
        )
        raws = (np.asarray(matrix @ self.weights) + self.bias).tolist()
        return [
            self._decide(
                matcher,
                reading,
                found,
                raws[position],
                contributions[pointers[position] : pointers[position + 1]],
                names,
            )
            for position, (reading, (found, names)) in enumerate(zip(readings, rows, strict=True))
        ]

    def _decide(
        self,
        matcher: Matcher,
        reading: Reading,
        found: dict[str, float],
        raw: list[float],
        contributions: list[float],
        names: list[str],
    ) -> Classification:
        ruled = reading.classification
        probability = _sigmoid(raw[0])
        if reading.rejected_by_rule:
            probability = min(probability, RULE_CAP)

        # The rules decide the type and strands when they have evidence for them; the model
        # speaks where they have none (its weights on so few examples are no better than the
        # editor's cues, as cross-validation shows).
        event_type = ruled.event_type
        type_probability: float | None = None
        decided_by_statute = "r:instrument:of_act" in found
        ruled_strongly = max(reading.type_scores.values(), default=0.0) >= TYPE_TRUST
        if self.types and not decided_by_statute and not ruled_strongly:
            chances = [_sigmoid(v) for v in raw[1 : 1 + len(self.types)]]
            best = max(range(len(chances)), key=chances.__getitem__)
            if chances[best] >= MODEL_TYPE_MIN:
                event_type = self.types[best]
                type_probability = chances[best] / (sum(chances) or 1.0)

        strands = ruled.strands
        if not strands and self.strands:
            offset = 1 + len(self.types)
            learned = {
                slug
                for slug, value in zip(self.strands, raw[offset:], strict=False)
                if value > _STRAND_ABOVE
                or (value >= _STRAND_BELOW and _sigmoid(value) >= MODEL_STRAND_MIN)
            }
            strands = tuple(slug for slug in matcher.strand_order if slug in learned)

        if probability >= matcher.relevant_threshold:
            state = "relevant"
        elif probability >= matcher.uncertain_threshold:
            state = "uncertain"
        else:
            state = "rejected"

        evidence = list(ruled.evidence)
        evidence.append(
            Evidence(
                "learned scorer",
                "model",
                "model",
                f"relevant {probability:.2f} (rules alone {ruled.confidence:.2f})"
                + (f"; type {event_type} {type_probability:.2f}" if type_probability else ""),
                None,
                event_type,
                round(probability, 3),
            )
        )
        if contributions:
            # The strongest terms for the decision: only those pulling its way, strongest first,
            # equal ones in the item's order (sorted() is stable, reversed or not).
            sign = 1.0 if state == "relevant" else -1.0
            order = sorted(
                range(len(contributions)), key=contributions.__getitem__, reverse=sign > 0
            )
            for position in order[:TOP_TERMS]:
                share = contributions[position]
                if sign * share <= 0:
                    break
                evidence.append(
                    Evidence(
                        _readable(names[position]),
                        "model term",
                        "model",
                        f"{share:+.2f} toward {'relevant' if share > 0 else 'not relevant'}",
                        None,
                        None,
                        round(abs(share), 3),
                    )
                )
        # The constructor, not dataclasses.replace: the same value, without looking up the
        # fields again for every item.
        return Classification(
            state,
            round(probability, 3),
            event_type,
            strands,
            tuple(evidence),
            ruled.commencements,
        )

    # --- storage -----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        names = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {
            "version": MODEL_VERSION,
            "features": names,
            "weights": np.round(self.weights, 6).tolist(),
            "bias": np.round(self.bias, 6).tolist(),
            "types": list(self.types),
            "strands": list(self.strands),
            "trained_on": self.trained_on,
            "data_key": self.data_key,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LearnedModel:
        if data.get("version") != MODEL_VERSION:
            raise ValueError("a model of another version")
        names = data["features"]
        return cls(
            vocabulary={name: index for index, name in enumerate(names)},
            weights=np.asarray(data["weights"], dtype=np.float64).reshape(len(names), -1),
            bias=np.asarray(data["bias"], dtype=np.float64),
            types=tuple(data["types"]),
            strands=tuple(data["strands"]),
            trained_on=int(data["trained_on"]),
            data_key=str(data["data_key"]),
        )


# The scores whose sigmoid is surely above or below MODEL_STRAND_MIN: the sigmoid's rounding is
# far smaller than this margin, so only scores within it need the sigmoid itself to decide.
_STRAND_LOGIT = math.log(MODEL_STRAND_MIN / (1 - MODEL_STRAND_MIN))
_STRAND_ABOVE = _STRAND_LOGIT + 1e-6
_STRAND_BELOW = _STRAND_LOGIT - 1e-6


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


def _readable(name: str) -> str:
    """How a feature is shown in the evidence ("word 'adoption'"), made once per name."""
    shown = _READABLE.get(name)
    if shown is None:
        if len(_READABLE) > 100_000:
            _READABLE.clear()
        kind, _, rest = name.partition(":")
        if kind == "w":
            shown = f"word {rest!r}"
        elif kind == "t":
            shown = f"title word {rest!r}"
        elif kind == "b":
            shown = f"words {rest!r}"
        elif kind == "c":
            shown = f"letters {rest.strip()!r}"
        elif kind == "r":
            shown = f"rules: {rest}"
        else:
            shown = name
        _READABLE[name] = shown
    return shown


_READABLE: dict[str, str] = {}


# --- training --------------------------------------------------------------------------------


def data_key(matcher: Matcher, examples: Sequence[Example]) -> str:
    """Changes whenever the rules, the training data or this module's version change."""
    digest = hashlib.sha256()
    digest.update(f"{MODEL_VERSION}:{matcher.rules_hash}".encode())
    for example in examples:
        item = example.item
        record = [
            item.title,
            item.summary,
            item.content,
            item.type_hint,
            item.link,
            item.published.isoformat() if item.published else None,
            example.relevant,
            example.event_type,
            sorted(example.strands),
            example.weight,
        ]
        digest.update(json.dumps(record, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def train(matcher: Matcher, examples: Sequence[Example]) -> LearnedModel:
    """Fit the scorer on labelled examples (deterministic: the same data, the same weights)."""
    from scipy.sparse import csr_matrix

    rules = replace(matcher, model=None)
    rows = [features(read(rules, example.item), example.item) for example in examples]
    counts: dict[str, int] = {}
    for row in rows:
        for name in row:
            counts[name] = counts.get(name, 0) + 1
    names = sorted(
        name for name, count in counts.items() if name.startswith("r:") or count >= MIN_TEXT_DF
    )
    vocabulary = {name: index for index, name in enumerate(names)}
    data: list[float] = []
    columns: list[int] = []
    pointers = [0]
    for row in rows:
        for name, value in row.items():
            index = vocabulary.get(name)
            if index is not None:
                columns.append(index)
                data.append(value)
        pointers.append(len(columns))
    matrix = csr_matrix(
        (np.asarray(data), np.asarray(columns, dtype=np.int64), np.asarray(pointers)),
        shape=(len(rows), len(names)),
    )
    matrix.sort_indices()

    outputs: list[np.ndarray] = []
    biases: list[float] = []
    sample_weight = np.asarray([example.weight for example in examples], dtype=np.float64)

    def fit_binary(labels: np.ndarray, rows_mask: np.ndarray | None, c: float) -> None:
        x = matrix if rows_mask is None else matrix[rows_mask]
        y = labels if rows_mask is None else labels[rows_mask]
        w = sample_weight if rows_mask is None else sample_weight[rows_mask]
        if len(set(y.tolist())) < 2:
            outputs.append(np.zeros(len(names)))
            biases.append(10.0 if y.size and y[0] else -10.0)
            return
        model = _logistic(c)
        model.fit(x, y, sample_weight=w)
        outputs.append(model.coef_[0].copy())
        biases.append(float(model.intercept_[0]))

    relevant = np.asarray([example.relevant for example in examples])
    fit_binary(relevant, None, C_RELEVANCE)

    typed = [e.event_type for e in examples if e.relevant and e.event_type]
    type_counts = {slug: typed.count(slug) for slug in matcher.type_order}
    types = tuple(slug for slug in matcher.type_order if type_counts.get(slug, 0) >= MIN_CLASS)
    if len(types) >= 2:
        mask = np.asarray([e.relevant and e.event_type in types for e in examples])
        labels = np.asarray([e.event_type if e.event_type in types else "" for e in examples])
        # One model per type against the others (one-vs-rest): each type's weights read alone.
        for slug in types:
            fit_binary(labels == slug, mask, C_TYPE)
    else:
        types = ()

    strands: list[str] = []
    relevant_mask = relevant.astype(bool)
    for slug in matcher.strand_order:
        labels = np.asarray([slug in e.strands for e in examples])
        if int(labels[relevant_mask].sum()) < MIN_CLASS:
            continue
        strands.append(slug)
        fit_binary(labels, relevant_mask, C_STRAND)

    return LearnedModel(
        vocabulary=vocabulary,
        weights=np.column_stack(outputs) if outputs else np.zeros((len(names), 0)),
        bias=np.asarray(biases),
        types=types,
        strands=tuple(strands),
        trained_on=len(examples),
        data_key=data_key(matcher, examples),
    )


def _logistic(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression

    # liblinear: fast on small sparse data, and deterministic with a fixed seed.
    return LogisticRegression(C=c, solver="liblinear", random_state=0, max_iter=1000)


def with_model(matcher: Matcher, model: LearnedModel | None) -> Matcher:
    return replace(matcher, model=model)


def examples_from(labelled: Iterable[Any], weights: Sequence[float] | None = None) -> list[Example]:
    """Examples from evaluate's LabelledItems (anything with item, relevant, event_type...)."""
    entries = list(labelled)
    return [
        Example(
            item=entry.item,
            relevant=entry.relevant,
            event_type=entry.event_type if entry.relevant else None,
            strands=frozenset(entry.strands) if entry.relevant else frozenset(),
            id=entry.id,
            weight=weights[index] if weights is not None else 1.0,
        )
        for index, entry in enumerate(entries)
    ]


__all__ = [
    "FALLBACK_TYPE",
    "Example",
    "LearnedModel",
    "data_key",
    "examples_from",
    "features",
    "text_features",
    "train",
    "with_model",
]
