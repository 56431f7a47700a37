"""Fixtures for the matcher: the real rules compiled once, and a helper to classify text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from actwatch.config import Config, parse_config
from actwatch.matching import Classification, ItemText, Matcher, classify, compile_rules
from tests.conftest import REPO


@pytest.fixture(scope="session")
def rules() -> Config:
    import yaml

    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    return parse_config(data, REPO / "config.yaml")


@pytest.fixture(scope="session")
def matcher(rules: Config) -> Matcher:
    return compile_rules(rules)


@pytest.fixture
def judge(matcher: Matcher) -> Callable[..., Classification]:
    def run(
        title: str, summary: str = "", instrument_text: str | None = None, **fields: Any
    ) -> Classification:
        return classify(matcher, ItemText(title=title, summary=summary, **fields), instrument_text)

    return run
