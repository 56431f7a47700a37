"""The matching rules an editor reads and edits: the Act, strands, themes, announcement types."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import Field, field_validator

from actwatch.config.types import Slug, StrictModel

# A reference to part of the Act as an editor writes it: "1", "12-32", "Sch 3", "Part 2".
SECTION_REF = re.compile(r"^(?:s\.?\s*)?(\d+[A-Z]?)(?:\s*-\s*(\d+[A-Z]?))?$|^(Sch|Part)\s+(\d+)$")

Cue = Annotated[str, Field(min_length=1)]


def _check_sections(values: list[str]) -> list[str]:
    for value in values:
        if not SECTION_REF.match(value.strip()):
            raise ValueError(
                f"{value!r} is not a section reference (use e.g. 1, 12-32, Sch 3, Part 2)"
            )
    return [value.strip() for value in values]


class ActConfig(StrictModel):
    name: str = Field(min_length=1)
    short_name: str = Field(min_length=1, description="The name as the bulletin's title uses it.")
    citation: str
    legislation_id: str = Field(pattern=r"^[a-z]+/\d{4}/\d+$")
    royal_assent: date | None = None
    aliases: list[Cue] = []
    commencement_power: str | None = Field(
        default=None, description="The section under which commencement regulations are made."
    )


class StrandConfig(StrictModel):
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    sections: list[str] = []
    cues: list[Cue] = Field(min_length=1)
    programmes: list[Cue] = Field(
        default=[], description="Policy programmes that implement the strand: strong cues."
    )
    exclusions: list[Cue] = []

    _sections = field_validator("sections")(_check_sections)


class ThemeConfig(StrictModel):
    name: str = Field(min_length=1)
    strands: list[Slug] = Field(min_length=1)


class EventTypeConfig(StrictModel):
    name: str = Field(min_length=1)
    cues: list[Cue] = []
    display_types: list[str] = Field(
        default=[], description="GOV.UK display types (title prefixes) that imply this type."
    )
    legislation: bool = Field(
        default=False, description="A legislation.gov.uk instrument of this Act implies this type."
    )


class Thresholds(StrictModel):
    relevant: float = Field(default=0.6, ge=0, le=1)
    uncertain: float = Field(default=0.3, ge=0, le=1)


class MatchingConfig(StrictModel):
    negative_cues: list[Cue] = Field(
        default=[], description="Phrases that make an item irrelevant whatever else it says."
    )
    outside_strands: list[str] = Field(
        default=[],
        description="Sections of the Act that belong to no strand (relevant, no strand).",
    )
    thresholds: Thresholds = Thresholds()
    fetch_instruments: bool = Field(
        default=True,
        description="Read a commencement instrument's text on legislation.gov.uk for its dates.",
    )

    _sections = field_validator("outside_strands")(_check_sections)
