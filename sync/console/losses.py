"""The loss analysis pages (失注分析): the heat map of phase at loss × loss reason with the trend by
quarter (`/losses`), and the deals behind one cell of the heat map (`/losses/cell?phase=…&reason=…`),
a page at a time. The numbers come from the report (`sync.views.report`, as `leadsync report`), the
trend from `sync.views.loss_trend` and the cell's deals from `sync.views.loss_drill`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mappings import Mapping
from sync.console import pages
from sync.state.store import StateStore
from sync.views.loss_drill import CellPage, cell_deals
from sync.views.loss_trend import LossTrend, loss_trend
from sync.views.report import Report, build_report

Handler = Callable[[Request], Any]


class Console(Protocol):
    store: StateStore
    mapping: Mapping

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response: ...


@dataclass(frozen=True)
class LossesView:
    report: Report
    rows: list[tuple[str, list[pages.HeatCell]]]
    trend: LossTrend


def losses_view(store: StateStore, mapping: Mapping) -> LossesView:
    report = build_report(store, mapping)
    return LossesView(report, pages.heat_map(report), loss_trend(store, mapping))


def routes(console: Console, guard: Callable[[Handler], Handler]) -> list[Route]:
    """`/losses` and `/losses/cell`, each behind the console's sign-in check (`guard`)."""

    async def losses(request: Request) -> Response:
        view = await run_in_threadpool(losses_view, console.store, console.mapping)
        return console.render(request, "losses.html", r=view.report, rows=view.rows, trend=view.trend)

    async def cell(request: Request) -> Response:
        params = request.query_params
        phase, reason = params.get("phase", ""), params.get("reason", "")
        found: CellPage = await run_in_threadpool(cell_deals, console.store, console.mapping, phase, reason,
                                                  params.get("after") or None)
        return console.render(request, "loss_cell.html", status=200 if found.deals else 404, cell=found)

    return [Route("/losses", guard(losses)), Route("/losses/cell", guard(cell))]
