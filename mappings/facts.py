"""What the engine takes and what it returns. Pure data: no I/O, no clock.

The sync layer builds `PersonFacts` from both systems; the engine turns them into an `Assignment`.
Values are passed as the systems give them (HubSpot: strings; Salesforce: JSON scalars); the engine
coerces each one to what its rule needs and never raises on a malformed value (the rule does not
fire and the explanation says why).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, NamedTuple

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
    closed_on: date | None = None  # CloseDate of a won deal (the engine falls back to lost_on)
    # how lost_on was found: "history" (the day the deal entered a closed-lost stage, from the SFA's
    # stage history) or "close_date" (the forecast CloseDate: no stage history); None = not said
    lost_on_source: str | None = None
    close_date: date | None = None  # the deal's CloseDate: an earlier leadsync took it as the lost date


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


class _ReasonFields(NamedTuple):
    rule: str
    points: float
    detail: str | tuple[str, tuple[object, ...]]  # the text, or (str.format template, args)


class Reason(_ReasonFields):
    """One rule that fired, with its points (0 for rules that only decide), in an admin's words.

    Use it like a frozen record: `Reason(rule, points, text)`, `.rule`, `.points`, `.text`;
    equality, hashing, iteration, `_asdict()` and pickling all see (rule, points, text).
    It is a named tuple whose text may be stored as a template plus arguments and formatted only
    when read: the engine makes several reasons per person and formatting them eagerly would cost
    more than the rest of the engine (see benchmarks/bench_engine.py). `Reason.lazy()` makes one.
    """

    __slots__ = ()

    def __new__(cls, rule: str, points: float, text: str | tuple[str, tuple[object, ...]]) -> Reason:
        return tuple.__new__(cls, (rule, points, text))

    @classmethod
    def lazy(cls, rule: str, points: float, template: str, *args: object) -> Reason:
        """A reason whose text is `template.format(*args)`, formatted when first read."""
        return tuple.__new__(cls, (rule, points, (template, args)))

    @property
    def text(self) -> str:
        detail = tuple.__getitem__(self, 2)
        if type(detail) is str:
            return detail
        template, args = detail
        return template.format(*args)

    def __iter__(self):  # type: ignore[override]
        yield tuple.__getitem__(self, 0)
        yield tuple.__getitem__(self, 1)
        yield self.text

    def __getitem__(self, index):  # type: ignore[no-untyped-def,override]
        return tuple(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Reason(rule={self.rule!r}, points={self.points!r}, text={self.text!r})"

    def _asdict(self) -> dict[str, object]:  # type: ignore[override]
        return {"rule": self.rule, "points": self.points, "text": self.text}


class Deferred(tuple):  # type: ignore[type-arg]
    """`(function, *args)`: a field value computed by `function(*args)` when the field is first read.

    The engine stores one in `Assignment.reasons` and in `TaskSpec.subject`/`.description` so that it
    decides without putting anything in words; reading the field (explain(), field_value(), the
    writers) builds the value once and keeps it. Readers never see a Deferred, only the value."""

    __slots__ = ()

    def __call__(self) -> Any:
        return self[0](*self[1:])


def deferred(function: Callable[..., Any], *args: object) -> Deferred:
    return tuple.__new__(Deferred, (function, *args))


def _built_when_read(cls: type, name: str) -> Any:
    """Replace the slot of dataclass field `name` by a property that computes a Deferred value on the
    first read and stores the result. The dataclass machinery (init, eq, hash, repr, asdict, replace,
    pickling) goes through the property, so it only ever sees the computed value. Returns the slot,
    for the engine's fast constructor."""
    slot = cls.__dict__[name]
    get_slot, set_slot = slot.__get__, slot.__set__

    def read(self: object) -> Any:
        value = get_slot(self, cls)
        if type(value) is Deferred:
            value = value()
            set_slot(self, value)
        return value

    setattr(cls, name, property(read, set_slot, doc=f"{cls.__name__}.{name}, computed when first read"))
    return slot


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """The call task to create for the high recycle group.

    `subject` and `description` are filled in from the mapping's templates when first read: only
    the tasks a run actually creates (or shows) are put in words."""

    cycle_key: str  # unique per person per recycle cycle (person key + deal id + lost date)
    deal_id: str
    owner_id: str | None
    subject: str
    description: str
    due_on: date
    # the key the same loss had when the lost date was the CloseDate (None when it is the same key):
    # a task recorded under it on or after `lost_on` is this loss's task (sync never makes a second)
    former_cycle_key: str | None = None
    lost_on: date | None = None


@dataclass(frozen=True, slots=True)
class Assignment:
    """What the engine decided for one person (mappings.engine.assign); explain() puts it in words.

    `reasons` (the rules that fired, in words) is built when first read, from the same facts,
    mapping and time the assignment was decided with: PersonFacts are frozen and their `values`
    must not be changed after `assign` (the sync layer builds a new dict per person)."""

    key: str
    stage: str
    score: int
    rank: str
    recycle_group: str | None
    nurture_list: str | None  # key of [nurture.lists] ("hot", "recycle_low", ...), None when on no list
    task: TaskSpec | None
    mapping_version: int
    deal_id: str | None = None  # the lost deal the recycle group was decided on
    reasons: tuple[Reason, ...] = ()
    review: tuple[str, ...] = ()  # unknown native values met ("hubspot.lifecyclestage=foo")


# Built when first read (see Deferred): the engine decides without putting anything in words.
ASSIGNMENT_REASONS_SLOT = _built_when_read(Assignment, "reasons")
TASK_SUBJECT_SLOT = _built_when_read(TaskSpec, "subject")
TASK_DESCRIPTION_SLOT = _built_when_read(TaskSpec, "description")
