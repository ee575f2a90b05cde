"""`--tenant NAME`, the one option every command that takes `--config` also takes, and `leadsync
tenants`, the list of tenants (docs/tenants.md).

    tenant: TenantOpt = None
    ... load_settings(config_source(config, tenant))

Without it nothing changes; with it the settings are the tenant's file in the tenants folder of the
`--config` file (sync.tenants), and an unknown tenant is a settings error (exit 2) naming the known ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from sync import tenants
from sync.exit_codes import EXIT_BAD_CONFIG
from sync.settings import ConfigSource, SettingsFileError, load_settings
from sync.state.errors import StateStoreError
from sync.state.records import RunRecord
from sync.state.sql import create_engine, display_url, sqlite_path
from sync.state.store import StateStore
from sync.tenants import TenantConfig
from sync.views.terminal import safe

TENANT_HELP = ("Act for this tenant: its settings file tenants/NAME.toml (next to the --config file, or "
               "$LEADSYNC_TENANTS_DIR) and its own state; `leadsync tenants` lists them.")

TenantOpt = Annotated[str | None, typer.Option("--tenant", help=TENANT_HELP, show_default=False,
                                               metavar="NAME")]


def config_source(config: Path | str | None, tenant: str | None) -> ConfigSource:
    """What to load: the settings file, or a tenant's when `--tenant` was given."""
    return config if tenant is None else TenantConfig(config, tenant)


def tenant_name(source: ConfigSource) -> str | None:
    """The tenant a command acts for (its log lines name it), None without `--tenant`."""
    return source.tenant if isinstance(source, TenantConfig) else None


def register(app: typer.Typer) -> None:
    app.command("tenants")(tenants_command)


def tenants_command(
    config: Annotated[Path | None, typer.Option("--config", "-c", show_default=False, help=(
        "The settings file whose folder holds tenants/ (default: $LEADSYNC_CONFIG or ./settings.toml); "
        "$LEADSYNC_TENANTS_DIR names the folder instead."))] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for machines).")] = False,
) -> None:
    """The tenants: name, state store (password hidden) and last run. Reads; creates nothing."""
    folder = tenants.tenants_dir(config)
    try:
        found = tenants.list_tenants(folder)
    except tenants.TenantError as exc:  # (sync.cli.sync's `fail` imports this module)
        Console(stderr=True).print(f"[red]error:[/red] {safe(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_CONFIG) from None
    rows = [_row(config, t) for t in found]
    if as_json:
        typer.echo(json.dumps({"folder": str(folder), "tenants": rows}, ensure_ascii=False))
        return
    if not rows:
        Console(stderr=True).print(f"no tenants in {safe(str(folder))} (one settings file per tenant: "
                                   "tenants/NAME.toml; docs/tenants.md)", highlight=False, soft_wrap=True)
        return
    table = Table("tenant", "state", "last run", "status")
    for r in rows:
        run = r["last_run"]
        last = "-" if run is None else f"#{run['id']} {run['started_at']}"
        status = r["problem"] or (run["status"] if run else "no runs yet")
        table.add_row(r["name"], safe(r["state"] or "-"), last, safe(status))
    Console(soft_wrap=True).print(table)


def _row(config: Path | None, tenant: tenants.Tenant) -> dict[str, Any]:
    row: dict[str, Any] = {"name": tenant.name, "file": str(tenant.path), "state": None, "last_run": None,
                           "problem": None}
    try:
        state = load_settings(TenantConfig(config, tenant.name)).state
    except SettingsFileError as exc:
        row["problem"] = str(exc)
        return row
    try:
        row["state"] = display_url(state.url)
        if make_url(state.url).get_backend_name() == "postgresql" and state.pg_schema:
            row["state"] += f" (schema {state.pg_schema})"
        run = _last_run(state.url, state.pg_schema)
    except (StateStoreError, SQLAlchemyError, ValueError) as exc:
        row["problem"] = f"state store: {exc}"
        return row
    if run is not None:
        row["last_run"] = {"id": run.id, "kind": run.kind, "status": run.status,
                           "started_at": run.started_at.strftime("%Y-%m-%d %H:%M:%S"), "error": run.error}
    return row


def _last_run(url: str, schema: str | None) -> RunRecord | None:
    """The tenant's last run; None when its store does not exist yet (then nothing is created)."""
    parsed = make_url(url)
    path = sqlite_path(parsed)
    if path is not None and not path.is_file():
        return None
    if path is None and schema is not None and parsed.get_backend_name() == "postgresql":
        engine = create_engine(parsed)
        try:
            with engine.connect() as conn:
                exists = conn.execute(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"),
                                      {"s": schema}).first()
        finally:
            engine.dispose()
        if exists is None:
            return None
    with StateStore.open(url, schema=schema) as store:
        runs = store.list_runs(1)
    return runs[0] if runs else None
