"""The planner: desired values + what leadsync last wrote + what the systems hold now -> a write plan.

Pure: no I/O, no clock. The runner gives it, per person, the desired field values (each with its
write policy and, when known, the system's current value), the desired list memberships and call
tasks, plus a `PlanState` read from the state store; it returns a `WritePlan` holding only what must
change ("write only what changed"), what was deliberately skipped and why, and a reason per change.

Field policies (values are compared in canonical form, see `canonical`), when the desired value
differs from the current one:
- overwrite: write. With the current value unknown: write unless the last written value is the
  desired one.
- if_blank: write only if the current value is blank, else skip ("not blank"). With the current
  value unknown: skip (it cannot be known to be blank).
- keep_manual: skip when the current value differs from what leadsync last wrote ("changed by
  hand"), or when leadsync never wrote the field and it is not blank; else write. With the current
  value unknown: as overwrite (a manual change cannot be seen: give current values for these fields).

When the current value already equals the desired one nothing is written; if leadsync's record of
it is missing or different, the target is listed in `WritePlan.adopted` so the runner records it
(no API call): e.g. after a crash between a write and its checkpoint.

Lists: a person's desired memberships are compared with the memberships leadsync manages for that
person's records: missing ones are added, managed ones no longer desired are removed (a list move is
one add and one remove). Opted-out people are never added to an email list (`email_lists`); a
managed membership of theirs on an email list is removed.

Tasks: one per cycle key; a cycle key with a recorded task (or planned twice) gets no second one.
A cycle key whose loss was recorded under its former key (the lost date was the CloseDate before
leadsync read it from stage history) counts as recorded when that task was created on or after the
day the deal entered closed-lost: such a task was made for this loss (`StateStore.recorded_cycles`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from connectors.base import BatchSizes, CallTask, FieldUpdate, ListChange, Scalar
from sync.run.plan_model import (
    POLICIES,
    UNKNOWN,
    FieldTarget,
    ListTarget,
    PersonDesired,
    PlannedChange,
    Policy,
    Skipped,
    TaskTarget,
    WritePlan,
    _estimate,
    _Shape,
    _shape,
    _Unknown,
)
from sync.state.records import FieldKey, MembershipKey, PlanState

__all__ = [
    "POLICIES", "UNKNOWN", "BatchSizes", "FieldKey", "FieldTarget", "ListTarget",
    "MembershipKey", "PersonDesired", "PlanState", "PlanSummary", "PlannedChange", "Policy", "Skipped",
    "TaskTarget", "WritePlan", "canonical", "decide", "decide_with_pending", "plan",
]


# --------------------------------------------------------------------------- comparison

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def canonical(value: Scalar | _Unknown) -> str | None:
    """The comparable form of a value as either system reports it: None for blank (None, ""),
    "true"/"false" for booleans, numbers without a trailing ".0" (HubSpot gives "42", Salesforce 42.0),
    other text stripped."""
    if value is None or isinstance(value, _Unknown):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    text = str(value).strip()
    if not text:
        return None
    low = text.lower()
    if low in ("true", "false"):
        return low
    if _NUMBER.fullmatch(text):
        return _number(float(text))
    return text


# The planner compares three values per field target, and most values recur (groups, ranks, scores):
# typed, so True, 1 and 1.0 stay apart.
_canonical = lru_cache(maxsize=8_192, typed=True)(canonical)


def _number(x: float) -> str:
    if math.isfinite(x) and x.is_integer() and abs(x) < 1e16:
        return str(int(x))
    return repr(x)


def _show(value: Scalar | _Unknown) -> str:
    return _shown(canonical(value))


def _shown(c: str | None) -> str:
    """A canonical value as reasons show it."""
    if c is None:
        return "(blank)"
    return f"'{c[:40]}…'" if len(c) > 40 else f"'{c}'"


Decision = Literal["write", "noop", "adopt", "skip"]


def decide(t: FieldTarget, last_written: Mapping[FieldKey, Scalar]) -> tuple[Decision, str]:
    """What to do with one field target, and why (see the module docstring's table)."""
    return _decide(t, t.key, last_written)


def _decide(t: FieldTarget, key: FieldKey, last_written: Mapping[FieldKey, Scalar], *,
            quiet: bool = False) -> tuple[Decision, str]:
    """`decide` with the target's key given (the planner computes it once per target); each value is
    brought to canonical form once (canonical forms are canonical: `_shown` needs no second pass).
    `quiet`: no reason for "noop" and "adopt" (the planner keeps reasons of writes and skips only)."""
    if t.policy not in POLICIES:
        raise ValueError(f"unknown write policy {t.policy!r} for {t.system}.{t.object}.{t.field}")
    want = _canonical(t.value)
    has_last = key in last_written
    last = _canonical(last_written[key]) if has_last else None
    name = f"{t.field}"
    if not isinstance(t.current, _Unknown):
        cur = _canonical(t.current)
        if cur == want:
            if has_last and last == want:
                return "noop", "" if quiet else f"{name} already {_shown(want)}"
            return "adopt", "" if quiet else f"{name} already {_shown(want)} in {t.system}; recording it"
        if t.policy == "if_blank" and cur is not None:
            return "skip", (f"{name} not blank ({_shown(cur)}); if_blank leaves it "
                            f"(would write {_shown(want)})")
        if t.policy == "keep_manual" and has_last and cur != last:
            return "skip", (f"{name} changed by hand: leadsync wrote {_shown(last)}, now {_shown(cur)}; "
                            f"keep_manual leaves it (would write {_shown(want)})")
        if t.policy == "keep_manual" and not has_last and cur is not None:
            return "skip", (f"{name} holds {_shown(cur)}, not written by leadsync; "
                            f"keep_manual leaves it (would write {_shown(want)})")
        return "write", f"{name}: {_shown(cur)} → {_shown(want)}"
    if has_last and last == want:
        return "noop", "" if quiet else f"{name} already written as {_shown(want)}"
    if t.policy == "if_blank":
        why = "leadsync filled it before" if has_last else "current value unknown"
        return "skip", f"{name}: {why}; if_blank does not overwrite (would write {_shown(want)})"
    before = f"last written {_shown(last)}" if has_last else "never written"
    return "write", f"{name}: {before} → {_shown(want)}"


def decide_with_pending(t: FieldTarget, last_written: Mapping[FieldKey, Scalar],
                        pending: Mapping[FieldKey, Scalar]) -> tuple[Decision, str]:
    """`decide`, knowing what an earlier run died writing: when the system holds exactly that value,
    the value is leadsync's own (the write landed, its checkpoint did not), never a hand edit."""
    return _decide_with_pending(t, t.key, last_written, pending)


def _decide_with_pending(t: FieldTarget, key: FieldKey, last_written: Mapping[FieldKey, Scalar],
                         pending: Mapping[FieldKey, Scalar], *, quiet: bool = False) -> tuple[Decision, str]:
    if pending and key in pending and not isinstance(t.current, _Unknown):
        sent = _canonical(pending[key])
        if _canonical(t.current) == sent:
            if sent == _canonical(t.value):
                return "adopt", (f"{t.field} already {_show(t.value)} (written by an interrupted run); "
                                 "recording it")
            return _decide(t, key, {key: pending[key]}, quiet=quiet)
    return _decide(t, key, last_written, quiet=quiet)


# --------------------------------------------------------------------------- planning


def _with_note(reason: str, note: str | None) -> str:
    return f"{reason} ({note})" if note else reason


def plan(people: Iterable[PersonDesired], state: PlanState, *,
         email_lists: Collection[tuple[str, str]] = ()) -> WritePlan:
    """Plan the writes for these people. `email_lists` holds (system, list_name) of every list that
    sends email (opted-out people are never added to one)."""
    last = state.last_written
    managed: dict[tuple[str, str], set[str]] = {}
    for system, list_name, rid in state.memberships:
        managed.setdefault((system, rid), set()).add(list_name)
    email = set(email_lists)
    recorded = set(state.recorded_tasks)

    updates: dict[tuple[str, str], dict[str, dict[str, Scalar]]] = {}
    lists: dict[str, list[ListChange]] = {}
    tasks: dict[str, list[CallTask]] = {}
    adopted: list[FieldTarget] = []
    skipped: list[Skipped] = []
    changes: list[PlannedChange] = []
    seen_fields: set[FieldKey] = set()

    pending = state.pending
    unsure: dict[tuple[str, str], set[str]] = {}
    for system, list_name, rid in state.uncertain:
        unsure.setdefault((system, rid), set()).add(list_name)

    for p in people:
        for t in p.fields:
            key = t.key
            if key in seen_fields:
                skipped.append(Skipped("field", t.system, t.object, t.record_id, p.key,
                                       "a second target for the same field in one plan (first one kept)",
                                       t.field))
                continue
            seen_fields.add(key)
            what, reason = _decide_with_pending(t, key, last, pending, quiet=True)
            if what == "write":
                reason = _with_note(reason, t.note)
                updates.setdefault((t.system, t.object), {}).setdefault(t.record_id, {})[t.field] = t.value
                changes.append(PlannedChange("field", t.system, t.object, t.record_id, p.key, reason, t.field,
                                             t.value))
            elif what == "adopt":
                adopted.append(t)
            elif what == "skip":
                skipped.append(Skipped("field", t.system, t.object, t.record_id, p.key,
                                       _with_note(reason, t.note), t.field))

        scope = set(p.records) or {(t.system, t.record_id) for t in p.fields}
        desired: dict[tuple[str, str], set[str]] = {}
        notes: dict[MembershipKey, str | None] = {}
        for lt in p.lists:
            if p.opted_out and (lt.system, lt.list_name) in email:
                skipped.append(Skipped("list_add", lt.system, lt.list_name, lt.record_id, p.key,
                                       f"opted out of email: never added to email list '{lt.list_name}'"))
                continue
            scope.add((lt.system, lt.record_id))
            desired.setdefault((lt.system, lt.record_id), set()).add(lt.list_name)
            notes.setdefault((lt.system, lt.list_name, lt.record_id), lt.note)
        for system, rid in sorted(scope):
            want = desired.get((system, rid), set())
            have = managed.get((system, rid), set())
            doubt = unsure.get((system, rid), set())  # an earlier run died changing these: say it again
            for list_name in sorted((want - have) | (want & doubt)):
                lists.setdefault(system, []).append(ListChange(list_name, rid, "add"))
                changes.append(PlannedChange("list_add", system, list_name, rid, p.key, _with_note(
                    f"add to '{list_name}'", notes.get((system, list_name, rid)))))
            for list_name in sorted((have - want) | (doubt - want)):
                why = ("opted out of email" if p.opted_out and (system, list_name) in email
                       else "no longer assigned to it")
                lists.setdefault(system, []).append(ListChange(list_name, rid, "remove"))
                changes.append(PlannedChange("list_remove", system, list_name, rid, p.key,
                                             f"remove from '{list_name}': {why}"))
            managed[(system, rid)] = set(want)

        for tt in p.tasks:
            key = tt.task.cycle_key
            if key in recorded:
                continue
            recorded.add(key)
            tasks.setdefault(tt.system, []).append(tt.task)
            owner = tt.task.owner_id or "(none)"
            changes.append(PlannedChange("task", tt.system, key, tt.task.contact_id, p.key,
                                         f"call task for owner {owner}: {tt.task.subject}"))

    return WritePlan(
        field_updates={k: tuple(FieldUpdate(k[1], rid, vals) for rid, vals in recs.items())
                       for k, recs in updates.items()},
        list_changes={k: tuple(v) for k, v in lists.items()},
        tasks={k: tuple(v) for k, v in tasks.items()},
        adopted=tuple(adopted), skipped=tuple(skipped), changes=tuple(changes))


# --------------------------------------------------------------------------- summaries


@dataclass
class PlanSummary:
    """Totals over the plans of many chunks of people (the runner plans a chunk at a time), with a
    sample of changes and skips for `--dry-run` output."""

    sample_size: int = 20
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    sample: list[PlannedChange] = field(default_factory=list)
    skipped_sample: list[Skipped] = field(default_factory=list)
    _shape: _Shape = field(default_factory=_Shape)

    def add(self, p: WritePlan) -> None:
        for system, c in p.counts().items():
            self.counts.setdefault(system, Counter()).update(c)
        self._shape.add(_shape(p))
        room = self.sample_size - len(self.sample)
        if room > 0:
            self.sample.extend(p.changes[:room])
        room = self.sample_size - len(self.skipped_sample)
        if room > 0:
            self.skipped_sample.extend(p.skipped[:room])

    def estimate_api_calls(self, sizes: Mapping[str, BatchSizes]) -> dict[str, int]:
        """Write calls per system with the connectors' `write_sizes` (see `WritePlan.estimate_api_calls`)."""
        return _estimate(self._shape, sizes)

    def to_dict(self, sizes: Mapping[str, BatchSizes]) -> dict[str, Any]:
        """JSON-ready: counts per system, estimated API calls (with the connectors' `write_sizes`), and
        the samples with their reasons."""
        return {
            "counts": {k: dict(v) for k, v in sorted(self.counts.items())},
            "estimated_api_calls": self.estimate_api_calls(sizes),
            "sample": [{"kind": c.kind, "system": c.system, "target": c.target, "record_id": c.record_id,
                        "field": c.field, "reason": c.reason} for c in self.sample],
            "skipped": [{"kind": x.kind, "system": x.system, "target": x.target, "record_id": x.record_id,
                         "field": x.field, "reason": x.reason} for x in self.skipped_sample],
        }
