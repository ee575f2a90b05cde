"""Loss analysis (失注分析) and stage KPIs, computed from the local state store only (no API calls).

    build_report(store, mapping) -> Report              Report.to_dict() for --json
    build_report(store, mapping, now, people_per_chunk=...) -> Report      the what-if at `now` (slow)

Inputs: the deal and HubSpot contact snapshots the last runs stored, the list memberships leadsync
recorded, and the run history. Two ways to the same numbers:
- without `now` (the default, `leadsync report`): what the last runs decided, aggregated in the
  database (`sync.views.report_sql`): each person's standing as the last run that wrote and read
  everything recorded it (`assignments`), joined to the lost deal snapshots. Its cost grows with the
  number of distinct stages, groups, reasons and lists, not of people (seconds at 1,000,000 people).
  Quarantined records and duplicate groups are the counts of the last run (not a dry run) that counted
  them. `Report.now` is `reported_at` (the time of the report).
- with `now` (`leadsync report --now`): the what-if. Every person is resolved (`sync.run.people`, a
  range of people at a time) and assigned at `now` with the mapping engine, exactly as a run would, so
  the numbers are what a run at `now` would write (time-based rules such as the waiting period move
  people). It decides everyone again: minutes at 1,000,000 people.
Right after a run, both give the same report for that run's `now` (tests/sync/views/test_report.py).

What it counts
- people: per shared stage (every stage of the mapping's order, zeros included; they sum to the
  people total) and per rank; quarantined records and duplicate groups as identity reports them.
- lost deals (every stored, not deleted deal in state "lost", also those without people): a cross
  table of the buying-process phase at loss (from `[phases]`; a stage missing there or unknown is
  "unmapped") × loss reason (blank → "(none)"), with deal counts and amounts; the loss reasons
  ranked by deals (then amount), each with its most common phase and the recycle groups of the
  people whose recycle decision was taken on a deal lost for that reason.
- recycle groups (high/low/waiting/excluded/review): people, the amount of the lost deals they were
  grouped on, how many re-engaged since the loss (a behaviour rule's last event on a later day than
  the loss date: `mappings.recycle.engagement_since`, the same test the call task uses) and, for
  `high`, how many were promoted from a low phase by such engagement.
- nurture lists per system: members the assignments want (people and records) against the
  memberships leadsync manages in the store (what it confirmed writing). The engine already leaves an
  opted-out person (either system's flag) off a list that sends email (`Assignment.nurture_list` is
  None), as the run's plan does, so both paths count the members a run wants.
- open failures per system and error code (`leadsync failures` lists them one by one).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from connectors.base import LostDeal
from mappings import Mapping
from mappings.digest import rule_sources
from mappings.engine import assign
from mappings.facts import PHASES, RECYCLE_GROUPS, Assignment, PersonFacts
from mappings.recycle import engagement_since
from sync.run import people
from sync.run.backfill import KIND as BACKFILL_KIND
from sync.run.identity import Person, Resolution, to_person_facts
from sync.state.records import FailureRecord
from sync.state.store import StateStore
from sync.views.loss_labels import UNMAPPED, phase_label, reason_label
from sync.views.report_sql import StoredCounts, managed_counts, stored_counts

SYSTEMS = ("salesforce", "hubspot")


def _money(amount: float) -> float:
    return round(amount, 2)


@dataclass(frozen=True)
class Tally:
    """A number of deals and their summed amount (deals without an amount add 0)."""

    deals: int = 0
    amount: float = 0.0

    def add(self, amount: float | None) -> Tally:
        return Tally(self.deals + 1, self.amount + (amount or 0.0))

    def to_dict(self) -> dict[str, Any]:
        return {"deals": self.deals, "amount": _money(self.amount)}


@dataclass(frozen=True)
class LossReason:
    """One loss reason, with where deals were lost for it and where its people are now."""

    reason: str
    deals: int
    amount: float
    share: float  # of all lost deals, 0..1
    top_phase: str
    excluded: bool  # listed in recycle.exclude_loss_reasons
    people_by_group: dict[str, int]  # recycle group -> people grouped on a deal lost for this reason

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "deals": self.deals, "amount": _money(self.amount),
                "share": round(self.share, 4), "top_phase": self.top_phase, "excluded": self.excluded,
                "people_by_group": dict(self.people_by_group)}


@dataclass(frozen=True)
class LossTable:
    """Lost deals by phase at loss × loss reason."""

    phases: tuple[str, ...]  # row order: the mapping's phases in buying order, then "unmapped"
    reasons: tuple[str, ...]  # column order: most deals first
    cells: dict[tuple[str, str], Tally]  # only non-empty cells
    total: Tally

    def cell(self, phase: str, reason: str) -> Tally:
        return self.cells.get((phase, reason), Tally())

    def by_phase(self) -> dict[str, Tally]:
        return {p: _sum(t for (ph, _), t in self.cells.items() if ph == p) for p in self.phases}

    def by_reason(self) -> dict[str, Tally]:
        return {r: _sum(t for (_, rs), t in self.cells.items() if rs == r) for r in self.reasons}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.total.to_dict(),
            "phases": list(self.phases),
            "reasons": list(self.reasons),
            "cells": [{"phase": p, "reason": r, **self.cells[(p, r)].to_dict()}
                      for p in self.phases for r in self.reasons if (p, r) in self.cells],
            "by_phase": {p: t.to_dict() for p, t in self.by_phase().items()},
        }


@dataclass(frozen=True)
class GroupStats:
    group: str
    people: int
    lost_amount: float  # summed amount of the lost deals these people were grouped on
    re_engaged: int  # engagement after the loss date
    promoted: int  # low phase, moved to high by engagement after the loss (high group only)

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "people": self.people, "lost_amount": _money(self.lost_amount),
                "re_engaged": self.re_engaged, "promoted": self.promoted}


@dataclass(frozen=True)
class ListStats:
    """One nurture list in one system: wanted by the assignments vs managed in the store."""

    system: str
    list_name: str
    keys: tuple[str, ...]  # nurture list keys of the mapping with this name in this system
    email: bool
    desired_people: int
    desired_records: int  # a person with two records of the system is two members
    managed: int  # memberships leadsync recorded (confirmed writes)

    @property
    def difference(self) -> int:
        """Records still to add (positive) or to remove (negative) on the next run."""
        return self.desired_records - self.managed

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "list_name": self.list_name, "keys": list(self.keys),
                "email": self.email, "desired_people": self.desired_people,
                "desired_records": self.desired_records, "managed": self.managed,
                "difference": self.difference}


@dataclass(frozen=True)
class LastRun:
    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    mapping_version: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status,
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat() if self.finished_at else None,
                "mapping_version": self.mapping_version}


@dataclass(frozen=True)
class Report:
    now: datetime
    mapping_version: int
    mapping_file: str
    last_run: LastRun | None
    people: int
    quarantined: int
    duplicates: int
    stages: dict[str, int]  # shared stage -> people (mapping order; zeros included)
    ranks: dict[str, int]  # rank -> people (hot first)
    lost: LossTable
    loss_reasons: tuple[LossReason, ...]  # most deals first
    groups: tuple[GroupStats, ...]  # in RECYCLE_GROUPS order
    not_recycled: int  # people in no recycle group
    lists: tuple[ListStats, ...] = field(default_factory=tuple)
    # open failures per (system, error code), most first: what an admin has to fix in each org
    failures: tuple[tuple[str, str, int], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "mapping": {"version": self.mapping_version, "file": self.mapping_file},
            "last_run": self.last_run.to_dict() if self.last_run else None,
            "people": {"total": self.people, "quarantined": self.quarantined,
                       "duplicates": self.duplicates, "by_stage": dict(self.stages),
                       "by_rank": dict(self.ranks)},
            "lost_deals": self.lost.to_dict(),
            "loss_reasons": [r.to_dict() for r in self.loss_reasons],
            "recycle_groups": [g.to_dict() for g in self.groups],
            "not_recycled": self.not_recycled,
            "nurture_lists": [s.to_dict() for s in self.lists],
            "open_failures": [{"system": sy, "code": c, "records": n} for sy, c, n in self.failures],
        }


# --------------------------------------------------------------------------- building


def _sum(tallies: Iterable[Tally]) -> Tally:
    deals, amount = 0, 0.0
    for t in tallies:
        deals, amount = deals + t.deals, amount + t.amount
    return Tally(deals, amount)


def _loss_table(deals: Iterable[LostDeal], mapping: Mapping) -> LossTable:
    cells: dict[tuple[str, str], Tally] = {}
    for d in deals:
        key = (phase_label(d.stage_at_loss, mapping), reason_label(d.loss_reason))
        cells[key] = cells.get(key, Tally()).add(d.amount)
    return _table_of(cells, mapping)


def _table_of(cells: dict[tuple[str, str], Tally], mapping: Mapping) -> LossTable:
    used = {p for p, _ in cells}
    mapped = set(mapping.phases.values())
    known = [p for p in PHASES if p in used or p in mapped]
    extra = sorted(used - set(known) - {UNMAPPED})  # phases a mapping may name beyond PHASES
    phases = tuple(known + extra + ([UNMAPPED] if UNMAPPED in used else []))
    per_reason: dict[str, Tally] = defaultdict(Tally)
    for (_, r), t in cells.items():
        per_reason[r] = _sum([per_reason[r], t])
    reasons = tuple(sorted(per_reason, key=lambda r: (-per_reason[r].deals, -per_reason[r].amount, r)))
    return LossTable(phases, reasons, cells, _sum(cells.values()))


def _loss_reasons(table: LossTable, mapping: Mapping,
                  groups_by_reason: dict[str, Counter[str]]) -> tuple[LossReason, ...]:
    out = []
    total = table.total.deals
    for reason, tally in table.by_reason().items():
        per_phase = [(table.cell(p, reason).deals, -i, p) for i, p in enumerate(table.phases)]
        top = max(per_phase)[2] if per_phase else UNMAPPED
        groups = groups_by_reason.get(reason, Counter())
        out.append(LossReason(
            reason, tally.deals, tally.amount, tally.deals / total if total else 0.0, top,
            mapping.recycle.excludes(reason),
            {g: groups[g] for g in RECYCLE_GROUPS if groups[g]}))
    return tuple(out)


def assignments(resolution: Resolution, mapping: Mapping,
                now: datetime) -> Iterator[tuple[Person, PersonFacts, Assignment]]:
    """Every resolved person with the engine's facts and assignment at `now` (sorted by key)."""
    sources = rule_sources(mapping)
    for key in sorted(resolution.people):
        person = resolution.people[key]
        facts = to_person_facts(person, sources)
        yield person, facts, assign(facts, mapping, now)


def _everyone(store: StateStore, mapping: Mapping, now: datetime, found: Counter[str],
              size: int) -> Iterator[tuple[Person, PersonFacts, Assignment]]:
    """`assignments` of every person, a range of people at a time; counts people and duplicates."""
    for part in people.iter_people(store, optout_property=mapping.hubspot_optout_property, size=size):
        found["people"] += len(part.people)
        found["duplicates"] += len(part.duplicates)
        yield from assignments(part, mapping, now)


def _lost_deal(person: Person, deal_id: str | None) -> LostDeal | None:
    """The person's lost deal with this id (their deals exclude deleted ones)."""
    return next((d for d in person.deals if d.opportunity_id == deal_id and d.state == "lost"), None)


def _last_run(store: StateStore) -> LastRun | None:
    # a history backfill decides no one: the snapshot's counts are the last sync's
    runs = [r for r in store.list_runs(limit=20) if r.status != "dry_run" and r.kind != BACKFILL_KIND]
    if not runs:
        return None
    r = runs[0]
    return LastRun(r.id, r.kind, r.status, r.started_at, r.finished_at, r.mapping_version)


def build_report(store: StateStore, mapping: Mapping, now: datetime | None = None, *,
                 people_per_chunk: int = people.PEOPLE_RANGE,
                 reported_at: datetime | None = None) -> Report:
    """Without `now`: the report of what the last runs decided, aggregated in the database. With
    `now`: what a run at `now` would decide, everyone assigned again from the stored snapshots and
    memberships (reads the store only; one range of `people_per_chunk` people in memory at a time,
    `sync.run.people`)."""
    if now is None:
        return _stored_report(store, mapping, reported_at or datetime.now(UTC))
    table = _loss_table((d for d in store.iter_deals(include_deleted=False) if d.state == "lost"), mapping)
    stages: Counter[str] = Counter()
    ranks: Counter[str] = Counter()
    group_people: Counter[str] = Counter()
    group_amount: dict[str, float] = defaultdict(float)
    re_engaged: Counter[str] = Counter()
    promoted = 0
    groups_by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    # (system, list name) -> [people, records] the assignments put on it
    wanted: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    found: Counter[str] = Counter()
    optout = mapping.hubspot_optout_property
    for person, facts, a in _everyone(store, mapping, now, found, people_per_chunk):
        stages[a.stage] += 1
        ranks[a.rank] += 1
        if a.nurture_list is not None:
            for system, ids in (("salesforce", person.salesforce_contact_ids),
                                ("hubspot", person.hubspot_contact_ids)):
                if ids:
                    counts = wanted[(system, mapping.list_name(a.nurture_list, system))]
                    counts[0] += 1
                    counts[1] += len(ids)
        group = a.recycle_group
        if group is None:
            continue
        group_people[group] += 1
        deal = _lost_deal(person, a.deal_id)
        if deal is None:
            continue
        group_amount[group] += deal.amount or 0.0
        groups_by_reason[reason_label(deal.loss_reason)][group] += 1
        if deal.lost_date is not None and engagement_since(mapping, deal.lost_date, facts.values.get):
            re_engaged[group] += 1
        phase = phase_label(deal.stage_at_loss, mapping)
        if group == "high" and phase not in mapping.recycle.high and phase in mapping.recycle.low:
            promoted += 1

    return Report(
        now=now,
        mapping_version=mapping.version,
        mapping_file=mapping.filename,
        last_run=_last_run(store),
        people=found["people"],
        quarantined=sum(1 for _ in people.quarantined(store, optout_property=optout)),
        duplicates=found["duplicates"],
        stages=_ordered(stages, mapping.stage_order),
        ranks=_ordered(ranks, tuple(r for r, _ in mapping.ranks)),
        lost=table,
        loss_reasons=_loss_reasons(table, mapping, groups_by_reason),
        groups=tuple(GroupStats(g, group_people[g], group_amount[g], re_engaged[g],
                                promoted if g == "high" else 0) for g in RECYCLE_GROUPS),
        not_recycled=found["people"] - sum(group_people.values()),
        lists=_lists(store, mapping, wanted),
        failures=_failure_codes(store),
    )


def _stored_report(store: StateStore, mapping: Mapping, at: datetime) -> Report:
    """The report of what the last runs recorded (`sync.views.report_sql`), in the database."""
    got: StoredCounts = stored_counts(store)
    stages: Counter[str] = Counter()
    ranks: Counter[str] = Counter()
    group_people: Counter[str] = Counter()
    for stage, rank, group, n in got.standings:
        stages[stage] += n
        ranks[rank] += n
        if group is not None:
            group_people[group] += n
    group_amount: dict[str, float] = defaultdict(float)
    re_engaged: Counter[str] = Counter()
    promoted = 0
    groups_by_reason: dict[str, Counter[str]] = defaultdict(Counter)
    for group, stage, reason, n, amount, reengaged in got.grouped_deals:
        group_amount[group] += amount
        groups_by_reason[reason_label(reason)][group] += n
        re_engaged[group] += reengaged
        phase = phase_label(stage, mapping)
        if group == "high" and phase not in mapping.recycle.high and phase in mapping.recycle.low:
            promoted += n
    wanted: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for key, sf_people, sf_records, hs_people, hs_records in got.lists:
        for system, n_people, n_records in (("salesforce", sf_people, sf_records),
                                            ("hubspot", hs_people, hs_records)):
            if n_people:
                counts = wanted[(system, mapping.list_name(key, system))]
                counts[0] += n_people
                counts[1] += n_records
    cells: dict[tuple[str, str], Tally] = {}
    for stage, reason, n, amount in got.lost_deals:
        key = (phase_label(stage, mapping), reason_label(reason))
        was = cells.get(key, Tally())
        cells[key] = Tally(was.deals + n, was.amount + amount)
    table = _table_of(cells, mapping)
    total = sum(stages.values())
    counted = _last_counts(store)
    return Report(
        now=at, mapping_version=mapping.version, mapping_file=mapping.filename, last_run=_last_run(store),
        people=total, quarantined=int(counted.get("quarantined", 0)),
        duplicates=int(counted.get("duplicates", 0)),
        stages=_ordered(stages, mapping.stage_order),
        ranks=_ordered(ranks, tuple(r for r, _ in mapping.ranks)),
        lost=table, loss_reasons=_loss_reasons(table, mapping, groups_by_reason),
        groups=tuple(GroupStats(g, group_people[g], group_amount[g], re_engaged[g],
                                promoted if g == "high" else 0) for g in RECYCLE_GROUPS),
        not_recycled=total - sum(group_people.values()),
        lists=_lists(store, mapping, wanted),
        failures=_failure_codes(store),
    )


def _last_counts(store: StateStore) -> dict[str, Any]:
    """The counts of the last run (not a dry run) that counted quarantined records and duplicates."""
    for r in store.list_runs(limit=20):
        if (r.status != "dry_run" and r.finished_at is not None and "quarantined" in r.counts
                and "duplicates" in r.counts):
            return dict(r.counts)
    return {}


_FAILURE_CODE = re.compile(r"^[^:]+: ([A-Z][A-Z0-9_]+): ")  # the writer's "<what>: <CODE>: <message>"


def failure_code(failure: FailureRecord) -> str:
    """A failure's error code: the writer's code in its reason ("<what>: <CODE>: <message>"), else its
    stage (identity failures carry no code)."""
    match = _FAILURE_CODE.match(failure.reason)
    return match.group(1) if match else failure.stage


def _failure_codes(store: StateStore) -> tuple[tuple[str, str, int], ...]:
    """Open failures counted per (system, error code); failures without a code (identity) by stage."""
    counts: Counter[tuple[str, str]] = Counter()
    for f in store.list_failures():
        counts[(f.system, failure_code(f))] += 1
    return tuple((system, code, n) for (system, code), n in
                 sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def _ordered(counts: Counter[str], order: tuple[str, ...]) -> dict[str, int]:
    out = {k: counts[k] for k in order}
    out.update(sorted((k, v) for k, v in counts.items() if k not in out))
    return out


def _lists(store: StateStore, mapping: Mapping,
           wanted: dict[tuple[str, str], list[int]]) -> tuple[ListStats, ...]:
    """Every nurture list of the mapping per system, then lists the store still manages members of
    that the mapping no longer names (keys empty: the next run removes those members)."""
    out = []
    for system in SYSTEMS:
        managed = managed_counts(store, system)
        by_name: dict[str, list[str]] = defaultdict(list)
        for key in mapping.nurture_lists:
            by_name[mapping.list_name(key, system)].append(key)
        for name in sorted(managed.keys() - by_name.keys()):
            by_name[name] = []
        for name, keys in by_name.items():
            people, records = wanted.get((system, name), (0, 0))
            email = any(mapping.nurture_lists[k].email for k in keys)
            out.append(ListStats(system, name, tuple(keys), email, people, records, managed[name]))
    return tuple(out)
