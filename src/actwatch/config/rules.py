"""The matching rules an editor reads and edits: the Act, strands, themes, announcement types."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field, field_validator

from actwatch.config.types import Slug, StrictModel
from actwatch.core import provisions

Cue = Annotated[str, Field(min_length=1)]


def _check_sections(values: list[str]) -> list[str]:
    for value in values:
        provisions.parse_spans(value.strip())  # BadReference (a ValueError) names the value
    return [value.strip() for value in values]


class ActConfig(StrictModel):
    name: str = Field(min_length=1)
    short_name: str = Field(min_length=1, description="The name as the bulletin's title uses it.")
    citation: str
    legislation_id: str = Field(pattern=r"^[a-z]+/\d{4}/\d+$")
    royal_assent: date | None = None
    introduced: date | None = Field(
        default=None,
        description="When the Bill was introduced: news published before it is rarely about the"
        " Act (a signal for the matcher, not a rule).",
    )
    aliases: list[Cue] = []
    commencement_power: str | None = Field(
        default=None, description="The section under which commencement regulations are made."
    )


class StrandConfig(StrictModel):
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    sections: list[str] = Field(
        default=[], description="Sections of the Act that belong to the strand (commencements)."
    )
    cues: list[Cue] = Field(
        min_length=1,
        description="The strand's own vocabulary: one of them is enough to make an item relevant.",
    )
    programmes: list[Cue] = Field(
        default=[], description="Policy programmes that implement the strand: as strong as cues."
    )
    supporting_cues: list[Cue] = Field(
        default=[],
        description="Words too common to decide relevance: they tag the strand on an item that is"
        " relevant anyway, and several of them together (with context) can make it uncertain.",
    )
    exclusions: list[Cue] = Field(
        default=[], description="Phrases whose words never count as this strand's cues."
    )

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
        default=False,
        description="An instrument of this Act takes one of these types (by cues, else the last).",
    )
    alternative_numbers: list[str] = Field(
        default=[],
        description="legislation.gov.uk alternative number series that imply this type"
        " (C for commencement).",
    )
    tense_sensitive: bool = Field(
        default=False,
        description="Only done events count: a cue after a future or modal word (will, set to)"
        " is planned news, not this type (commencement: 'will come into force').",
    )
    statutory: bool = Field(
        default=False,
        description="Only the Act's own provisions can have this type: the item must name the Act,"
        " one of its sections, or a strand with sections (a trust 'taking over' is not one).",
    )
    complaint_sensitive: bool = Field(
        default=False,
        description="A cue in a sentence of complaint ('a funding shortfall') is not this type.",
    )


class Thresholds(StrictModel):
    relevant: float = Field(default=0.6, ge=0, le=1)
    uncertain: float = Field(default=0.3, ge=0, le=1)


class PublisherConfig(StrictModel):
    domains: list[str] = Field(min_length=1, description="Link hosts (and their subdomains).")
    strands: list[Slug] = Field(
        default=[], description="Strands the publisher is itself evidence of (its own news)."
    )


class JurisdictionConfig(StrictModel):
    """A place the Act does not cover: its publishers, its legislation and its names."""

    domains: list[str] = Field(default=[], description="Link hosts of its governments and bodies.")
    legislation: list[str] = Field(
        default=[], description="legislation.gov.uk document types of its legislation (wsi, ssi)."
    )
    cues: list[Cue] = Field(default=[], description="Names of the place and its institutions.")
    shared: list[Cue] = Field(
        default=[],
        description="Phrases naming the place together with England (England and Wales): not"
        " evidence of another jurisdiction.",
    )


class ModalityConfig(StrictModel):
    """Words that change what a type cue announces (see the matcher's docstring)."""

    future: list[Cue] = Field(
        default=[], description="Just before a cue: the event is planned, not done (will, set to)."
    )
    negation: list[Cue] = Field(
        default=[], description="Just before a cue: the event is denied (not, no longer)."
    )
    complaint: list[Cue] = Field(
        default=[],
        description="In the cue's sentence: the cue is complained of, not announced (shortfall).",
    )
    subordinate: list[Cue] = Field(
        default=[],
        description="Words opening a subordinate clause (following, after, which): a cue after"
        " one in its sentence weighs less than the main clause's.",
    )


class MatchingConfig(StrictModel):
    aliases: dict[str, list[Cue]] = Field(
        default={},
        description="Other ways of writing a cue (acronyms, spelled-out forms, renamed bodies):"
        " wherever the cue appears in the rules, its aliases play the same role.",
    )
    publishers: dict[Slug, PublisherConfig] = Field(
        default={}, description="Publishers whose own news is evidence of strands."
    )
    jurisdictions: dict[Slug, JurisdictionConfig] = Field(
        default={}, description="Places the Act does not cover (Wales, Scotland, ...)."
    )
    modality: ModalityConfig = ModalityConfig()
    home_cues: list[Cue] = Field(
        default=[],
        description="Names of the place the Act covers (England, English): another jurisdiction"
        " named beside them is not the item's subject.",
    )
    negative_cues: list[Cue] = Field(
        default=[], description="Phrases that make an item irrelevant whatever else it says."
    )
    context_cues: list[Cue] = Field(
        default=[],
        description="The field's vocabulary (children's social care, looked-after children): adds"
        " weight to other evidence, never relevant on its own.",
    )
    reject_other_acts: bool = Field(
        default=True,
        description="An instrument whose title names another Act (and not this one) is rejected.",
    )
    outside_strands: list[str] = Field(
        default=[],
        description="Sections of the Act that belong to no strand (relevant, no strand).",
    )
    thresholds: Thresholds = Thresholds()
    learned_scorer: bool = Field(
        default=True,
        description="Combine the rules with the learned scorer (trained on the shipped labelled"
        " sets and the editor's decisions); off: the rules alone decide.",
    )
    fetch_instruments: bool = Field(
        default=True,
        description="Read a commencement instrument's text on legislation.gov.uk for its dates.",
    )

    _sections = field_validator("outside_strands")(_check_sections)
