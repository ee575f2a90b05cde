"""The mapping file's shape, as pydantic models (strict types, unknown keys refused).

These models check structure and value types only; the rules that relate keys to each other
(ordered thresholds, known behaviour names, a list for every rank...) live in `mappings.checks`, and
the engine never sees these models: `mappings.compiled` turns them into plain tuples first.
The key-by-key reference is docs/mapping-file.md.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from mappings.facts import PHASES, RECYCLE_GROUPS, STAGES

MAX_DAYS = 36_500  # day counts (waits, ages, due dates) up to a century: dates stay representable

SYSTEMS: tuple[str, ...] = ("hubspot", "salesforce")
DEFAULT_HUBSPOT_OPTOUT_PROPERTY = "hs_email_optout"
POLICIES: tuple[str, ...] = ("overwrite", "if_blank", "keep_manual")
FROM_NAMES: tuple[str, ...] = (
    "stage",
    "score",
    "rank",
    "recycle_group",
    "nurture_list",
    "explanation",
    "mapping_version",
    "recycle_deal_id",
)


def _one_of(what: str, known: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value not in known:
            raise PydanticCustomError(
                "unknown_name",
                'unknown {what} "{value}" (known: {known})',
                {"what": what, "value": value, "known": ", ".join(known)},
            )
        return value

    return AfterValidator(check)


def _check_source(value: str) -> str:
    system, _, prop = value.partition(".")
    if system not in SYSTEMS or not prop or prop.startswith(".") or prop.endswith("."):
        raise PydanticCustomError(
            "bad_source",
            'source "{value}" must be "hubspot.<property>" or "salesforce.<Object>.<Field>"',
            {"value": value},
        )
    if system == "salesforce" and "." not in prop:
        raise PydanticCustomError(
            "bad_source",
            'Salesforce source "{value}" must name the object too: "salesforce.<Object>.<Field>"',
            {"value": value},
        )
    return value


PhaseName = Annotated[str, _one_of("phase", PHASES)]
StageName = Annotated[str, _one_of("stage", STAGES)]
GroupName = Annotated[str, _one_of("recycle group", RECYCLE_GROUPS)]
PolicyName = Annotated[str, _one_of("write policy", POLICIES)]
FromName = Annotated[str, _one_of("value", FROM_NAMES)]
Source = Annotated[str, AfterValidator(_check_source)]
NonEmpty = Annotated[str, Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)


class SalesforcePhases(_Model):
    opportunity_stage: dict[str, PhaseName]


class Phases(_Model):
    salesforce: SalesforcePhases


class Stages(_Model):
    order: list[StageName]
    mql_score: int = Field(ge=0)
    hubspot: dict[str, dict[str, StageName]] = Field(default_factory=dict)  # property -> value -> stage
    salesforce: dict[str, dict[str, dict[str, StageName]]] = Field(default_factory=dict)  # obj -> field


class BehaviourRule(_Model):
    points: int = Field(ge=0)
    cap: int = Field(ge=1)
    source: Source
    last_event: Source | None = None
    label: NonEmpty | None = None


class Band(_Model):
    min: float
    points: int


class FitRule(_Model):
    sources: list[Source] = Field(min_length=1)
    bands: list[Band] | None = None
    values: dict[str, int] | None = None
    label: NonEmpty | None = None


class Score(_Model):
    max: int | None = Field(default=None, ge=1)
    decay_half_life_days: float | None = Field(default=None, gt=0)
    behaviour: dict[str, BehaviourRule]
    fit: dict[str, FitRule] = Field(default_factory=dict)


class Rank(_Model):
    hot: int = Field(ge=0)
    warm: int = Field(ge=0)
    cold: int = Field(ge=0)


DEFAULT_TASK_DESCRIPTION = (
    "Lost deal: {deal_name} ({deal_id})\n"
    "Stage at loss: {stage_at_loss} (phase: {phase})\n"
    "Loss reason: {loss_reason}\n"
    "Lost on: {lost_on} ({days_since_loss} days ago)\n"
    "Amount: {amount}\n"
    "Engagement since the loss: {engagement_since_loss}\n"
)


class CallTask(_Model):
    subject: NonEmpty
    description: str = DEFAULT_TASK_DESCRIPTION
    due_days: int = Field(ge=0, le=MAX_DAYS)


class Recycle(_Model):
    wait_days: int = Field(ge=0, le=MAX_DAYS)
    max_age_days: int = Field(ge=1, le=MAX_DAYS)
    high: list[PhaseName]
    low: list[PhaseName]
    promote_on: list[str] = Field(default_factory=list)
    exclude_loss_reasons: list[str] = Field(default_factory=list)
    call_task: CallTask


class NurtureList(_Model):
    salesforce_campaign: str = Field(min_length=1, max_length=80)  # Campaign.Name holds 80 characters
    hubspot_list: NonEmpty
    email: bool


class Nurture(_Model):
    lists: dict[str, NurtureList]
    groups: dict[GroupName, str] = Field(default_factory=dict)  # recycle group -> list key ("" = none)


class FieldMap(_Model):
    from_: FromName = Field(alias="from")
    policy: PolicyName


class Fields(_Model):
    salesforce: dict[str, dict[str, FieldMap]] = Field(default_factory=dict)  # object -> field -> map
    hubspot: dict[str, dict[str, FieldMap]] = Field(default_factory=dict)


class OptOut(_Model):
    sources: list[Source] = Field(default_factory=list)
    # the HubSpot contact property holding the contact's own email opt-out (the sync layer's flag)
    hubspot_property: NonEmpty = DEFAULT_HUBSPOT_OPTOUT_PROPERTY


class MappingFile(_Model):
    """A whole mapping file."""

    version: int = Field(ge=1)
    phases: Phases
    stages: Stages
    score: Score
    rank: Rank
    recycle: Recycle
    nurture: Nurture
    fields: Fields
    optout: OptOut = Field(default_factory=OptOut)


SECTIONS: dict[str, type[_Model]] = {
    "phases": Phases,
    "stages": Stages,
    "score": Score,
    "rank": Rank,
    "recycle": Recycle,
    "nurture": Nurture,
    "fields": Fields,
    "optout": OptOut,
}
