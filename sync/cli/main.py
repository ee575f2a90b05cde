"""The `leadsync` command line (Typer). Each command group lives in its own module."""

from __future__ import annotations

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from sync.cli import console as cli_console
from sync.cli import demo as cli_demo
from sync.cli import doctor as cli_doctor
from sync.cli import history as cli_history
from sync.cli import mappings as cli_mappings
from sync.cli import report as cli_report
from sync.cli import runs as cli_runs
from sync.cli import sandbox as cli_sandbox
from sync.cli import sync as cli_sync
from sync.cli import tenant as cli_tenant
from sync.exit_codes import EXIT_BAD_CONFIG
from sync.state.errors import StateStoreError


def root_cause(exc: StateStoreError) -> StateStoreError:
    """The first state-store error of a chain (closing up after one can raise another); an error
    re-raised `from None` with a better message stands for the one it replaced."""
    cause: BaseException | None = exc
    first = exc
    while cause is not None:
        if isinstance(cause, StateStoreError):
            first = cause
        cause = cause.__cause__ or (None if cause.__suppress_context__ else cause.__context__)
    return first


class LeadsyncGroup(TyperGroup):
    """The one place where state-store trouble, from any command, becomes `error: ...` and exit 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except StateStoreError as exc:
            Console(stderr=True).print(f"[red]error:[/red] {escape(str(root_cause(exc)))}", highlight=False,
                                       soft_wrap=True)
            raise typer.Exit(EXIT_BAD_CONFIG) from None


app = typer.Typer(
    name="leadsync",
    help="Turn lost deals into a second pipeline: recycle groups and nurture lists in Salesforce "
    "and HubSpot.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LeadsyncGroup,
)
app.add_typer(cli_mappings.app, name="mappings")
cli_sandbox.register(app)
cli_sync.register(app)
cli_doctor.register(app)
cli_runs.register(app)
cli_report.register(app)
cli_history.register(app)
cli_demo.register(app)
cli_console.register(app)
cli_tenant.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
