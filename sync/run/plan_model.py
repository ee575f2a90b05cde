"""The planner's data: its inputs (what leadsync wants), its output (`WritePlan`) and API-call
estimates. See `sync.run.plan` for the rules."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Final, Literal

from connectors.base import BatchSizes, CallTask, FieldUpdate, ListChange, Scalar
from sync.state.records import FieldKey

Policy = Literal["overwrite", "if_blank", "keep_manual"]
POLICIES: tuple[str, ...] = ("overwrite", "if_blank", "keep_manual")


class _Unknown:
    """The system's current value was not read (distinct from a known blank value)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()


# --------------------------------------------------------------------------- input


@dataclass(frozen=True, slots=True)
class FieldTarget:
    """The value leadsync wants in one field of one record, with the field's write policy."""

    system: str
    object: str
    record_id: str
    field: str
    value: Scalar
    policy: Policy = "overwrite"
    current: Scalar | _Unknown = UNKNOWN
    note: str | None = None  # the caller's context, appended to the reason ("rank warm -> hot")

    @property
    def key(self) -> FieldKey:
        return (self.system, self.object, self.record_id, self.field)


@dataclass(frozen=True, slots=True)
class ListTarget:
    """A list (HubSpot list / Salesforce campaign) a record should be on."""

    system: str
    list_name: str
    record_id: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TaskTarget:
    system: str
    task: CallTask
    # the cycle key this loss had while the lost date was the CloseDate, and the lost date now:
    # a task recorded under `former_key` on or after `lost_on` is this cycle's task
    # (StateStore.recorded_cycles)
    former_key: str | None = None
    lost_on: date | None = None


@dataclass(frozen=True, slots=True)
class PersonDesired:
    """Everything leadsync wants for one person.

    `records` lists every (system, record_id) of the person: managed memberships of these records
    that are not in `lists` are removed. When empty, it is taken from the records in `fields` and
    `lists` (so a person with neither keeps their memberships: give `records` to clear them).
    """

    key: str
    fields: tuple[FieldTarget, ...] = ()
    lists: tuple[ListTarget, ...] = ()
    tasks: tuple[TaskTarget, ...] = ()
    opted_out: bool = False
    records: tuple[tuple[str, str], ...] = ()

    def touched(self) -> set[tuple[str, str]]:
        """Every (system, record_id) the plan may read state for: `records` and those of the targets."""
        return (set(self.records) | {(t.system, t.record_id) for t in self.fields}
                | {(lt.system, lt.record_id) for lt in self.lists})


# --------------------------------------------------------------------------- output


ChangeKind = Literal["field", "list_add", "list_remove", "task"]


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """One change with a short human reason (for `--dry-run`). `target` is the object type for a
    field, the list name for a list change, the cycle key for a task."""

    kind: ChangeKind
    system: str
    target: str
    record_id: str
    person_key: str
    reason: str
    field: str | None = None
    value: Scalar = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A change leadsync chose not to make (reported, never silent)."""

    kind: Literal["field", "list_add"]
    system: str
    target: str
    record_id: str
    person_key: str
    reason: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class WritePlan:
    field_updates: Mapping[tuple[str, str], tuple[FieldUpdate, ...]] = field(default_factory=dict)
    list_changes: Mapping[str, tuple[ListChange, ...]] = field(default_factory=dict)
    tasks: Mapping[str, tuple[CallTask, ...]] = field(default_factory=dict)
    adopted: tuple[FieldTarget, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    changes: tuple[PlannedChange, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to write and nothing to record (skipped items may remain: they are reports)."""
        return not (self.field_updates or self.list_changes or self.tasks or self.adopted)

    def batches(self, system: str, object_type: str, size: int) -> list[list[FieldUpdate]]:
        """The field updates of one system/object cut into batches of `size` (the connector's
        `write_sizes.fields`)."""
        ups = list(self.field_updates.get((system, object_type), ()))
        return [ups[i:i + size] for i in range(0, len(ups), size)]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per system: records and fields to update, list adds and removes, tasks, skipped, adopted."""
        out: dict[str, Counter[str]] = {}
        for (system, _obj), ups in self.field_updates.items():
            c = out.setdefault(system, Counter())
            c["records"] += len(ups)
            c["fields"] += sum(len(u.values) for u in ups)
        for system, changes in self.list_changes.items():
            c = out.setdefault(system, Counter())
            for ch in changes:
                c["list_adds" if ch.op == "add" else "list_removes"] += 1
        for system, tasks in self.tasks.items():
            out.setdefault(system, Counter())["tasks"] += len(tasks)
        for s in self.skipped:
            out.setdefault(s.system, Counter())["skipped"] += 1
        for a in self.adopted:
            out.setdefault(a.system, Counter())["adopted"] += 1
        keys = ("records", "fields", "list_adds", "list_removes", "tasks", "skipped", "adopted")
        return {system: {k: c[k] for k in keys} for system, c in sorted(out.items())}

    def estimate_api_calls(self, sizes: Mapping[str, BatchSizes]) -> dict[str, int]:
        """Write calls per system if batches are full, with each system's connector `write_sizes`
        (a system missing from `sizes` counts one call per record). A lower bound: list/campaign
        lookups, describe checks, reads of campaign member ids for removals and retries are not
        counted."""
        return _estimate(_shape(self), sizes)


# --------------------------------------------------------------------------- estimates and summaries


@dataclass
class _Shape:
    """How many records per write endpoint: enough to estimate API calls."""

    fields: Counter[tuple[str, str]] = field(default_factory=Counter)  # (system, object) -> records
    members: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (system, list, op)
    tasks: Counter[str] = field(default_factory=Counter)

    def add(self, other: _Shape) -> None:
        self.fields.update(other.fields)
        self.members.update(other.members)
        self.tasks.update(other.tasks)


def _shape(p: WritePlan) -> _Shape:
    out = _Shape()
    for key, ups in p.field_updates.items():
        out.fields[key] += len(ups)
    for system, changes in p.list_changes.items():
        for ch in changes:
            out.members[(system, ch.list_name, ch.op)] += 1
    for system, tasks in p.tasks.items():
        out.tasks[system] += len(tasks)
    return out


def _estimate(shape: _Shape, sizes: Mapping[str, BatchSizes]) -> dict[str, int]:
    calls: Counter[str] = Counter()

    def size(system: str) -> BatchSizes:
        return sizes.get(system) or BatchSizes(1, 1, 1)

    for (system, _obj), n in shape.fields.items():
        calls[system] += math.ceil(n / size(system).fields)
    for (system, _list, _op), n in shape.members.items():
        calls[system] += math.ceil(n / size(system).list_members)
    for system, n in shape.tasks.items():
        calls[system] += math.ceil(n / size(system).tasks)
    return dict(sorted(calls.items()))
