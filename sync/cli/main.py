"""The `leadsync` command line (Typer). Each command group lives in its own module."""

from __future__ import annotations

import typer

from sync.cli import demo as cli_demo
from sync.cli import doctor as cli_doctor
from sync.cli import mappings as cli_mappings
from sync.cli import report as cli_report
from sync.cli import runs as cli_runs
from sync.cli import sandbox as cli_sandbox
from sync.cli import sync as cli_sync

app = typer.Typer(
    name="leadsync",
    help="Turn lost deals into a second pipeline: recycle groups and nurture lists in Salesforce "
    "and HubSpot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(cli_mappings.app, name="mappings")
cli_sandbox.register(app)
cli_sync.register(app)
cli_doctor.register(app)
cli_runs.register(app)
cli_report.register(app)
cli_demo.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
