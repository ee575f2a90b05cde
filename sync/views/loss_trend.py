"""The loss analysis by quarter: deals lost and their amount per calendar quarter of the lost date, by
phase group (the phase at loss in the mapping's `high` or `low` phases, or neither) and by loss reason
(the most frequent reasons, the rest together), from one SQL aggregation over the `deals` table's loss
columns with the report's filter of the lost deals. Deals without a lost date are counted apart."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from mappings import Mapping
from sync.state import schema as s
from sync.state.store import StateStore
from sync.views.loss_labels import phase_label, reason_label
from sync.views.report import Tally

TOP_REASONS = 5
OTHER = ""  # the reasons past the top ones, together (no reason label is blank)
NEITHER = "neither"  # a phase in neither `high` nor `low` (or unmapped)
PHASE_GROUPS = ("high", "low", NEITHER)


@dataclass(frozen=True)
class QuarterRow:
    year: int
    quarter: int  # 1..4
    cells: dict[str, Tally]  # series -> deals and amount
    total: Tally

    def cell(self, series: str) -> Tally:
        return self.cells.get(series, Tally())


@dataclass(frozen=True)
class TrendTable:
    series: tuple[str, ...]  # column order
    rows: list[QuarterRow]  # every quarter from the first to the last with a loss, in order


@dataclass(frozen=True)
class LossTrend:
    by_group: TrendTable
    by_reason: TrendTable
    undated: Tally  # lost deals without a lost date (in no quarter)


def phase_group(stage_at_loss: str | None, mapping: Mapping) -> str:
    phase = phase_label(stage_at_loss, mapping)
    return "high" if phase in mapping.recycle.high else "low" if phase in mapping.recycle.low else NEITHER


def _quarter(month: Any) -> Any:
    return sa.case((month <= 3, 1), (month <= 6, 2), (month <= 9, 3), else_=4)


def loss_trend(store: StateStore, mapping: Mapping, top: int = TOP_REASONS) -> LossTrend:
    d = s.deals.c
    year = sa.extract("year", d.lost_on)
    quarter = _quarter(sa.extract("month", d.lost_on))
    stmt = (sa.select(year.label("y"), quarter.label("q"), d.stage_at_loss, d.loss_reason,
                      sa.func.count().label("n"), sa.func.coalesce(sa.func.sum(d.amount), 0).label("amount"))
            .where(d.state == "lost", d.is_deleted.is_(False))
            .group_by(year, quarter, d.stage_at_loss, d.loss_reason))
    by_group: dict[tuple[int, int], dict[str, Tally]] = defaultdict(dict)
    by_reason: dict[tuple[int, int], dict[str, Tally]] = defaultdict(dict)
    reasons: dict[str, Tally] = {}
    undated = Tally()
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    for r in rows:
        n, amount = int(r.n), float(r.amount)
        if r.y is None:
            undated = _plus(undated, n, amount)
            continue
        key = (int(r.y), int(r.q))
        group, reason = phase_group(r.stage_at_loss, mapping), reason_label(r.loss_reason)
        by_group[key][group] = _plus(by_group[key].get(group, Tally()), n, amount)
        by_reason[key][reason] = _plus(by_reason[key].get(reason, Tally()), n, amount)
        reasons[reason] = _plus(reasons.get(reason, Tally()), n, amount)
    ranked = sorted(reasons, key=lambda x: (-reasons[x].deals, -reasons[x].amount, x))
    kept = ranked[:top]
    folded: dict[tuple[int, int], dict[str, Tally]] = {}
    for key, cells in by_reason.items():
        out: dict[str, Tally] = {}
        for reason, t in cells.items():
            name = reason if reason in kept else OTHER
            out[name] = _plus(out.get(name, Tally()), t.deals, t.amount)
        folded[key] = out
    series = tuple(kept) + ((OTHER,) if len(ranked) > top else ())
    return LossTrend(_table(PHASE_GROUPS, by_group), _table(series, folded), undated)


def _plus(t: Tally, n: int, amount: float) -> Tally:
    return Tally(t.deals + n, t.amount + amount)


def _table(series: tuple[str, ...], cells: dict[tuple[int, int], dict[str, Tally]]) -> TrendTable:
    if not cells:
        return TrendTable(series, [])
    first, last = min(cells), max(cells)
    rows, (y, q) = [], first
    while (y, q) <= last:
        got = cells.get((y, q), {})
        total = Tally(sum(t.deals for t in got.values()), sum(t.amount for t in got.values()))
        rows.append(QuarterRow(y, q, got, total))
        y, q = (y + 1, 1) if q == 4 else (y, q + 1)
    return TrendTable(series, rows)
