"""`leadsync report [--config PATH] [--json] [--now ISO]`: loss analysis and stage KPIs as rich tables
(or JSON), from the local state store only (see `sync.views.report`).

Exit codes: 0 ok; 2 bad configuration (settings, mapping, state store missing or unusable, --now).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_OK
from sync.inputs import parse_now
from sync.views.local_state import LocalStateError, open_local_state, output_console
from sync.views.report import build_report
from sync.views.report_render import render_report
from sync.views.terminal import visible

CONFIG_HELP = "Settings file (default: $LEADSYNC_CONFIG, else ./settings.toml)."
NOW_HELP = "Evaluate time-based rules at this ISO date/time (default: now, UTC)."


def register(app: typer.Typer) -> None:
    """Add the `report` command to the leadsync CLI."""
    app.command("report", help="Loss analysis (失注分析) and stage KPIs from the local state store: people "
                "per stage and rank, lost deals by phase at loss × loss reason, recycle groups and their "
                "re-engagement since the loss, nurture list sizes. Calls no API.")(report)


def report(
    config: Annotated[Path | None, typer.Option("--config", "-c", help=CONFIG_HELP,
                                                show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    now: Annotated[str | None, typer.Option("--now", help=NOW_HELP, show_default=False)] = None,
) -> None:
    raise typer.Exit(report_command(config, as_json, now))


def report_command(config: Path | None, as_json: bool, now: str | None,
                   console: Console | None = None) -> int:
    """Build and print the report; returns the exit code (0 ok, 2 bad configuration)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        at = parse_now(now)
        with open_local_state(config) as local:
            result = build_report(local.store, local.mapping, at,
                                  people_per_chunk=local.settings.sync.people_per_chunk)
    except (LocalStateError, ValueError) as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        render_report(result, console or output_console())
    return EXIT_OK
