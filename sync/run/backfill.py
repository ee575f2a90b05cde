"""Seed the stage history from before the first run (`leadsync backfill` without --since): no API call,
only what the state store already holds.

A person's first record (cause "first") says where a run found them, not when they got there, so it is
no stage entry. For every person with a standing this turns dated facts from before that first record
into moves of cause "backfill", linked to the person's next recorded move and counted in `stage_flow`:
- HubSpot's lifecycle-stage dates (`hs_lifecyclestage_<value>_date`, kept in the contact snapshots: see
  `sync.run.stage_dates`) through the mapping's lifecyclestage table: the earliest date per shared stage
  of all their HubSpot contacts, kept only while the dates go forward along `stages.order` (a later
  stage dated before an earlier one is reported and not used);
- a recycle cycle the first run opened: the lost deal's lost day (`deals.lost_on`, from Salesforce's
  OpportunityHistory) is when they entered stage `recycle` and group `waiting`; the lost day +
  `recycle.wait_days` is when they moved to the group they were first recorded in (high or low; low
  when the first run found them promoted: the promotion is then dated by the first run, an upper
  bound). The cycle's `entered_at` is moved back to the lost day (never forward).
The last reconstructed stage continues into the first record when it is the same stage (its next move
is the person's next recorded one); when it differs, the move into the first recorded stage has no date
and the first run's time is used: an upper bound, reported.

Idempotent: people who already have backfilled moves are left alone; each range of people is one
transaction (a killed backfill leaves each person fully backfilled or untouched). People are read one
range of keys at a time, like a run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mappings import Mapping
from mappings.coerce import to_datetime
from sync.run.stage_dates import lifecycle_dates
from sync.state.history import RECYCLED, Move, day_start
from sync.state.history_backfill import BackfillBasis
from sync.state.store import StateStore

KIND = "history_backfill"  # its `runs.kind` (the windowed re-read `leadsync backfill --since` is "backfill")
RANGE = 1_000  # people per range (and per transaction)

# what could not be reconstructed, per reason: how many people (a person can have several reasons)
REASONS: dict[str, str] = {
    "no_hubspot_contact": "no HubSpot contact: Salesforce keeps no stage dates (Lead.Status has none)",
    "dates_not_read": "HubSpot contact stored before leadsync read the lifecycle-stage dates: re-read it "
                      "(`leadsync backfill --since <a date before the oldest contact>`), then backfill again",
    "no_lifecycle_dates": "no lifecycle-stage date before the first run",
    "dates_out_of_order": "a lifecycle-stage date out of waterfall order (a later stage dated before an "
                          "earlier one): not used",
    "stage_only_undated_sources": "first recorded stage comes only from hs_lead_status or Salesforce "
                                  "Lead.Status, which keep no dates",
    "mql_by_score": "first recorded as mql with no MQL date: reached by the score, which keeps no date",
    "first_stage_undated": "first recorded stage has no lifecycle-stage date before the first run",
    "gap_upper_bound": "the move into the first recorded stage is undated: dated by the first run "
                       "(an upper bound)",
    "ranks_before_first_run": "ranks before the first run (computed by leadsync; nothing keeps them)",
    "groups_before_first_run": "recycle group before the first run without a dated loss (excluded, "
                               "review, or a lost deal with no lost date)",
    "promotions_and_tasks_before_leadsync": "low → high promotions and call tasks before leadsync "
                                            "(no system keeps when they happened)",
}


@dataclass
class BackfillSummary:
    dry_run: bool
    run_id: int | None = None
    people: int = 0  # with a standing
    backfilled: int = 0  # people given reconstructed moves
    already_backfilled: int = 0
    stage_entries: int = 0
    group_entries: int = 0
    cycles_seeded: int = 0
    not_reconstructed: Counter[str] = field(default_factory=Counter)
    stages_without_date_property: list[str] = field(default_factory=list)  # lifecyclestage values

    def counts(self) -> dict[str, Any]:
        return {"people": self.people, "backfilled": self.backfilled,
                "already_backfilled": self.already_backfilled, "stage_entries": self.stage_entries,
                "group_entries": self.group_entries, "cycles_seeded": self.cycles_seeded,
                **{f"not_reconstructed.{k}": n for k, n in sorted(self.not_reconstructed.items())}}

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "run_id": self.run_id, "people": self.people,
                "backfilled": self.backfilled, "already_backfilled": self.already_backfilled,
                "stage_entries": self.stage_entries, "group_entries": self.group_entries,
                "cycles_seeded": self.cycles_seeded,
                "not_reconstructed": [{"reason": k, "people": self.not_reconstructed[k], "what": REASONS[k]}
                                      for k in REASONS if self.not_reconstructed[k]],
                "stages_without_date_property": self.stages_without_date_property}


Moves = list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class _Plan:
    moves: list[dict[str, object]]
    cycle: dict[str, object] | None
    reasons: set[str]


def backfill(store: StateStore, mapping: Mapping, *, dry_run: bool = False,
             size: int = RANGE) -> BackfillSummary:
    """Seed the history of everyone with a standing (see the module docstring). With `dry_run` nothing
    is written and no run recorded. The caller holds the run lock when not a dry run."""
    summary = BackfillSummary(dry_run=dry_run)
    if not dry_run:
        summary.run_id = store.start_run(mapping_version=mapping.version, kind=KIND)
    dates = lifecycle_dates(mapping)
    seen_props: set[str] = set()
    status, error = "failed", None
    try:
        after: str | None = None
        while keys := store.standing_keys(after, size):
            after = keys[-1]
            moves: list[dict[str, object]] = []
            cycles: list[dict[str, object]] = []
            for basis in store.backfill_basis(keys):
                summary.people += 1
                if basis.backfilled:
                    summary.already_backfilled += 1
                    continue
                plan = plan_person(basis, mapping, dates, run_id=summary.run_id, seen=seen_props)
                summary.not_reconstructed.update(plan.reasons)
                if plan.moves:
                    summary.backfilled += 1
                    summary.stage_entries += sum(1 for m in plan.moves if m["dimension"] == "stage")
                    summary.group_entries += sum(1 for m in plan.moves if m["dimension"] == "group")
                    moves.extend(plan.moves)
                if plan.cycle is not None:
                    summary.cycles_seeded += 1
                    cycles.append(plan.cycle)
            if not dry_run and (moves or cycles):
                store.write_backfill(moves, cycles)
        if seen_props:  # only known once some snapshot has the dates at all
            summary.stages_without_date_property = sorted(dates[p][0] for p in dates if p not in seen_props)
        status = "ok"
    except Exception as exc:  # recorded as the run's error, then raised
        error = str(exc)
        raise
    finally:
        if summary.run_id is not None:
            store.finish_run(summary.run_id, status=status, counts=summary.counts(), error=error)
    return summary


def plan_person(b: BackfillBasis, mapping: Mapping, dates: MappingABC[str, tuple[str, str]], *,
                run_id: int | None, seen: set[str] | None = None) -> _Plan:
    """The reconstructed moves of one person, the cycle to seed and what could not be reconstructed."""
    reasons = {"ranks_before_first_run"}
    first = b.first_stage
    if first is None or first.cause != "first":
        return _Plan([], None, reasons)
    first_at = first.at
    facts: dict[str, tuple[datetime, str]] = {}  # shared stage -> (earliest date, why in words)
    read_any = False
    for props in b.hubspot:
        for prop, (value, stage) in dates.items():
            if prop not in props:
                continue
            read_any = True
            if seen is not None:
                seen.add(prop)
            when = to_datetime(props[prop])  # ISO 8601 or epoch milliseconds
            if when is None or when >= first_at:
                continue
            if stage not in facts or when < facts[stage][0]:
                facts[stage] = (when, f"HubSpot lifecycle stage {value} since {when:%Y-%m-%d} ({prop})")
    if not b.hubspot:
        reasons.add("no_hubspot_contact")
    elif not read_any:
        reasons.add("dates_not_read")
    elif not facts:
        reasons.add("no_lifecycle_dates")

    group_moves, cycle = _recycle(b, mapping, first_at, facts, reasons, run_id)
    order = {stage: i for i, stage in enumerate(mapping.stage_order)}
    chain: list[tuple[str, datetime, str]] = []
    for stage in sorted(facts, key=lambda st: (order.get(st, len(order)), st)):
        when, why = facts[stage]
        if chain and when <= chain[-1][1]:
            reasons.add("dates_out_of_order")
            continue
        chain.append((stage, when, why))
    first_stage = first.to_value or ""
    if first_stage not in facts:  # (a date dropped as out of order is reported as that)
        lifecycle_stages = {stage for _, stage in dates.values()}
        if first_stage == "mql":
            reasons.add("mql_by_score")
        elif first_stage not in lifecycle_stages and first_stage != "recycle":
            reasons.add("stage_only_undated_sources")
        else:
            reasons.add("first_stage_undated")
    moves, bounded = _linked(b.person_key, "stage", chain, first, None, run_id, mapping.version)
    if bounded:
        reasons.add("gap_upper_bound")
    return _Plan(moves + group_moves, cycle, reasons)


def _linked(person_key: str, dimension: str, steps: list[tuple[str, datetime, str]], first: Move,
            deal_id: str | None, run_id: int | None, mapping_version: int) -> tuple[Moves, bool]:
    """`steps` (value, when, why) as moves, each linked to the next; the last one continues into the
    first record when it is the same value (its next move is the record's), else moves on to it at the
    first run's time: an upper bound (then True is returned too)."""
    moves: Moves = []
    bounded = False
    for i, (value, when, why) in enumerate(steps):
        if i + 1 < len(steps):
            nxt: tuple[str | None, datetime | None] = (steps[i + 1][0], steps[i + 1][1])
        elif value == (first.to_value or ""):
            nxt = (first.next_value, first.next_at)
        else:
            nxt = (first.to_value, first.at)
            bounded = True
            why += "; the move on is dated by the first run (an upper bound)"
        moves.append(_move(person_key, dimension, steps[i - 1][0] if i else None, value, when, run_id,
                           mapping_version, deal_id, why, nxt))
    return moves, bounded



def _recycle(b: BackfillBasis, mapping: Mapping, first_at: datetime, facts: dict[str, tuple[datetime, str]],
             reasons: set[str], run_id: int | None) -> tuple[Moves, dict[str, object] | None]:
    """A recycle cycle the first record opened, dated by its lost deal: the stage fact `recycle` at the
    lost day (added to `facts`), the group moves and the cycle to seed."""
    group = b.first_group
    if b.recycle_group is None or group is None or group.cause != "first":
        return [], None
    if (b.recycle_group not in RECYCLED or b.cycle is None or b.deal_id is None
            or group.to_value not in RECYCLED):
        reasons.add("groups_before_first_run")
        return [], None
    entered = b.cycle["entered_at"]
    if not isinstance(entered, datetime) or entered > first_at:  # opened by a later run: recorded
        return [], None
    if b.lost_on is None:
        reasons.add("groups_before_first_run")
        return [], None
    lost_at = day_start(b.lost_on)
    if lost_at >= first_at:
        return [], None
    wait = mapping.recycle.wait_days
    facts["recycle"] = (lost_at, f"Deal {b.deal_id} lost on {b.lost_on:%Y-%m-%d} (Salesforce)")
    reasons.add("promotions_and_tasks_before_leadsync")
    recorded = str(group.to_value)
    promoted = b.cycle.get("promoted_at") is not None and b.cycle["promoted_at"] <= first_at  # type: ignore[operator]
    eligible = day_start(b.lost_on + timedelta(days=wait))
    steps: list[tuple[str, datetime, str]] = [
        ("waiting", lost_at, f"Deal {b.deal_id} lost on {b.lost_on:%Y-%m-%d}: waiting {wait} days")]
    if recorded != "waiting" and eligible < first_at:
        steps.append(("low" if promoted else recorded, eligible,
                      f"{wait} days after the loss of deal {b.deal_id}"))
    # waiting, or low and promoted, when the first run found them in another group: an upper bound
    moves, _ = _linked(b.person_key, "group", steps, group, b.deal_id, run_id, mapping.version)
    return moves, {"person_key": b.person_key, "deal_id": b.deal_id, "entered_at": lost_at}


def _move(person_key: str, dimension: str, from_value: str | None, to_value: str, at: datetime,
          run_id: int | None, mapping_version: int, deal_id: str | None, why: str,
          nxt: tuple[str | None, datetime | None]) -> dict[str, object]:
    return {"person_key": person_key, "dimension": dimension, "from_value": from_value, "to_value": to_value,
            "at": at, "run_id": run_id, "mapping_version": mapping_version, "cause": "backfill",
            "deal_id": deal_id, "why": why, "next_value": nxt[0] if nxt[1] is not None else None,
            "next_at": nxt[1]}



