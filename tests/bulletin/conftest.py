"""The bulletin tests pin the parts of the config that shape a bulletin (strand names and
sections, section cap, base URL), so that tuning the matching rules in config.yaml never
changes a golden file. Everything else is the real config."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actwatch.config import Config, parse_config

# Strand slugs, names and sections as the Act and the domain brief give them.
PINNED_STRANDS: dict[str, dict[str, Any]] = {
    "regional-commissioning": {
        "name": "Regional commissioning",
        "description": "Regional and sub-regional commissioning across council boundaries.",
        "sections": [],
    },
    "mixed-economy": {
        "name": "Mixed economy of providers",
        "description": "Charities, trusts, mutuals and social enterprises delivering services.",
        "sections": [],
    },
    "sector-led-improvement": {
        "name": "Sector-led improvement",
        "description": "Improvement led by the sector itself, through peer support and evidence.",
        "sections": [],
    },
    "corporate-parenting": {
        "name": "Corporate parenting",
        "description": "Corporate parenting principles for the whole local authority.",
        "sections": ["1"],
    },
    "safeguarding-partnerships": {
        "name": "Safeguarding partnerships",
        "description": "Three safeguarding partners (council, health, police) replace LSCBs.",
        "sections": ["12-32"],
    },
    "schools-accountability": {
        "name": "Schools and looked-after children",
        "description": "Designated teachers and virtual school heads for looked-after children.",
        "sections": ["4-7"],
    },
    "social-work-england": {
        "name": "Social Work England",
        "description": "A new regulator for social workers in England, taking over from the HCPC.",
        "sections": ["36-58", "Part 2", "Sch 3"],
    },
    "relationships-education": {
        "name": "Relationships and sex education",
        "description": "Compulsory relationships education, RSE and health education in schools.",
        "sections": ["34-35"],
    },
    "care-leavers": {
        "name": "Care leavers",
        "description": "A local offer for care leavers and personal adviser support up to age 25.",
        "sections": ["2-3"],
    },
}


def pinned_data(repo_config_data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(repo_config_data)
    data["database"] = {"url": "sqlite:///actwatch.db"}
    for slug, pinned in PINNED_STRANDS.items():
        data["strands"][slug].update(pinned)
    data["bulletin"] = {
        **data["bulletin"],
        "section_cap": 8,
        "title_pattern": "{label} news: {act}",
        "headline_separator": " - ",
        "editor": {"name": "Robin Hale", "email": "editor@actwatch.example.org"},
        "templates": "templates",
    }
    data["bulletin"].pop("caveat", None)
    data["web"] = {**data.get("web", {}), "base_url": "https://actwatch.example.org"}
    data["schedule"] = {**data.get("schedule", {}), "timezone": "Europe/London"}
    return data


@pytest.fixture
def config(tmp_path: Path, repo_config_data: dict[str, Any]) -> Config:
    """The real config with the bulletin's shape pinned, state inside tmp_path."""
    return parse_config(pinned_data(repo_config_data), tmp_path / "config.yaml")


@pytest.fixture
def write_pinned_config(
    write_config: Callable[..., Path], repo_config_data: dict[str, Any]
) -> Callable[..., Path]:
    """Write the pinned config into tmp_path, with top-level sections replaced."""
    pinned = pinned_data(repo_config_data)

    def write(**sections: Any) -> Path:
        return write_config(
            strands=pinned["strands"],
            bulletin=pinned["bulletin"],
            web=pinned["web"],
            **sections,
        )

    return write
