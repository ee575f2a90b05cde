"""CLI: sync, backfill, schedule, setup, runs, failures. Exit codes: 0 ok, 1 record-level failures or
an unfinished run, 2 bad configuration or input, 3 another run holds the lock."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from connectors.base import AuthenticationError, ConfigurationError, ConnectorError
from mappings import MappingError
from sync import logs
from sync.cli.backfill import history_backfill
from sync.cli.tenant import TenantOpt, config_source, tenant_name
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_INTERRUPTED, EXIT_RECORD_FAILURES
from sync.inputs import InputProblem, parse_instant
from sync.run.context import SyncContext, open_context
from sync.run.runner import RunOptions, RunResult, run
from sync.run.schedule import ScheduleError, Trigger, run_schedule
from sync.run.setup import run_setup
from sync.run.signals import StopOnSignal
from sync.settings import ConfigSource, Settings, SettingsFileError, load_settings
from sync.state.store import StateStore
from sync.views.terminal import safe

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="settings.toml (default: "
                                                "$LEADSYNC_CONFIG or ./settings.toml)", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (for machines).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Plan only: print what would change, write "
                                         "nothing to either system.")]
NowOpt = Annotated[str | None, typer.Option("--now", help="Evaluate time-based rules as of this ISO "
                                            "date/time (default: now).", show_default=False)]
LogJsonOpt = Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Log at DEBUG level.")]
ResetStateOpt = Annotated[bool, typer.Option("--reset-state", help="Start a new state store in a SQLite "
                                             "file that is empty (0 bytes), which is refused otherwise.")]
RebindOpt = Annotated[bool, typer.Option("--rebind", help="The Salesforce org or HubSpot portal behind "
                                         "the state changed on purpose: bind the state to the ones the "
                                         "settings reach now, forgetting what it wrote to the old ones "
                                         "(everything is written again).")]
VerifyOpt = Annotated[bool, typer.Option("--verify", help="Re-read every record leadsync has written and "
                                         "write again what differs (each run re-reads a sample: "
                                         "sync.verify_sample).")]

err = Console(stderr=True)


def fail(message: str, code: int = EXIT_BAD_CONFIG) -> typer.Exit:
    # the message is text, not markup ("[rank].hot" in a mapping error stays), control characters escaped
    err.print(f"[red]error:[/red] {safe(message)}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code)


def parse_when(text: str | None, option: str) -> datetime | None:
    """`--now`/`--since`/`--until`: None when not given; a bad value exits 2 naming the option."""
    if text is None:
        return None
    try:
        return parse_instant(text, option)
    except InputProblem as exc:
        raise fail(str(exc)) from None


def load(config: ConfigSource, *, log_json: bool = False, verbose: bool = False) -> Settings:
    try:
        settings = load_settings(config)
    except SettingsFileError as exc:
        raise fail(str(exc)) from None
    logs.configure(settings, level="DEBUG" if verbose else None, json_format=log_json or None,
                   tenant=tenant_name(config))
    return settings


def context(settings: Settings, *, reset_state: bool = False) -> SyncContext:
    try:
        return open_context(settings, reset_state=reset_state)
    except (MappingError, InputProblem) as exc:
        raise fail(f"mapping file: {exc}") from None
    except ConfigurationError as exc:  # a connector refused the settings (missing token, bad field name)
        raise fail(f"settings: {exc}") from None


def progress_bar(enabled: bool) -> tuple[Progress | None, Any]:
    if not enabled:
        return None, None
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=None),
                   TextColumn("{task.completed:,}"), TimeElapsedColumn(), console=err, transient=True)
    tasks: dict[str, Any] = {}

    def update(phase: str, done: int) -> None:
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=None)
        bar.update(tasks[phase], completed=done)

    return bar, update


def execute(settings: Settings, options: RunOptions, *, show_progress: bool,
            reset_state: bool = False) -> RunResult:
    ctx = context(settings, reset_state=reset_state)
    bar, update = progress_bar(show_progress)
    try:
        if bar is None:
            return run(ctx, options)
        with bar:
            return run(ctx, replace(options, progress=update))
    finally:
        ctx.close()


def execute_until_signal(settings: Settings, options: RunOptions, *, json_out: bool, again: str,
                         reset_state: bool = False) -> None:
    """One run (`sync`, `backfill`, `failures retry`) that SIGINT/SIGTERM stop cleanly after the current
    batch (recorded `interrupted`, exit 1); a second Ctrl-C stops at once (exit 130). Exits."""
    with StopOnSignal(restore=False) as stop:  # the command exits right after
        try:
            result = execute(settings, replace(options, stop=stop.event), show_progress=not json_out,
                             reset_state=reset_state)
        except KeyboardInterrupt:
            err.print(f"interrupted: stopped at once by a second Ctrl-C; run `{again}` again to finish "
                      "(the next run reconciles the writes that were in flight)",
                      highlight=False, markup=False)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        print_result(result, json_out=json_out, dry_run=options.dry_run)
        if result.status == "interrupted" and stop.received is not None:
            err.print(f"interrupted: {stop.received} received, stopped cleanly after the current batch; "
                      f"run `{again}` again to carry on", highlight=False, markup=False)
        raise typer.Exit(result.exit_code)


def print_result(result: RunResult, *, json_out: bool, dry_run: bool) -> None:
    if json_out:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return
    out = Console()
    title = f"run {result.run_id or '(dry run)'}: {result.status} in {result.duration_seconds:.1f}s"
    out.print(f"[bold]{title}[/bold]")
    if result.error:
        out.print(f"[yellow]{safe(result.error)}[/yellow]", highlight=False)
    counts = result.counts
    people = Table("people", "count", title="assignments", title_justify="left")
    for key in ("people", "quarantined", "duplicates", "needs_review"):
        people.add_row(key, f"{counts.get(key, 0):,}")
    for prefix in ("group.", "rank.", "stage."):
        for k, v in counts.items():
            if k.startswith(prefix):
                people.add_row(k, f"{v:,}")
    out.print(people)
    plan = result.plan.get("counts", {})
    calls_title = "API calls (est.)" if dry_run else "API calls"
    table = Table("system", "records", "fields", "list adds", "list removes", "tasks", "skipped", calls_title,
                  title="planned writes" if dry_run else "writes", title_justify="left")
    for system in ("salesforce", "hubspot"):
        c = plan.get(system, {})
        calls = (result.plan.get("estimated_api_calls", {}).get(system, 0) if dry_run
                 else sum(result.api_calls.get(system, {}).values()))
        table.add_row(system, *(f"{c.get(k, 0):,}" for k in ("records", "fields", "list_adds", "list_removes",
                                                              "tasks", "skipped")), f"{calls:,}")
    out.print(table)
    sample = result.plan.get("sample", []) + result.plan.get("skipped", [])
    if sample and dry_run:
        changes = Table("system", "record", "change", title="sample of changes", title_justify="left")
        for item in sample:
            changes.add_row(item["system"], safe(item["record_id"]), safe(item["reason"]))
        out.print(changes)


def register(app: typer.Typer) -> None:
    app.command("sync")(sync_command)
    app.command("backfill")(backfill_command)
    app.command("schedule")(schedule_command)
    app.command("setup")(setup_command)


def sync_command(config: ConfigOpt = None, tenant: TenantOpt = None, dry_run: DryRunOpt = False,
                 json_out: JsonOpt = False,
                 now: NowOpt = None, log_json: LogJsonOpt = False, verbose: VerboseOpt = False,
                 reset_state: ResetStateOpt = False, rebind: RebindOpt = False,
                 verify: VerifyOpt = False) -> None:
    """One incremental run: pull changes, recompute everyone, write what changed."""
    settings = load(config_source(config, tenant), log_json=log_json, verbose=verbose)
    if rebind and dry_run:
        raise fail("--rebind changes the state store; it cannot be combined with --dry-run")
    execute_until_signal(settings, RunOptions(dry_run=dry_run, now=parse_when(now, "--now"), rebind=rebind,
                                              verify=verify),
                         json_out=json_out, again="leadsync sync", reset_state=reset_state)


def backfill_command(
    since: Annotated[str | None, typer.Option("--since", help="Re-read everything modified from this date, "
                                              "then sync.", show_default=False)] = None,
    until: Annotated[str | None, typer.Option("--until", help="...up to this date (default: now).")] = None,
    config: ConfigOpt = None, dry_run: DryRunOpt = False, json_out: JsonOpt = False, now: NowOpt = None,
    log_json: LogJsonOpt = False, verbose: VerboseOpt = False, reset_state: ResetStateOpt = False,
    tenant: TenantOpt = None,
) -> None:
    """Without --since: seed the stage history from before the first run (HubSpot lifecycle-stage dates,
    lost deals; no API call) and say what could not be reconstructed. With --since: re-read a period in
    full from both systems (Bulk API for large Salesforce reads), then sync."""
    if since is None:
        if until is not None or now is not None or reset_state:
            raise fail("--until, --now and --reset-state go with --since (the re-read of a period)")
        raise typer.Exit(history_backfill(config_source(config, tenant), dry_run=dry_run, as_json=json_out))
    settings = load(config_source(config, tenant), log_json=log_json, verbose=verbose)
    start, end = parse_when(since, "--since"), parse_when(until, "--until")
    if start is not None and end is not None and end <= start:
        raise fail("--until must be after --since")
    execute_until_signal(settings, RunOptions(dry_run=dry_run, kind="backfill", since=start, until=end,
                                              now=parse_when(now, "--now")),
                         json_out=json_out, again="leadsync backfill", reset_state=reset_state)


def schedule_command(
    every: Annotated[str | None, typer.Option("--every", help="Run at this interval, e.g. 15m, 1h.")] = None,
    cron: Annotated[str | None, typer.Option("--cron", help='Run on this cron schedule (UTC), e.g. '
                                             '"*/15 * * * *".')] = None,
    config: ConfigOpt = None, log_json: LogJsonOpt = False, verbose: VerboseOpt = False,
    tenant: TenantOpt = None,
) -> None:
    """Run syncs on a schedule, one at a time, until SIGINT/SIGTERM (which finish the current batch).
    Without --every or --cron, the settings' `[schedule] cron` (a tenant's from its own file)."""
    source = config_source(config, tenant)
    settings = load(source, log_json=log_json, verbose=verbose)  # fail fast on bad settings...
    # ...and on a state store that cannot be used
    StateStore.open(settings.state.url, schema=settings.state.pg_schema).close()
    try:
        trigger = Trigger.from_options(every, cron, settings.schedule.cron)
    except ScheduleError as exc:
        raise fail(str(exc)) from None

    def job(stop_event: threading.Event) -> int:
        fresh = load(source, log_json=log_json, verbose=verbose)  # pick up edited settings and mapping
        return execute(fresh, RunOptions(stop=stop_event), show_progress=False).exit_code

    with StopOnSignal(restore=False) as signals:  # the same handlers as `sync` (sync.run.signals)
        run_schedule(job, trigger, signals.event)


def setup_command(
    config: ConfigOpt = None, json_out: JsonOpt = False, tenant: TenantOpt = None,
    check_only: Annotated[bool, typer.Option("--check", help="Only report; create nothing.")] = False,
    log_json: LogJsonOpt = False, verbose: VerboseOpt = False,
) -> None:
    """Create the HubSpot properties and lists the mapping needs; check the Salesforce fields."""
    settings = load(config_source(config, tenant), log_json=log_json, verbose=verbose)
    ctx = context(settings)
    try:
        report = run_setup(ctx, create_missing=not check_only)
    except (AuthenticationError, ConfigurationError) as exc:
        raise fail(str(exc)) from None
    except ConnectorError as exc:  # as a run: a system that could not be reached is worth trying again
        raise fail(str(exc), EXIT_BAD_CONFIG if getattr(exc, "code", None) == "TLS" else EXIT_RECORD_FAILURES
                   ) from None
    finally:
        ctx.close()
    if json_out:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        out = Console()
        notice = settings.salesforce.login_notice()
        if notice:
            out.print(f"[yellow]Salesforce login:[/yellow] {notice}", highlight=False)
        out.print(f"HubSpot lists: {', '.join(sorted(report.hubspot_lists)) or '(none)'}")
        for p in report.hubspot_problems:
            out.print(f"[red]HubSpot:[/red] {safe(p)}", highlight=False)
        for p in report.salesforce_problems:
            out.print(f"[red]Salesforce:[/red] {safe(p)} (create or fix it in Setup > Object Manager)",
                      highlight=False)
        if report.ok:
            out.print("[green]setup complete: both systems have what the mapping needs[/green]")
    raise typer.Exit(0 if report.ok else EXIT_BAD_CONFIG)
