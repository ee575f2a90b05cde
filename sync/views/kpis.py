"""Stage KPIs over time, computed in the database from the stage history (`stage_moves`,
`recycle_cycles`, `call_tasks`) and the deal snapshots: no person is loaded into Python, so the
report's cost grows with the number of cohorts, not of people.

    stage_kpis(store, mapping, since=None, until=None) -> StageKpis        .to_dict() for --json

Sections (each over moves or cycles whose date is in [since, until)):
- conversion: per cohort (the month people entered a stage) and stage of the Demand Waterfall (the
  mapping's `stages.order`, without the `recycle` stage): entries into it (a person who enters the same
  stage twice in a month counts twice), how many moved on from it to a stage further along the order
  (their next stage move, whenever it came), and the rate. Someone who went back or into recycling
  first counts when they enter again. People found in a stage by leadsync's first run (cause "first")
  have no entry date: those are not entries.
- velocity: per cohort and stage, the whole days from entering a stage to the next stage move: median
  and p90 (nearest rank: the smallest value with at least that share of the people at or below it),
  over the moves out of it; those still in it are counted apart.
Conversion and velocity read `stage_flow`, which every recorded move keeps up to date: their cohorts
are months, so --since/--until select the cohorts from the month of --since whose first day is before
--until.
- second pipeline: recycle cycles by the group first worked in (high, low; waiting while still waiting),
  by loss reason and by phase at loss, and in total: cycles, re-engaged, promoted (low to high), called
  (a call task created), completed (that task closed in Salesforce, as the last run read it back:
  `call_tasks.closed_at`), new deals opened after the loss and their amount, deals won and their
  amount, lost again, and how many of the new deals came through the account only (opened on the lost
  deal's account without the person as a contact role). A new deal is counted once per row however
  many cycles reached it (several recycled people of one account, several contact roles on one deal):
  the deal counts and amounts are of DISTINCT deals, so a deal shared by people in two groups is in
  both groups' rows and once in the total.
- loss analysis over time: lost deals (not deleted) per quarter of their lost date, phase at loss ×
  loss reason, deals and amount.
A rate or median over fewer than MIN_PEOPLE people is not given (`None`, "too little data") instead of
a number that would mislead.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from mappings import Mapping
from sync.state import schema as s
from sync.state.store import StateStore
from sync.views.loss_labels import NO_REASON, UNMAPPED, phase_label, reason_label
from sync.views.report_sql import for_reports

MIN_PEOPLE = 5
TOO_LITTLE = "too little data"


@dataclass(frozen=True)
class Conversion:
    cohort: str  # "2026-03": the month people entered `stage`
    stage: str
    entered: int  # entries into the stage
    converted: int  # of them, the next stage move went further along the order
    rate: float | None  # converted / entered; None when fewer than MIN_PEOPLE entered, or the last stage


@dataclass(frozen=True)
class Velocity:
    cohort: str
    stage: str
    left: int  # people who entered in the cohort and have moved on
    still_in: int
    median_days: int | None  # whole days; None when fewer than MIN_PEOPLE left
    p90_days: int | None


@dataclass(frozen=True)
class PipelineRow:
    by: str  # "group" | "reason" | "phase"
    value: str
    recycled: int
    reengaged: int
    promoted: int
    called: int
    completed: int  # of the called, cycles whose task Salesforce holds as closed (read back by the runs)
    new_deals: int
    new_amount: float
    won_deals: int
    won_amount: float
    lost_again: int
    new_via_account: int = 0  # of new_deals, those no cycle of the row reached through a contact role


@dataclass(frozen=True)
class LossCell:
    quarter: str  # "2026-Q1"
    phase: str
    reason: str
    deals: int
    amount: float


@dataclass(frozen=True)
class StageKpis:
    since: datetime | None
    until: datetime | None
    waterfall: tuple[str, ...]
    conversion: list[Conversion]
    velocity: list[Velocity]
    pipeline: list[PipelineRow]
    losses: list[LossCell]

    def to_dict(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None,
                "min_people": MIN_PEOPLE, "waterfall": list(self.waterfall),
                "conversion": [asdict(r) for r in self.conversion],
                "velocity": [asdict(r) for r in self.velocity],
                "second_pipeline": [asdict(r) for r in self.pipeline],
                "losses_by_quarter": [asdict(r) for r in self.losses]}


def stage_kpis(store: StateStore, mapping: Mapping, *, since: datetime | None = None,
               until: datetime | None = None) -> StageKpis:
    waterfall = tuple(st for st in mapping.stage_order if st != "recycle")
    with store.engine.connect() as conn:
        for_reports(conn)
        conversion, velocity = _stage_sections(conn, waterfall, since, until)
        pipeline = _pipeline(conn, since, until)
        losses = _losses(conn, mapping, since, until)
    return StageKpis(since, until, waterfall, conversion, velocity, pipeline, losses)


# --------------------------------------------------------------------------- SQL helpers


def _in_period(col: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    out = []
    if since is not None:
        out.append(col >= since)
    if until is not None:
        out.append(col < until)
    return out


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None (too little data) when fewer than MIN_PEOPLE are in the whole."""
    return round(part / whole, 4) if whole >= MIN_PEOPLE else None


# --------------------------------------------------------------------------- conversion and velocity


def _stage_sections(conn: Connection, waterfall: Sequence[str], since: datetime | None,
                    until: datetime | None) -> tuple[list[Conversion], list[Velocity]]:
    """From `stage_flow` (kept with the moves): entries per cohort and stage by where they went next and
    after how many days. Cohorts are months: those from the month of `since` whose first day is before
    `until`."""
    f = s.stage_flow.c
    conds = [f.stage.in_(waterfall), f.n > 0]
    if since is not None:
        conds.append(f.cohort >= since.astimezone(UTC).strftime("%Y-%m"))
    if until is not None:
        conds.append(f.cohort <= (until - timedelta(microseconds=1)).astimezone(UTC).strftime("%Y-%m"))
    order = {st: i for i, st in enumerate(waterfall)}
    entered: dict[tuple[str, str], int] = defaultdict(int)
    moved_on: dict[tuple[str, str], int] = defaultdict(int)
    still: dict[tuple[str, str], int] = defaultdict(int)
    hist: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in conn.execute(sa.select(f.cohort, f.stage, f.next_stage, f.days, f.n).where(*conds)):
        key, n = (r.cohort, r.stage), int(r.n)
        entered[key] += n
        if r.days < 0:
            still[key] += n
            continue
        hist[key][int(r.days)] += n
        if order.get(r.next_stage, -1) > order[r.stage]:
            moved_on[key] += n
    conversion, velocity = [], []
    for key in sorted(entered, key=lambda k: (k[0], _pos(waterfall, k[1]))):
        last = key[1] == waterfall[-1]  # nothing further along: no conversion to give
        conversion.append(Conversion(key[0], key[1], entered[key], moved_on[key],
                                     None if last else rate(moved_on[key], entered[key])))
        buckets = sorted(hist[key].items()) if key in hist else []
        left = sum(n for _, n in buckets)
        enough = left >= MIN_PEOPLE
        velocity.append(Velocity(key[0], key[1], left, still.get(key, 0),
                                 _nearest_rank(buckets, left, 0.5) if enough else None,
                                 _nearest_rank(buckets, left, 0.9) if enough else None))
    return conversion, velocity


def _nearest_rank(buckets: Sequence[tuple[int, int]], total: int, share: float) -> int:
    """The smallest value with at least `share` of the `total` values at or below it."""
    need, seen = math.ceil(share * total), 0
    for value, n in buckets:
        seen += n
        if seen >= need:
            return value
    return buckets[-1][0]


def _pos(order: Sequence[str], stage: str) -> int:
    return order.index(stage) if stage in order else len(order)


# --------------------------------------------------------------------------- second pipeline


def _pipeline(conn: Connection, since: datetime | None, until: datetime | None) -> list[PipelineRow]:
    """Per cell (and in total): the cycles' counts, and the new deals' counts and amounts per distinct
    deal (a deal reached by several cycles of the cell is one deal)."""
    c, t = s.recycle_cycles.c, s.call_tasks.c
    called = sa.exists().where(t.cycle_key == c.task_cycle_key)
    completed = sa.exists().where(t.cycle_key == c.task_cycle_key, t.closed_at.is_not(None))
    one = sa.literal(1)
    cycles = (sa.func.count().label("recycled"),
              sa.func.count(c.reengaged_at).label("reengaged"),
              sa.func.count(c.promoted_at).label("promoted"),
              sa.func.sum(sa.case((called, one), else_=0)).label("called"),
              sa.func.sum(sa.case((completed, one), else_=0)).label("completed"))
    period = _in_period(c.entered_at, since, until)
    dims = (("group", c.first_group), ("reason", c.loss_reason), ("phase", c.phase))
    # the cycles' counts in ONE pass grouped by all three (a few hundred groups), summed per dimension
    # and in total here; the new deals per dimension in SQL, each distinct deal once per cell
    sums: dict[tuple[str, Any], list[int]] = {}
    for r in conn.execute(sa.select(*(col.label(by) for by, col in dims), *cycles).where(*period)
                          .group_by(*(col for _, col in dims))):
        counts = (r.recycled, r.reengaged, r.promoted, r.called, r.completed)
        for by in (*(by for by, _ in dims), "total"):
            total = sums.setdefault((by, "all" if by == "total" else r._mapping[by]), [0] * len(counts))
            for i, v in enumerate(counts):
                total[i] += int(v or 0)
    out: list[PipelineRow] = []
    for by, col in (*dims, ("total", None)):
        deals = {r.value: r for r in conn.execute(_distinct_deals(col, period))}
        part = []
        for (dim, key), n in sums.items():
            if dim != by:
                continue
            d = deals.get(key)
            part.append(PipelineRow(
                by, "all" if col is None else _label(by, key), n[0], n[1], n[2], n[3], n[4],
                int(d.new_deals) if d else 0, float(d.new_amount or 0) if d else 0.0,
                int(d.won_deals or 0) if d else 0, float(d.won_amount or 0) if d else 0.0,
                int(d.lost_again or 0) if d else 0, int(d.via_account or 0) if d else 0))
        out.extend(sorted(part, key=lambda p: (-p.recycled, p.value)))
    if all(p.recycled == 0 for p in out):
        return []
    return out


def _distinct_deals(col: Any, period: Sequence[Any]) -> sa.Select[Any]:
    """The new deals of the cycles in `period` by `col` (None: all together), each deal once: its
    amount, won or lost (the largest any of its cycles holds: they are copies of one snapshot, taken
    at the run each cycle last saw it), and whether only the account led to it."""
    c = s.recycle_cycles.c
    one = sa.literal(1)
    value = sa.literal("all") if col is None else col
    per_deal = (sa.select(value.label("value"), c.new_deal_id,
                          sa.func.max(c.new_deal_amount).label("amount"),
                          sa.func.max(sa.case((c.new_deal_state == "won", one), else_=0)).label("won"),
                          sa.func.max(sa.case((c.new_deal_state == "lost", one), else_=0)).label("lost"),
                          sa.func.max(sa.case((c.new_deal_via == "account", 0), else_=1)).label("contact"))
                .where(c.new_deal_id.is_not(None), *period)
                .group_by(*([] if col is None else [col]), c.new_deal_id).subquery("per_deal"))
    x = per_deal.c
    return (sa.select(x.value, sa.func.count().label("new_deals"),
                      sa.func.sum(x.amount).label("new_amount"), sa.func.sum(x.won).label("won_deals"),
                      sa.func.sum(sa.case((x.won == 1, x.amount), else_=0)).label("won_amount"),
                      sa.func.sum(x.lost).label("lost_again"),
                      sa.func.sum(1 - x.contact).label("via_account"))
            .group_by(x.value))


def _label(by: str, value: str | None) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return NO_REASON if by == "reason" else UNMAPPED
    return value


# --------------------------------------------------------------------------- losses over time


def _losses(conn: Connection, mapping: Mapping, since: datetime | None,
            until: datetime | None) -> list[LossCell]:
    d = s.deals.c
    lost = sa.select(sa.cast(d.lost_on, sa.String).label("lost_on"), d.stage_at_loss.label("stage"),
                     d.loss_reason.label("reason"), d.amount).where(
        d.state == "lost", d.is_deleted.is_(False)).subquery("lost")
    x = lost.c
    conds = [x.lost_on.is_not(None)]
    if since is not None:
        conds.append(x.lost_on >= since.date().isoformat())
    if until is not None:
        conds.append(x.lost_on < until.date().isoformat())
    month = sa.func.substr(x.lost_on, 1, 7)
    rows = conn.execute(sa.select(month.label("month"), x.stage, x.reason, sa.func.count().label("deals"),
                                  sa.func.coalesce(sa.func.sum(x.amount), 0).label("amount"))
                        .where(*conds).group_by(month, x.stage, x.reason))
    cells: dict[tuple[str, str, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for r in rows:
        phase, why = phase_label(r.stage, mapping), reason_label(r.reason)
        cell = cells[(_quarter(r.month), phase, why)]
        cell[0] += int(r.deals)
        cell[1] += float(r.amount)
    ordered = sorted(cells.items(), key=lambda kv: (kv[0][0], -kv[1][0], kv[0][1:]))
    return [LossCell(q, p, why, int(n), round(amt, 2)) for (q, p, why), (n, amt) in ordered]


def _quarter(month: str) -> str:
    year, mm = month.split("-")
    return f"{year}-Q{(int(mm) - 1) // 3 + 1}"


