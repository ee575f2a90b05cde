"""What each page shows, from the same view code the CLI calls (`sync.views.report` for the snapshot,
`sync.views.kpis` for the stage history): no second copy of any count. Only presentation is added here
(bar widths, the conversion over all cohorts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mappings import Mapping
from sync.state.records import RunRecord
from sync.state.store import StateStore
from sync.views.kpis import PipelineRow, rate, stage_kpis
from sync.views.report import Report, build_report

RUNS_SHOWN = 10


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    people: int
    width: float  # percent of the widest bar
    rate: float | None  # of those who entered this stage, the share that moved further (None: too few)
    entered: int


@dataclass(frozen=True)
class Overview:
    report: Report
    funnel: list[FunnelStep]
    pipeline_total: PipelineRow | None
    runs: list[RunRecord]
    open_failures: int


def overview(store: StateStore, mapping: Mapping) -> Overview:
    report = build_report(store, mapping)  # what the last runs decided, aggregated in SQL
    kpis = stage_kpis(store, mapping)
    entered: dict[str, int] = {}
    converted: dict[str, int] = {}
    for c in kpis.conversion:
        entered[c.stage] = entered.get(c.stage, 0) + c.entered
        converted[c.stage] = converted.get(c.stage, 0) + c.converted
    widest = max(report.stages.values(), default=0) or 1
    last = kpis.waterfall[-1] if kpis.waterfall else None
    funnel = []
    for stage, people in report.stages.items():
        n = entered.get(stage, 0)
        share = rate(converted.get(stage, 0), n) if stage != last else None
        funnel.append(FunnelStep(stage, people, round(100 * people / widest, 1), share, n))
    total = next((p for p in kpis.pipeline if p.by == "total"), None)
    return Overview(report, funnel, total, store.list_runs(RUNS_SHOWN),
                    sum(n for _, _, n in report.failures))


@dataclass(frozen=True)
class HeatCell:
    deals: int
    amount: float
    level: int  # 0 (none) .. 4 (the most deals of any cell): a CSS class; the numbers are always shown


def heat_map(report: Report) -> list[tuple[str, list[HeatCell]]]:
    """`report.lost` (phase at loss × loss reason) as rows of cells, in the report's orders."""
    table = report.lost
    most = max((c.deals for c in table.cells.values()), default=0) or 1
    return [(phase, [HeatCell(c.deals, c.amount, 0 if c.deals == 0 else 1 + (3 * c.deals) // most)
                     for c in (table.cell(phase, reason) for reason in table.reasons)])
            for phase in table.phases]


def api_calls(run: RunRecord) -> dict[str, int]:
    """Calls per system of one run."""
    return run.calls_per_system


def user_rows(store: StateStore) -> list[dict[str, Any]]:
    """Names and roles (never the hashes)."""
    return [{"name": u.name, "role": u.role} for u in store.console_users()]
