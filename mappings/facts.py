"""What the engine takes and what it returns. Pure data: no I/O, no clock.

The sync layer builds `PersonFacts` from both systems; the engine turns them into an `Assignment`.
Values are passed as the systems give them (HubSpot: strings; Salesforce: JSON scalars); the engine
coerces each one to what its rule needs and never raises on a malformed value (the rule does not
fire and the explanation says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Phase = Literal["awareness", "interest", "information_gathering", "comparison", "purchase"]
PHASES: tuple[str, ...] = ("awareness", "interest", "information_gathering", "comparison", "purchase")
STAGES: tuple[str, ...] = ("inquiry", "mql", "tql", "sal", "sgl", "sql", "close", "recycle")
RANKS: tuple[str, ...] = ("hot", "warm", "cold")
RECYCLE_GROUPS: tuple[str, ...] = ("high", "low", "waiting", "excluded", "review")


@dataclass(frozen=True, slots=True)
class DealFacts:
    """One deal of a person, as the engine needs it."""

    deal_id: str
    state: Literal["lost", "won", "open"]
    stage_at_loss: str | None  # native SFA stage name before the loss
    loss_reason: str | None
    lost_on: date | None
    amount: float | None = None
    owner_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """One person (one normalized email) with everything both systems know.

    `values` is keyed "<system>.<property>" exactly as mapping files name sources, e.g.
    "hubspot.hs_email_open", "hubspot.lifecyclestage", "salesforce.Account.NumberOfEmployees".
    """

    key: str
    values: Mapping[str, object] = field(default_factory=dict)
    opted_out: bool = False
    deals: tuple[DealFacts, ...] = ()


@dataclass(frozen=True, slots=True)
class Reason:
    """One rule that fired, with its points (0 for rules that only decide), in an admin's words."""

    rule: str  # key path in the mapping file, e.g. "score.behaviour.email_open"
    points: float
    text: str


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """The call task to create for the high recycle group."""

    cycle_key: str  # unique per person per recycle cycle (person key + deal id + lost date)
    deal_id: str
    owner_id: str | None
    subject: str
    description: str
    due_on: date


@dataclass(frozen=True, slots=True)
class Assignment:
    key: str
    stage: str
    score: int
    rank: str
    recycle_group: str | None
    nurture_list: str | None  # rank key of [nurture.lists] ("hot"/"warm"/"cold"), None when on no list
    task: TaskSpec | None
    mapping_version: int
    deal_id: str | None = None  # the lost deal the recycle group was decided on
    reasons: tuple[Reason, ...] = ()
    review: tuple[str, ...] = ()  # unknown native values met ("hubspot.lifecyclestage=foo")
