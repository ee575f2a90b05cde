"""The "Runs and failures" pages: the run history, one run, the open failures (keyset pages over the
state store's run records and failures: `StateStore.list_runs(before=)`, `StateStore.failure_page`), and
"retry now", which starts one sync run in the background (the console's `JobBoard`, kind "run") through
the `start_run` the console was given: `leadsync console` passes the same path `leadsync sync` takes
(`sync.cli.console_run`), under the same run lock. A run started here can be asked to stop: the run's
cooperative stop (the event `leadsync sync` sets on Ctrl-C) ends it after the current batch.

    GET  /runs[?before=ID]             the history, newest first, 50 a page
    GET  /runs/{id}[?after=ID]         one run: counts, calls per system, error, its failures
    GET  /failures[?after=ID][&run=ID] open failures with their codes
    POST /runs/retry                   admin: start a run; then GET /runs/job/{job id} shows its progress
    POST /runs/stop                    admin: ask the run started here to stop after its batch
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from sync.console.jobs import Busy, Job, JobBoard
from sync.state.console_users import ConsoleUser
from sync.state.records import FailureRecord, RunRecord
from sync.state.runs import redact_secrets
from sync.state.store import StateStore
from sync.views.report import failure_code

PAGE_SIZE = 50
JOB_KIND = "run"
REFRESH_SECONDS = 2
StartRun = Callable[[Job], Any]
Handler = Callable[[Request], Awaitable[Response]]


class Console(Protocol):
    """What these pages use of `sync.console.app.Console` (named here: the app imports this module)."""

    store: StateStore
    jobs: JobBoard

    def user(self, request: Request) -> ConsoleUser | None: ...

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response: ...

    def forbidden(self, request: Request) -> Response: ...


@dataclass(frozen=True)
class RunRow:
    run: RunRecord
    main: dict[str, int]  # people, records updated, write failures, quarantined
    calls: dict[str, int]  # system -> API calls


@dataclass(frozen=True)
class FailureRow:
    failure: FailureRecord
    code: str


def main_counts(run: RunRecord) -> dict[str, int]:
    """The counts the history shows: people decided, records updated and write failures (summed over
    the systems), records quarantined."""
    counts = run.counts

    def summed(suffix: str) -> int:
        return sum(int(v) for k, v in counts.items() if k.endswith(suffix) and isinstance(v, int))

    return {"people": int(counts.get("people", 0)), "records_updated": summed(".records_updated"),
            "write_failures": summed(".write_failures"), "quarantined": int(counts.get("quarantined", 0))}


def _row(run: RunRecord) -> RunRow:
    return RunRow(run, main_counts(run), run.calls_per_system)


def runs_page(store: StateStore, before: int | None) -> tuple[list[RunRow], int | None]:
    """A page of the history, and the `before` of the next (older) page (None: this is the last)."""
    runs = store.list_runs(PAGE_SIZE + 1, before=before)
    page = runs[:PAGE_SIZE]
    return [_row(r) for r in page], page[-1].id if len(runs) > PAGE_SIZE else None


def failures_page(store: StateStore, after: int | None, run_id: int | None, *,
                  include_resolved: bool = False) -> tuple[list[FailureRow], int | None]:
    """A page of failures by id, each with its code, and the `after` of the next page."""
    found = store.failure_page(after=after, run_id=run_id, include_resolved=include_resolved,
                               limit=PAGE_SIZE + 1)
    page = found[:PAGE_SIZE]
    return [FailureRow(f, failure_code(f)) for f in page], page[-1].id if len(found) > PAGE_SIZE else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def shown_error(text: str | None) -> str | None:
    """Error text for a page: secrets masked (as the store masks a run's error); the template escapes it
    and `visible` shows control characters."""
    return redact_secrets(text) if text else None


def routes(console: Console, start_run: StartRun | None, guard: Callable[[Handler], Handler]) -> list[Route]:
    """The pages' routes, each behind `guard` (the app's sign-in and CSRF check)."""
    pages = RunPages(console, start_run)
    return [Route("/runs", guard(pages.runs)), Route("/runs/retry", guard(pages.retry), methods=["POST"]),
            Route("/runs/stop", guard(pages.stop), methods=["POST"]),
            Route("/runs/job/{job_id}", guard(pages.job)),
            Route("/runs/{run_id:int}", guard(pages.run)), Route("/failures", guard(pages.failures))]


class RunPages:
    def __init__(self, console: Console, start_run: StartRun | None) -> None:
        self.console, self.start_run = console, start_run

    def _is_admin(self, request: Request) -> str | None:
        me = self.console.user(request)
        return me.name if me is not None and me.role == "admin" else None

    async def runs(self, request: Request, notice: str | None = None, status: int = 200) -> Response:
        before = _int(request.query_params.get("before"))
        rows, older = await run_in_threadpool(runs_page, self.console.store, before)
        return self.console.render(request, "runs.html", status=status, rows=rows, older=older,
                                   before=before, notice=notice, job=self.console.jobs.running(JOB_KIND),
                                   can_retry=self.start_run is not None)

    async def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        after = _int(request.query_params.get("after"))
        record = await run_in_threadpool(self.console.store.get_run, run_id)
        if record is None:
            return self.console.render(request, "run.html", status=404, row=None, run_id=run_id)
        failures, more = await run_in_threadpool(failures_page, self.console.store, after, run_id,
                                                 include_resolved=True)
        return self.console.render(request, "run.html", row=_row(record), failures=failures, more=more,
                                   error=shown_error(record.error), run_id=run_id)

    async def failures(self, request: Request) -> Response:
        after = _int(request.query_params.get("after"))
        run_id = _int(request.query_params.get("run"))
        rows, more = await run_in_threadpool(failures_page, self.console.store, after, run_id)
        return self.console.render(request, "failures.html", rows=rows, more=more, run_id=run_id)

    async def retry(self, request: Request) -> Response:
        user = self._is_admin(request)  # the CSRF token was checked by the guard
        if user is None:
            return self.console.forbidden(request)
        if self.start_run is None:
            return await self.runs(request, notice="retry_unavailable", status=503)
        try:
            job = self.console.jobs.start(JOB_KIND, user, self.start_run)
        except Busy as busy:  # a second click: the run already going
            return RedirectResponse(f"/runs/job/{busy.job.id}", status_code=303)
        self.console.store.audit(user, "run-retry", f"job {job.id}")
        return RedirectResponse(f"/runs/job/{job.id}", status_code=303)

    async def stop(self, request: Request) -> Response:
        user = self._is_admin(request)
        if user is None:
            return self.console.forbidden(request)
        job = self.console.jobs.running(JOB_KIND)
        if job is None:
            return await self.runs(request, notice="nothing_to_stop", status=409)
        job.stop.set()  # the run checks it between batches and read chunks
        self.console.store.audit(user, "run-stop", f"job {job.id}")
        return RedirectResponse(f"/runs/job/{job.id}", status_code=303)

    async def job(self, request: Request) -> Response:
        job = self.console.jobs.get(request.path_params["job_id"])
        if job is None or job.kind != JOB_KIND:
            return self.console.render(request, "run_job.html", status=404, job=None)
        running = job.running  # first: a finished job has its result (set before `finished`)
        result = job.result
        response = self.console.render(
            request, "run_job.html", job=job, running=running, run_id=getattr(result, "run_id", None),
            run_status=getattr(result, "status", None), error=shown_error(job.error),
            run_error=shown_error(getattr(result, "error", None)), started=_at(job.started),
            finished=_at(job.finished), refresh=REFRESH_SECONDS, is_admin=self._is_admin(request) is not None)
        if running:  # the page refreshes itself while the run goes (no script: the CSP allows none)
            response.headers["Refresh"] = str(REFRESH_SECONDS)
        return response


def _at(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
