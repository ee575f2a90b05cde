"""The records the state store gives back (plain frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from connectors.base import Scalar

FieldKey = tuple[str, str, str, str]  # (system, object, record_id, field): one field of one record
MembershipKey = tuple[str, str, str]  # (system, list_name, record_id): one record on one list


@dataclass(frozen=True, slots=True)
class TaskCycle:
    """The recycle cycle a call task is wanted for: its key, and the key it had while lost dates came
    from CloseDate (a task recorded under that key on or after `lost_on` is this cycle's task)."""

    key: str
    former_key: str | None = None
    lost_on: date | None = None


@dataclass(frozen=True, slots=True)
class PlanState:
    """What the state store knows for the people being planned (more is harmless): the planner's input
    besides what leadsync wants. `StateStore.plan_state` returns it for a chunk in one call.

    `pending` and `uncertain` come from write intents left by a run that died with a batch in flight
    (see sync.state.pending): the value it was writing to a field, and memberships it was changing.
    """

    last_written: Mapping[FieldKey, Scalar] = field(default_factory=dict)
    memberships: Collection[MembershipKey] = ()
    recorded_tasks: Collection[str] = ()
    pending: Mapping[FieldKey, Scalar] = field(default_factory=dict)
    uncertain: Collection[MembershipKey] = ()


@dataclass(frozen=True, slots=True)
class WrittenValue:
    """The value leadsync last wrote to one field of one record (a confirmed write)."""

    system: str
    object: str
    record_id: str
    field: str
    value: Scalar
    written_at: datetime
    mapping_version: int
    run_id: int | None


@dataclass(frozen=True, slots=True)
class Membership:
    """A list membership leadsync created and therefore manages."""

    system: str
    list_name: str
    record_id: str
    added_at: datetime
    run_id: int | None


@dataclass(frozen=True, slots=True)
class RecordedTask:
    """The task created for one recycle cycle (so a cycle never gets a second task)."""

    cycle_key: str
    system: str
    task_id: str
    created_at: datetime
    run_id: int | None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run in the history. `error` never holds secrets (it is redacted before it is stored)."""

    id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: Mapping[str, Any] = field(default_factory=dict)
    api_calls: Mapping[str, Any] = field(default_factory=dict)
    mapping_version: int | None = None
    error: str | None = None
    pid: int | None = None
    host: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def calls_per_system(self) -> dict[str, int]:
        """System -> the run's API calls to it (summed over its endpoints), in system order."""
        return {system: sum(endpoints.values()) if isinstance(endpoints, Mapping) else int(endpoints or 0)
                for system, endpoints in sorted(self.api_calls.items())}


@dataclass(frozen=True, slots=True)
class NewFailure:
    """A record that failed at one stage of a run (identity, map or write)."""

    system: str
    record_key: str
    stage: str
    reason: str


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """A failed record as stored: one row per (system, record_key, stage); `attempts` counts the runs
    (or retries) that hit it since it was first seen or last reopened."""

    id: int
    run_id: int | None
    system: str
    record_key: str
    stage: str
    reason: str
    attempts: int
    first_seen: datetime
    last_seen: datetime
    resolved: bool
    resolved_at: datetime | None
