"""The loss analysis pages (失注分析): the heat map of phase at loss × loss reason with the trend by
quarter (`/losses`), and the deals behind one cell of the heat map (`/losses/cell?phase=…&reason=…`),
a page at a time. The numbers come from the report (`sync.views.report`, as `leadsync report`), the
trend from `sync.views.loss_trend` and the cell's deals from `sync.views.loss_drill`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mappings import Mapping
from sync.console import pages
from sync.console.report_cache import ReportCache, computing_page
from sync.state.store import StateStore
from sync.views.loss_drill import CellPage, cell_deals

Handler = Callable[[Request], Any]


class Console(Protocol):
    store: StateStore
    mapping: Mapping
    reports: ReportCache  # the overview (with the report), once per finished run
    trends: ReportCache  # the trend by quarter, likewise
    loss_pairs: ReportCache  # the lost deals' stored (stage, reason) pairs, likewise (the cells' deals)

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response: ...


def routes(console: Console, guard: Callable[[Handler], Handler]) -> list[Route]:
    """`/losses` and `/losses/cell`, each behind the console's sign-in check (`guard`)."""

    async def losses(request: Request) -> Response:
        cache = await run_in_threadpool(console.reports.get, console.mapping)
        trend = await run_in_threadpool(console.trends.get, console.mapping)
        for view in (cache, trend):
            if view.computed is None:
                return computing_page(console, request, "loss_analysis", view)
        report = cache.computed.value.report
        return console.render(request, "losses.html", r=report, rows=pages.heat_map(report),
                              trend=trend.computed.value, cache=cache)

    async def cell(request: Request) -> Response:
        params = request.query_params
        phase, reason = params.get("phase", ""), params.get("reason", "")
        pairs = await run_in_threadpool(console.loss_pairs.get, console.mapping)  # once per finished run
        if pairs.computed is None:
            return computing_page(console, request, "cell_title", pairs)
        found: CellPage = await run_in_threadpool(cell_deals, console.store, console.mapping, phase, reason,
                                                  params.get("after") or None, None, pairs.computed.value)
        return console.render(request, "loss_cell.html", status=200 if found.deals else 404, cell=found)

    return [Route("/losses", guard(losses)), Route("/losses/cell", guard(cell))]
