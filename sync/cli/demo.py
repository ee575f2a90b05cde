"""`leadsync demo`: the whole method end to end against the bundled sandbox, in one command.

Starts both emulators with a demo book, writes a settings file pointing at them, runs `setup` and a
full sync, prints the summary, the loss-analysis report and three explained people, then runs a
second sync to show that nothing is rewritten.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.rule import Rule

from sync import logs
from sync.cli import extras
from sync.cli.sync import execute, print_result
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_OK, EXIT_RECORD_FAILURES
from sync.run.context import open_context
from sync.run.runner import RunOptions, RunResult
from sync.run.setup import run_setup
from sync.settings import load_settings
from sync.state.store import StateStore
from sync.views.explain import explain_person
from sync.views.explain_render import render_explanation
from sync.views.report import build_report
from sync.views.report_render import render_report

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


def demo_command(
    people: Annotated[int, typer.Option("--people", min=1, help="Size of the demo book.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the demo data.")] = 1,
    workdir: Annotated[Path | None, typer.Option("--workdir", help="Keep settings, state and TLS files "
                                                 "here (default: a temporary folder).")] = None,
    keep_running: Annotated[bool, typer.Option("--keep-running", help="Leave the sandbox up afterwards "
                                               "(Ctrl-C stops it) to try the other commands.")] = False,
) -> None:
    """Start the sandbox with demo data, set it up, sync, report, explain three people, sync again."""
    Sandbox = extras.sandbox_launcher().Sandbox  # the emulators load only when the demo runs

    out = Console()
    folder = workdir or Path(tempfile.mkdtemp(prefix="leadsync-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    out.print(Rule("1. sandbox"))
    box = Sandbox.start(people=people, seed=seed, workdir=folder / "sandbox")
    try:
        settings_path = box.write_settings(folder / "settings.toml",
                                           state_url=f"sqlite:///{(folder / 'leadsync.db').as_posix()}")
        settings = load_settings(settings_path)
        logs.configure(settings, level="WARNING")
        out.print(f"Salesforce emulator {box.salesforce_url}, HubSpot emulator {box.hubspot_url}")
        out.print(f"demo book: {people} people (seed {seed}); settings: {settings_path}")

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

        now = box.now
        out.print(Rule("3. first sync"))
        first = execute(settings, RunOptions(now=now), show_progress=True)
        print_result(first, json_out=False, dry_run=False)

        ctx = open_context(settings)
        try:
            out.print(Rule("4. report (失注分析)"))
            assert now is not None
            render_report(build_report(ctx.store, ctx.mapping, now,
                                       people_per_chunk=ctx.settings.sync.people_per_chunk), out)
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
        if keep_running:
            out.print(f"sandbox still running; leadsync sync --config {settings_path}  (Ctrl-C to stop)")
            threading.Event().wait()
        failed = first.status not in ("ok", "partial") or writes_in(second) != 0
        raise typer.Exit(EXIT_RECORD_FAILURES if failed else EXIT_OK)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_OK) from None
    finally:
        box.stop()
