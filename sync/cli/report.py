"""`leadsync report [--config PATH] [--json] [--csv DIR] [--now ISO] [--since DATE] [--until DATE]`: loss
analysis and stage KPIs as rich tables (or JSON), from the local state store only: the snapshot
(`sync.views.report`: what the last runs decided, aggregated in the database; with `--now`, the slow
what-if: every person decided again as a run at that time would) and the KPIs over time from the
stage history (`sync.views.kpis`, limited to [--since, --until); `--csv DIR` writes those sections as
CSV files).

Exit codes: 0 ok; 2 bad configuration (settings, mapping, state store missing or unusable, --now).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sync.cli.tenant import TenantOpt, config_source
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_OK
from sync.inputs import InputProblem, parse_instant, parse_now
from sync.settings import ConfigSource
from sync.views.kpis import stage_kpis
from sync.views.kpis_render import render_kpis, write_csv
from sync.views.local_state import LocalStateError, open_local_state, output_console
from sync.views.report import build_report
from sync.views.report_render import render_report
from sync.views.terminal import visible

CONFIG_HELP = "Settings file (default: $LEADSYNC_CONFIG, else ./settings.toml)."
NOW_HELP = ("What a run at this ISO date/time (UTC) would decide: every person assigned again from the "
            "stored snapshots (slow on a big book). Default: what the last runs decided.")
SINCE_HELP = "KPIs over time: only moves, cycles and losses from this ISO date/time on (UTC)."
UNTIL_HELP = "KPIs over time: only moves, cycles and losses before this ISO date/time (UTC)."
CSV_HELP = "Also write the KPI sections as CSV files (UTF-8) into this folder."


def register(app: typer.Typer) -> None:
    """Add the `report` command to the leadsync CLI."""
    app.command("report", help="Loss analysis (失注分析) and stage KPIs from the local state store: people "
                "per stage and rank, lost deals by phase at loss × loss reason, recycle groups and their "
                "re-engagement since the loss, nurture list sizes; and over time (--since/--until): "
                "waterfall conversion and velocity per cohort, the second pipeline from recycled people, "
                "losses per quarter. Calls no API.")(report)


def report(
    config: Annotated[Path | None, typer.Option("--config", "-c", help=CONFIG_HELP,
                                                show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    now: Annotated[str | None, typer.Option("--now", help=NOW_HELP, show_default=False)] = None,
    since: Annotated[str | None, typer.Option("--since", help=SINCE_HELP, show_default=False)] = None,
    until: Annotated[str | None, typer.Option("--until", help=UNTIL_HELP, show_default=False)] = None,
    csv_dir: Annotated[Path | None, typer.Option("--csv", help=CSV_HELP, show_default=False)] = None,
    tenant: TenantOpt = None,
) -> None:
    raise typer.Exit(report_command(config_source(config, tenant), as_json, now, since=since, until=until,
                                    csv_dir=csv_dir))


def report_command(config: ConfigSource, as_json: bool, now: str | None, console: Console | None = None, *,
                   since: str | None = None, until: str | None = None, csv_dir: Path | None = None) -> int:
    """Build and print the report; returns the exit code (0 ok, 2 bad configuration or options)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        at = parse_now(now)
        start = parse_instant(since, "--since") if since else None
        end = parse_instant(until, "--until") if until else None
        if start is not None and end is not None and start >= end:
            raise InputProblem(f"--since ({since}) must be before --until ({until})")
        with open_local_state(config) as local:
            # without --now: what the last runs decided, in the database; with it: the slow what-if
            result = build_report(local.store, local.mapping, at if now is not None else None,
                                  people_per_chunk=local.settings.sync.people_per_chunk, reported_at=at)
            kpis = stage_kpis(local.store, local.mapping, since=start, until=end)
        written = write_csv(kpis, csv_dir) if csv_dir is not None else []
    except (LocalStateError, ValueError) as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    except OSError as exc:
        err.print(visible(f"--csv {csv_dir}: cannot write there: {exc.strerror or exc}"), markup=False)
        return EXIT_BAD_CONFIG
    if as_json:
        data = {**result.to_dict(), "over_time": kpis.to_dict()}
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        out = console or output_console()
        render_report(result, out)
        render_kpis(kpis, out)
    for path in written:
        err.print(visible(f"wrote {path}"), markup=False)
    return EXIT_OK
