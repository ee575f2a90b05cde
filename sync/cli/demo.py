"""`leadsync demo`: the whole method end to end against the bundled sandbox, in one command.

Starts both emulators with a demo book drawn 18 months ago, writes a settings file pointing at them,
runs `setup` and a first sync there (it records where everyone starts), then lives the book's 18 months
(`sandbox.demo_timeline`: stage changes, engagement, deals opened, won and lost, recycled people coming
back) with one sync at the end of each month (the emulators' clocks and `--now` at that instant), then
backfills the history from before the first sync (HubSpot's lifecycle-stage dates, lost deals). It
prints the report with the stage KPIs over time, a short second-pipeline summary and three explained
people, then runs a last sync to show that nothing is rewritten. With `--console`, it ends with the admin
console serving the demo's state store on 127.0.0.1 (a single-use sign-in URL printed; Ctrl-C stops it).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.rule import Rule

from sync import logs
from sync.cli import extras
from sync.cli.backfill import render as render_backfill
from sync.cli.console import run_console
from sync.cli.console_run import run_starter
from sync.cli.sync import execute, print_result
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_OK, EXIT_RECORD_FAILURES
from sync.run.backfill import backfill
from sync.run.context import open_context, write_sizes
from sync.run.runner import RunOptions, RunResult
from sync.run.setup import run_setup
from sync.settings import Settings, load_settings
from sync.state.store import StateStore
from sync.views.explain import explain_person
from sync.views.explain_render import render_explanation
from sync.views.kpis import StageKpis, stage_kpis
from sync.views.kpis_render import render_kpis
from sync.views.local_state import open_local_state
from sync.views.report import build_report
from sync.views.report_render import amount, render_report

# The demo book's size: with 1,000 people most monthly cohorts of the main stages reach the report's
# MIN_PEOPLE (5); at 200 (the demo's size before it lived 18 months) nearly every rate said "too little
# data". About a minute on 2 cores (19 syncs).
DEFAULT_PEOPLE = 1000

WRITE_ENDPOINTS = {"salesforce.collections", "salesforce.bulk", "batch_update", "memberships"}


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def writes_in(result: RunResult) -> int:
    return sum(n for endpoints in result.api_calls.values() for e, n in endpoints.items()
               if e in WRITE_ENDPOINTS)


def sample_people(store: StateStore, field: str) -> list[str]:
    """One email per recycle group (high, low, waiting) as leadsync wrote them to HubSpot."""
    wanted = ["high", "low", "waiting"]
    by_id = {c.contact_id: c.email for c in store.iter_contacts("hubspot") if c.email}
    picked: dict[str, str] = {}
    for w in store.iter_written("hubspot"):
        if w.field == field and w.value in wanted and w.value not in picked and w.record_id in by_id:
            picked[str(w.value)] = by_id[w.record_id] or ""
    return [picked[g] for g in wanted if g in picked]


def live(box: Any, timeline: Any, apply_month: Callable[..., Any], settings: Settings,
         on_run: Callable[[int, RunResult], None] | None = None) -> list[RunResult]:
    """Sync at the timeline's start (where everyone starts), then for each month k: both emulators'
    clocks to the end of the month, the month's events into them (`apply_month`), a sync with
    `--now` there. `box` is a `sandbox.launcher.Sandbox`, `timeline` a `sandbox.demo_timeline.Timeline`
    (the sandbox is an extra: not imported here). Returns the runs' results, the first sync first."""
    results: list[RunResult] = []
    ids = None
    for k in range(timeline.months + 1):
        at = timeline.run_at(k)
        box.move_clocks(at)
        if k:
            ids = apply_month(timeline, k, box.salesforce, box.hubspot, ids)
        result = execute(settings, RunOptions(now=at), show_progress=k == 0 and on_run is not None)
        results.append(result)
        if on_run is not None:
            on_run(k, result)
    return results


def _print_run(out: Console, timeline: Any, k: int, result: RunResult) -> None:
    if k == 0:
        print_result(result, json_out=False, dry_run=False)
        return
    out.print(f"{timeline.run_at(k):%Y-%m-%d}  run {result.run_id}: {result.status}, "
              f"{len(timeline.events[k])} changes in the systems, "
              f"{result.counts.get('stage_moves', 0)} moves recorded, {writes_in(result)} write calls")


def pipeline_summary(k: StageKpis) -> str:
    """The second pipeline in one line: recycled -> re-engaged -> called (completed) -> new deals -> won
    (amounts), lost again (the report's total row: each new deal once, also one shared by people of two
    groups)."""
    rows = [p for p in k.pipeline if p.by == "total"]

    def total(name: str) -> float:
        return sum(getattr(p, name) for p in rows)

    return (f"{total('recycled'):.0f} recycled → {total('reengaged'):.0f} re-engaged → "
            f"{total('promoted'):.0f} promoted → {total('called'):.0f} called "
            f"({total('completed'):.0f} completed) → "
            f"{total('new_deals'):.0f} new deals ({amount(total('new_amount'))}; "
            f"{total('new_via_account'):.0f} via the account) → "
            f"{total('won_deals'):.0f} won ({amount(total('won_amount'))}); "
            f"{total('lost_again'):.0f} lost again")


def stay(out: Console, settings_path: Path, console_port: int | None, keep_running: bool) -> None:
    """The demo's end: the console on its data (`--console`: until Ctrl-C), or the sandbox left up
    (`--keep-running`), or nothing."""
    if console_port is not None:
        out.print(Rule("7. admin console on the demo data"))
        with open_local_state(settings_path) as local:
            run_console(local.store, local.mapping, "127.0.0.1", console_port, token=True,
                        mapping_path=local.settings.sync.mapping_file, sizes=write_sizes(local.settings),
                        start_run=run_starter(settings_path))
    elif keep_running:
        out.print(f"sandbox still running; leadsync sync --config {settings_path}  (Ctrl-C to stop)")
        threading.Event().wait()


def demo_command(
    people: Annotated[int, typer.Option("--people", min=1, help="Size of the demo book.")] = DEFAULT_PEOPLE,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo data.")] = 1,
    workdir: Annotated[Path | None, typer.Option("--workdir", help="Keep settings, state and TLS files "
                                                 "here (default: a temporary folder).")] = None,
    keep_running: Annotated[bool, typer.Option("--keep-running", help="Leave the sandbox up afterwards "
                                               "(Ctrl-C stops it) to try the other commands.")] = False,
    console: Annotated[bool, typer.Option("--console", help="End with the admin console on the demo data "
                                          "(127.0.0.1; prints a one-time sign-in URL; Ctrl-C stops it).")
                       ] = False,
    console_port: Annotated[int, typer.Option("--console-port", min=1, max=65535,
                                              help="Port of the console (with --console).")] = 8765,
) -> None:
    """Start the sandbox with demo data, set it up, sync month by month over 18 months, report, explain
    three people, sync again."""
    launcher = extras.sandbox_launcher()  # the emulators load only when the demo runs
    if console:
        extras.console_modules()  # a missing console extra stops the demo before it starts, not after
    Sandbox, timeline_of = launcher.Sandbox, launcher.demo_timeline

    out = Console()
    folder = workdir or Path(tempfile.mkdtemp(prefix="leadsync-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    out.print(Rule("1. sandbox"))
    end = datetime.now(UTC).replace(microsecond=0)
    start = timeline_of.start_of(end)
    box = Sandbox.start(people=people, seed=seed, workdir=folder / "sandbox", now=start)
    box.move_clocks(start)  # both systems live the 18 months: their writes land at each run's time
    try:
        settings_path = box.write_settings(folder / "settings.toml",
                                           state_url=f"sqlite:///{(folder / 'leadsync.db').as_posix()}")
        settings = load_settings(settings_path)
        logs.configure(settings, level="WARNING")
        out.print(f"Salesforce emulator {box.salesforce_url}, HubSpot emulator {box.hubspot_url}")
        assert box.book is not None
        timeline = timeline_of.plan(box.book, end)
        out.print(f"demo book: {people} people (seed {seed}) as of {start:%Y-%m-%d}, then "
                  f"{timeline.months} months to {end:%Y-%m-%d}: {len(timeline.journeys)} people on a "
                  f"journey, {len(timeline.deals)} new deals, {len(timeline.comebacks)} of them from "
                  f"recycled people; settings: {settings_path}")

        out.print(Rule("2. setup"))
        ctx = open_context(settings)
        try:
            report = run_setup(ctx, create_missing=True)
        finally:
            ctx.close()
        out.print(f"HubSpot properties and lists ready: {', '.join(sorted(report.hubspot_lists))}")
        if not report.ok:
            out.print(report.to_dict())
            raise typer.Exit(EXIT_BAD_CONFIG)

        out.print(Rule(f"3. first sync on {start:%Y-%m-%d}, then one a month for {timeline.months} months"))
        runs = live(box, timeline, timeline_of.apply_month, settings,
                    lambda k, result: _print_run(out, timeline, k, result))
        first = runs[0]
        failed_runs = sum(r.status not in ("ok", "partial") for r in runs)
        now = end

        ctx = open_context(settings)
        try:
            out.print(Rule("3b. backfill: the history from before the first sync"))
            out.print(render_backfill(backfill(ctx.store, ctx.mapping)))
            out.print(Rule("4. report (失注分析)"))
            assert now is not None
            render_report(build_report(ctx.store, ctx.mapping, now,
                                       people_per_chunk=ctx.settings.sync.people_per_chunk), out)
            kpis = stage_kpis(ctx.store, ctx.mapping, since=start)  # the 18 months (a backfill reaches
            #                                                      back years: `report --since` limits it)
            render_kpis(kpis, out)
            out.print(Rule("4b. second pipeline (recycled people over the 18 months)"))
            out.print(pipeline_summary(kpis))
            out.print(Rule("5. three people, explained"))
            field = next((fm.field for fm in ctx.mapping.fields_for("hubspot")
                          if fm.from_name == "recycle_group"), "")
            for email in sample_people(ctx.store, field):
                found = explain_person(ctx.store, ctx.mapping, email, now)
                if found is not None:
                    render_explanation(found, out)
                    out.print()
        finally:
            ctx.close()

        out.print(Rule("6. second sync: nothing changed, so nothing is written"))
        second = execute(settings, RunOptions(now=now), show_progress=False)
        print_result(second, json_out=False, dry_run=False)
        out.print(f"write calls: first run {writes_in(first)}, second run {writes_in(second)}")
        out.print(f"\nTry more: leadsync runs --config {settings_path}   "
                  f"leadsync report --config {settings_path}")
        if not console:
            out.print("In a browser: leadsync demo --console (the demo again, ending with the admin console "
                      "open on its data)")
        stay(out, settings_path, console_port if console else None, keep_running)
        failed = failed_runs > 0 or writes_in(second) != 0
        raise typer.Exit(EXIT_RECORD_FAILURES if failed else EXIT_OK)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_OK) from None
    finally:
        box.stop()
