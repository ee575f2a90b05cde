"""`leadsync history EMAIL [--json]`: one person's path through the stages and recycle cycles, from the
local state store (no API calls). The work is in `sync.views.history`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sync.cli.explain import print_person
from sync.cli.tenant import TenantOpt, config_source
from sync.exit_codes import EXIT_BAD_CONFIG
from sync.settings import ConfigSource
from sync.views.history import person_history
from sync.views.history_render import render_history
from sync.views.local_state import LocalStateError, open_local_state
from sync.views.terminal import visible

CONFIG_HELP = "Settings file (default: $LEADSYNC_CONFIG, else ./settings.toml)."


def register(app: typer.Typer) -> None:
    """Add the `history` command to the leadsync CLI."""
    app.command("history", help="One person's path through the stages, ranks and recycle groups, with "
                "dates, the cause and rule of each move, and their recycle cycles. Calls no API.")(history)


def history(
    email: Annotated[str, typer.Argument(help="The person's email (either system's spelling).")],
    config: Annotated[Path | None, typer.Option("--config", "-c", help=CONFIG_HELP,
                                                show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the history as JSON.")] = False,
    tenant: TenantOpt = None,
) -> None:
    raise typer.Exit(history_command(email, config_source(config, tenant), as_json))


def history_command(email: str, config: ConfigSource, as_json: bool,
                    console: Console | None = None) -> int:
    """Print the history; returns the exit code (0 found; 2 not found or bad configuration)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        with open_local_state(config) as local:
            result = person_history(local.store, email)
    except LocalStateError as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    return print_person(result, email, as_json, render_history, console, err, missing=(
        "no history in the state store", "no run has recorded this person; run `leadsync sync`"))
