"""CLI: `leadsync runs [show ID]` (run history) and `leadsync failures [retry]` (quarantined records)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sync.cli.sync import ConfigOpt, JsonOpt, LogJsonOpt, VerboseOpt, execute_until_signal, fail, load
from sync.cli.tenant import TenantOpt, config_source
from sync.exit_codes import EXIT_NOT_FOUND
from sync.run.runner import RunOptions
from sync.settings import ConfigSource
from sync.state.records import FailureRecord, RunRecord
from sync.state.store import StateStore
from sync.views.terminal import safe, visible

runs_app = typer.Typer(help="Run history.", no_args_is_help=False, invoke_without_command=True)
failures_app = typer.Typer(help="Records that failed (quarantined with their reason).",
                           invoke_without_command=True)


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
    app.add_typer(failures_app, name="failures")


def _store(config: ConfigSource) -> StateStore:
    state = load(config).state
    return StateStore.open(state.url, schema=state.pg_schema)


def run_dict(r: RunRecord) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "status": r.status, "started_at": r.started_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            "duration_seconds": r.duration_seconds, "mapping_version": r.mapping_version,
            "counts": dict(r.counts), "api_calls": dict(r.api_calls), "error": r.error}


def failure_dict(f: FailureRecord) -> dict[str, Any]:
    return {"id": f.id, "system": f.system, "record": f.record_key, "stage": f.stage, "reason": f.reason,
            "attempts": f.attempts, "first_seen": f.first_seen.isoformat(),
            "last_seen": f.last_seen.isoformat(), "resolved": f.resolved}


def _calls(r: RunRecord) -> str:
    return ", ".join(f"{system} {n:,}" for system, n in r.calls_per_system.items()) or "-"


@runs_app.callback()
def runs_list(ctx: typer.Context, config: ConfigOpt = None, tenant: TenantOpt = None,
              json_out: JsonOpt = False,
              limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 20,
              ) -> None:
    """The most recent runs: status, duration, writes and API calls per system."""
    if ctx.invoked_subcommand is not None:
        return
    with _store(config_source(config, tenant)) as store:
        runs = store.list_runs(limit)
    if json_out:
        typer.echo(json.dumps([run_dict(r) for r in runs], ensure_ascii=False))
        return
    table = Table("id", "kind", "started (UTC)", "status", "seconds", "people", "API calls", "error")
    for r in runs:
        secs = f"{r.duration_seconds:.1f}" if r.duration_seconds is not None else "-"
        table.add_row(str(r.id), r.kind, r.started_at.strftime("%Y-%m-%d %H:%M:%S"), r.status, secs,
                      f"{r.counts.get('people', 0):,}", _calls(r), safe(visible(r.error)[:60]))
    Console().print(table)


@runs_app.command("show")
def runs_show(run_id: Annotated[int, typer.Argument(help="Run id (see `leadsync runs`).")],
              config: ConfigOpt = None, json_out: JsonOpt = False, tenant: TenantOpt = None) -> None:
    """Everything recorded about one run."""
    with _store(config_source(config, tenant)) as store:
        record = store.get_run(run_id)
    if record is None:
        raise fail(f"no run with id {run_id} (`leadsync runs` lists them)", code=EXIT_NOT_FOUND)
    data = run_dict(record)
    if json_out:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    out = Console()
    for key in ("id", "kind", "status", "started_at", "finished_at", "duration_seconds", "mapping_version",
                "error"):
        out.print(f"{key}: {visible(str(data[key]))}", highlight=False, markup=False)
    table = Table("count", "value", title="counts", title_justify="left")
    for k, v in sorted(record.counts.items()):
        table.add_row(safe(k), f"{v:,}" if isinstance(v, int) else safe(v))
    out.print(table)
    calls = Table("system", "endpoint", "calls", title="API calls", title_justify="left")
    for system, endpoints in sorted(record.api_calls.items()):
        for endpoint, n in sorted(endpoints.items()):
            calls.add_row(safe(system), safe(endpoint), f"{n:,}")
    out.print(calls)


@failures_app.callback()
def failures_list(ctx: typer.Context, config: ConfigOpt = None, tenant: TenantOpt = None,
                  json_out: JsonOpt = False,
                  include_resolved: Annotated[bool, typer.Option("--all", help="Resolved ones too.")] = False,
                  ) -> None:
    """Open failures: the record, the stage (identity, map, write), the reason and the attempts."""
    if ctx.invoked_subcommand is not None:
        return
    with _store(config_source(config, tenant)) as store:
        failures = store.list_failures(include_resolved=include_resolved)
    if json_out:
        typer.echo(json.dumps([failure_dict(f) for f in failures], ensure_ascii=False))
        return
    table = Table("id", "system", "record", "stage", "attempts", "last seen", "reason")
    for f in failures:
        table.add_row(str(f.id), f.system, safe(f.record_key), f.stage, str(f.attempts),
                      f.last_seen.strftime("%Y-%m-%d %H:%M"), safe(visible(f.reason)[:80]))
    Console().print(table)
    Console(stderr=True).print(f"{len(failures)} failure(s)")


@failures_app.command("retry")
def failures_retry(config: ConfigOpt = None, json_out: JsonOpt = False, log_json: LogJsonOpt = False,
                   verbose: VerboseOpt = False, tenant: TenantOpt = None) -> None:
    """Retry failed records now: a run that plans every person again, so each failed write is sent
    again (identity failures need the source record fixed first)."""
    settings = load(config_source(config, tenant), log_json=log_json, verbose=verbose)
    execute_until_signal(settings, RunOptions(kind="retry"), json_out=json_out,
                         again="leadsync failures retry")
