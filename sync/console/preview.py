"""The impact preview page: POST /mapping/preview with a draft mapping starts a background job
(`sync.console.jobs`, kind "preview") running `sync.views.impact.preview` over the console's store,
then GET /mapping/preview/{job_id} shows its progress (the page refreshes itself every second, no
script) and then its counts and sample.

The draft is what the mapping editor would check (`MappingEditor.check_form`): from its form of fields
(`mode=form`: the fields applied to the file, so a preview of form edits needs no script) or its TOML
text (`mode=text`); a post with no `mode` (the errors page's own form) sends the whole draft as `text`.

Admins only (a viewer gets 403); the POST's CSRF token is checked by the app's guard first. A draft that
does not load shows the same `file:line key: message` errors as `leadsync mappings validate`, with the
text back in a form to fix it. The draft text stays in the job (never in a URL); nothing is saved and
no API is called.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connectors.base import BatchSizes
from mappings import Mapping, MappingError
from mappings.loader import load_mapping_text
from sync.console.jobs import Busy, Job, JobBoard
from sync.inputs import InputProblem
from sync.state.console_users import ConsoleUser
from sync.state.store import StateStore
from sync.views.impact import Impact, preview


class Checked(Protocol):
    """A draft as the mapping editor checked it (`sync.console.editor.Draft`)."""

    text: str
    errors: list[Any]  # `mappings.errors.Issue`s: "file:line key: message" as text
    mapping: Mapping | None
    stale: bool


class DraftChecker(Protocol):
    def check_form(self, form: dict[str, str]) -> Checked: ...


class Console(Protocol):
    """What these pages use of `sync.console.app.Console` (not imported: the app imports this module)."""

    store: StateStore
    mapping: Mapping
    jobs: JobBoard
    editor: DraftChecker

    def user(self, request: Request) -> ConsoleUser | None: ...

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response: ...

    def forbidden(self, request: Request) -> Response: ...

KIND = "preview"
DRAFT_NAME = "draft.toml"  # the name the draft's errors carry (file:line)
MAX_TEXT = 1_000_000  # characters: a mapping file is a few kilobytes


@dataclass(frozen=True)
class PreviewResult:
    impact: Impact
    draft_text: str
    current_version: int
    draft_version: int
    now: datetime
    stale: bool = False  # the form's fields were applied to a file changed since its page was loaded


def routes(console: Console, guard: Callable[..., Any],
           write_sizes: MappingABC[str, BatchSizes] | None = None) -> list[Route]:
    """The preview's routes, each behind the app's `guard` (signed in; CSRF on POST)."""
    page = PreviewPages(console, write_sizes or {})
    return [Route("/mapping/preview", guard(console, page.start), methods=["POST"]),
            Route("/mapping/preview/{job_id}", guard(console, page.show))]


class PreviewPages:
    def __init__(self, console: Console, write_sizes: MappingABC[str, BatchSizes]) -> None:
        self.console = console
        self.write_sizes = dict(write_sizes)

    def _admin(self, request: Request) -> str | None:
        me = self.console.user(request)
        return me.name if me is not None and me.role == "admin" else None

    async def start(self, request: Request) -> Response:
        console = self.console
        user = self._admin(request)
        if user is None:
            return console.forbidden(request)
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        text = form.get("text", "")
        if len(text) > MAX_TEXT or sum(map(len, form.values())) > 2 * MAX_TEXT:
            return console.render(request, "preview_errors.html", status=400, text="",
                                  errors=[f"{DRAFT_NAME}: more than {MAX_TEXT:,} characters"])
        stale = False
        if form.get("mode") in ("form", "text"):  # the editor's forms: its draft, checked as it checks
            try:
                checked = await run_in_threadpool(console.editor.check_form, form)
            except InputProblem as exc:  # the mapping file cannot be read: say why
                return console.render(request, "preview_errors.html", status=500, text=text,
                                      errors=[str(exc)])
            text, stale = checked.text, checked.stale
            if checked.errors or checked.mapping is None:
                return console.render(request, "preview_errors.html", status=400, text=text,
                                      errors=[str(e) for e in checked.errors])
            draft = checked.mapping
        else:
            try:
                draft = load_mapping_text(text, DRAFT_NAME)
            except MappingError as exc:
                return console.render(request, "preview_errors.html", status=400, text=text,
                                      errors=[str(e) for e in exc.errors])
        current, store, sizes = console.mapping, console.store, self.write_sizes
        now = datetime.now(UTC)

        def work(job: Job) -> PreviewResult:
            impact = preview(store, current, draft, now=now, progress=job.advance, sizes=sizes)
            return PreviewResult(impact, text, current.version, draft.version, now, stale)

        try:
            job = console.jobs.start(KIND, user, work)
        except Busy as busy:
            return console.render(request, "preview_busy.html", status=409, job=busy.job)
        return RedirectResponse(f"/mapping/preview/{job.id}", status_code=303)

    async def show(self, request: Request) -> Response:
        console = self.console
        if self._admin(request) is None:
            return console.forbidden(request)
        job = console.jobs.get(request.path_params["job_id"])
        if job is None or job.kind != KIND:
            return console.render(request, "preview_job.html", status=404, job=None, running=False, r=None)
        running = job.running  # first: a job's result is set before it counts as finished
        result = job.result if not running and isinstance(job.result, PreviewResult) else None
        response = console.render(request, "preview_job.html", job=job, running=running, r=result,
                                  rows=_rows(result.impact) if result else None)
        if running:
            response.headers["Refresh"] = "1"  # as the page's meta refresh: works without script
        return response


@dataclass(frozen=True)
class Rows:
    """The impact's counts as the page's tables list them."""

    stage: list[tuple[str, str, int]]
    rank: list[tuple[str, str, int]]
    group: list[tuple[str, str, int]]
    lists: list[tuple[str, int, int]]
    systems: list[tuple[str, int, int, int, int, int]]  # system, records, adds, removes, tasks, calls


def _rows(impact: Impact) -> Rows:
    def pairs(counts: MappingABC[tuple[str, str], int]) -> list[tuple[str, str, int]]:
        return [(a, b, n) for (a, b), n in sorted(counts.items())]

    systems = []
    for system in sorted(set(impact.writes) | set(impact.api_calls)):
        c = impact.writes.get(system, {})
        systems.append((system, c.get("records", 0), c.get("list_adds", 0), c.get("list_removes", 0),
                        c.get("tasks", 0), impact.api_calls.get(system, 0)))
    keys = sorted(set(impact.list_adds) | set(impact.list_removes))
    return Rows(pairs(impact.stage), pairs(impact.rank), pairs(impact.group),
                [(k, impact.list_adds[k], impact.list_removes[k]) for k in keys], systems)


