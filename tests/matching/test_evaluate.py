"""The quality bars on the labelled sets, and the `evaluate` command."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from actwatch.cli import main
from actwatch.config import Config
from actwatch.matching import Matcher
from actwatch.matching.evaluate import evaluate, item_from_labelled, load_labelled
from tests.conftest import DATA, REPO

EVAL = DATA / "eval"
SHIPPED = REPO / "src" / "actwatch" / "matching" / "data"


def scores_for(
    name: str, matcher: Matcher, rules: Config, folder: Path = EVAL
) -> dict[str, object]:
    labelled = load_labelled(folder / name, rules.strands, rules.event_types)
    result = evaluate(matcher, labelled)
    misses = [(miss.id, miss.what, miss.expected, miss.got) for miss in result.misses]
    return {"scores": result.as_dict(), "misses": misses}


def test_dev_set_meets_the_bars(matcher: Matcher, rules: Config) -> None:
    result = scores_for("dev.jsonl", matcher, rules, SHIPPED)
    scores = result["scores"]
    assert isinstance(scores, dict)
    assert scores["items"] == 47
    assert scores["relevance"]["f1"] >= 0.95, result
    assert scores["type"]["accuracy"] >= 0.85, result
    assert scores["strands"]["f1"] >= 0.90, result


def test_own_set_meets_the_bars(matcher: Matcher, rules: Config) -> None:
    result = scores_for("own.jsonl", matcher, rules)
    scores = result["scores"]
    assert isinstance(scores, dict)
    assert scores["items"] >= 40
    assert scores["relevance"]["f1"] >= 0.95, result
    assert scores["type"]["accuracy"] >= 0.85, result
    assert scores["strands"]["f1"] >= 0.90, result


def test_blind_set_stays_above_its_first_scores(matcher: Matcher, rules: Config) -> None:
    """Written without sight of the rules; its first run scored relevance F1 0.89, strands 0.88.

    The bars sit at the scores after the general vocabulary fixes it prompted, so a rule change
    that loses ground on announcements the rules were not written for fails here.
    """
    result = scores_for("blind.jsonl", matcher, rules)
    scores = result["scores"]
    assert isinstance(scores, dict)
    assert scores["items"] == 60
    assert scores["relevance"]["f1"] >= 0.92, result
    assert scores["type"]["accuracy"] >= 0.95, result
    assert scores["strands"]["f1"] >= 0.90, result


def test_metrics_are_computed_as_documented(
    matcher: Matcher, rules: Config, tmp_path: Path
) -> None:
    lines = [
        # true positive, right type, one right strand and one missed
        {
            "id": "a",
            "title": "Statutory guidance: Applying corporate parenting principles",
            "summary": "",
            "link": "https://www.gov.uk/x",
            "source": "gov.uk",
            "expected": {
                "relevant": True,
                "type": "guidance",
                "strands": ["corporate-parenting", "care-leavers"],
            },
        },
        # false negative with a wrong type (the fallback "other"): its strand is missed
        {
            "id": "b",
            "title": "Minister visits a school",
            "summary": "",
            "link": "",
            "source": "x",
            "expected": {
                "relevant": True,
                "type": "guidance",
                "strands": ["schools-accountability"],
            },
        },
        # false positive: its strands count as wrong
        {
            "id": "c",
            "title": "Care leavers get bus passes",
            "summary": "",
            "link": "",
            "source": "x",
            "expected": {"relevant": False, "type": None, "strands": []},
        },
    ]
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    scores = evaluate(matcher, load_labelled(path, rules.strands, rules.event_types)).as_dict()
    assert scores["relevance"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    assert scores["type"] == {
        "accuracy": 0.5,
        "recall": {"guidance": {"recall": 0.5, "support": 2}},
        "confusion": {"guidance": {"guidance": 1, "other": 1}},
    }
    strands = scores["strands"]
    assert {key: strands[key] for key in ("precision", "recall", "f1")} == {
        "precision": 0.5,
        "recall": 0.3333,
        "f1": 0.4,
    }
    assert strands["per_strand"]["corporate-parenting"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
        "support": 1,
    }
    assert strands["per_strand"]["schools-accountability"]["recall"] == 0.0
    assert scores["uncertain"]["relevant"] + scores["uncertain"]["irrelevant"] == 0
    assert {(miss["id"], miss["what"]) for miss in scores["misses"]} == {
        ("b", "relevance"),
        ("b", "type"),
        ("b", "strands"),
        ("a", "strands"),
        ("c", "relevance"),
        ("c", "strands"),
    }
    assert all("evidence" in miss for miss in scores["misses"])


def test_govuk_titles_lose_their_display_type_prefix() -> None:
    item = item_from_labelled(
        {
            "title": "Open consultation: Revised guidance",
            "link": "https://consult.education.gov.uk/x",
            "source": "gov.uk",
        }
    )
    assert (item.title, item.type_hint) == ("Revised guidance", "Open consultation")
    other = item_from_labelled(
        {"title": "Written statement: Social Work England", "link": "https://x.org/y"}
    )
    assert (other.title, other.type_hint) == ("Written statement: Social Work England", None)


def test_evaluate_command_json_touches_no_database(write_config: object, tmp_path: Path) -> None:
    config_file = write_config()  # type: ignore[operator]
    result = CliRunner().invoke(
        main, ["--config", str(config_file), "evaluate", str(SHIPPED / "dev.jsonl"), "--json"]
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert {"items", "relevance", "type", "strands", "uncertain", "misses"} <= set(scores)
    assert set(scores["relevance"]) == {"precision", "recall", "f1"}
    assert {"accuracy", "recall", "confusion"} <= set(scores["type"])
    assert list(scores["type"]["recall"])[:2] == ["commencement", "pilot"]
    assert {"precision", "recall", "f1", "per_strand"} <= set(scores["strands"])
    assert not (tmp_path / "actwatch.db").exists()


def test_evaluate_command_lists_misses_with_evidence(write_config: object, tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(
        json.dumps(
            {
                "id": "x1",
                "title": "Care leavers get bus passes",
                "summary": "",
                "link": "",
                "source": "x",
                "expected": {"relevant": False, "type": None, "strands": []},
            }
        )
        + "\n",
        encoding="utf-8",
    )
    config_file = write_config()  # type: ignore[operator]
    result = CliRunner().invoke(main, ["--config", str(config_file), "evaluate", str(path)])
    assert result.exit_code == 0, result.output
    assert "x1 relevance" in result.output
    assert "strand 'care leaver*' in title" in result.output


def test_evaluate_command_rejects_a_bad_file(write_config: object, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "x", "title": "t"}\n', encoding="utf-8")
    config_file = write_config()  # type: ignore[operator]
    result = CliRunner().invoke(main, ["--config", str(config_file), "evaluate", str(path)])
    assert result.exit_code == 1
    assert "bad.jsonl:1" in result.output
