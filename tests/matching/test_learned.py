"""The learned scorer: deterministic training, one confidence with evidence, cross-validation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from actwatch.config import Config
from actwatch.matching import ItemText, Matcher, classify
from actwatch.matching.classify import classify_many, read
from actwatch.matching.evaluate import cross_validate, load_labelled
from actwatch.matching.learned import Example, LearnedModel, train, with_model
from actwatch.matching.store import shipped_examples
from tests.conftest import REPO

SHIPPED = REPO / "src" / "actwatch" / "matching" / "data"


@pytest.fixture(scope="module")
def model(matcher: Matcher, rules: Config) -> LearnedModel:
    return train(matcher, shipped_examples(rules))


@pytest.fixture(scope="module")
def learned(matcher: Matcher, model: LearnedModel) -> Matcher:
    return with_model(matcher, model)


def test_training_is_deterministic_and_survives_storage(
    matcher: Matcher, rules: Config, model: LearnedModel
) -> None:
    again = train(matcher, shipped_examples(rules))
    assert again.data_key == model.data_key
    assert np.array_equal(again.weights, model.weights)
    stored = LearnedModel.from_json(model.to_json())
    item = ItemText("Care leavers to get personal advisers up to 25", "Councils must offer them.")
    reading = read(matcher, item)
    assert stored.decide(matcher, item, reading) == model.decide(matcher, item, reading)


def test_one_confidence_with_the_evidence_of_both(learned: Matcher) -> None:
    result = classify(
        learned,
        ItemText(
            "Staying Close pilot extended to more councils",
            "The Department for Education is extending the Staying Close pilot for young people"
            " leaving care.",
        ),
    )
    assert result.relevant and result.event_type == "pilot"
    kinds = {entry.kind for entry in result.evidence}
    assert {"programme", "model", "model term"} <= kinds
    scorer = next(entry for entry in result.evidence if entry.kind == "model")
    assert scorer.weight == result.confidence


def test_an_absolute_rule_still_caps_the_model(learned: Matcher) -> None:
    result = classify(
        learned,
        ItemText(
            "The Children and Families Act 2014 (Commencement No. 4) Order 2014",
            "Brings into force provisions on virtual school heads and care leavers.",
            link="https://www.legislation.gov.uk/uksi/2014/1640/made",
        ),
    )
    assert result.state == "rejected" and result.confidence <= 0.05


def test_a_batch_decides_as_one_by_one(learned: Matcher, rules: Config) -> None:
    items = [example.item for example in shipped_examples(rules)[:40]]
    assert classify_many(learned, items) == [classify(learned, item) for item in items]


def test_without_the_scorer_the_rules_decide(matcher: Matcher) -> None:
    item = ItemText("Regional adoption agencies to get funding boost")
    assert classify(replace(matcher, model=None), item) == read(matcher, item).classification


def test_editor_weighted_examples_move_the_scorer(matcher: Matcher, rules: Config) -> None:
    shipped = shipped_examples(rules)
    item = ItemText("Family hubs to open in every council area", "Councils get new family hubs.")
    before = classify(with_model(matcher, train(matcher, shipped)), item)
    decided = [
        Example(
            ItemText(f"Family hubs open in {place}", f"{place} opens family hubs."),
            True,
            "other",
            frozenset({"mixed-economy"}),
            weight=3.0,
        )
        for place in ("Leeds", "Hull", "Derby", "Bristol", "Luton", "Bath")
    ]
    after = classify(with_model(matcher, train(matcher, [*shipped, *decided])), item)
    assert after.confidence > before.confidence


@pytest.mark.slow
def test_cross_validated_scores_meet_the_bars(matcher: Matcher, rules: Config) -> None:
    """The issue's bars, 5-fold over the shipped train and dev sets (judgement calls included)."""
    labelled = [
        *load_labelled(SHIPPED / "train.jsonl", rules.strands, rules.event_types),
        *load_labelled(SHIPPED / "dev.jsonl", rules.strands, rules.event_types),
    ]
    scores = cross_validate(matcher, labelled, 5)
    summary = scores.as_dict(misses=False)
    assert scores.relevance["f1"] >= 0.93, summary
    assert scores.type_accuracy >= 0.88, summary
    assert scores.strands["f1"] >= 0.90, summary
    assert scores.type_recall["commencement"]["recall"] >= 0.85, summary
    assert scores.type_recall["pilot"]["recall"] >= 0.85, summary
    assert scores.uncertain["share_of_irrelevant"] < 0.05, summary


def test_strands_decided_without_the_sigmoid_agree_with_it() -> None:
    # Scores beyond the margins skip the sigmoid: the margins must sit on the right sides.
    from actwatch.matching.learned import (
        _STRAND_ABOVE,
        _STRAND_BELOW,
        MODEL_STRAND_MIN,
        _sigmoid,
    )

    assert _sigmoid(_STRAND_ABOVE) >= MODEL_STRAND_MIN > _sigmoid(_STRAND_BELOW)
