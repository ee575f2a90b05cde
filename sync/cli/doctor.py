"""`leadsync doctor`: check settings, mapping, the Salesforce org and the HubSpot portal at once,
read-only; one line per check (ok / warning / problem) and, for anything not ok, the fix.

Exit codes: 0 nothing blocks a sync (warnings do not); 2 a problem blocks it.
"""

from __future__ import annotations

import json

import typer

from sync import logs
from sync.cli.sync import ConfigOpt, JsonOpt, LogJsonOpt, VerboseOpt
from sync.cli.tenant import TenantOpt, config_source, tenant_name
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_OK
from sync.run.doctor import DoctorReport, run_doctor, settings_problem
from sync.settings import ConfigSource, SettingsFileError, load_settings
from sync.views.terminal import visible

WIDTH = {"status": 8, "system": 11, "name": 12}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_command)


def doctor_command(config: ConfigOpt = None, tenant: TenantOpt = None, json_out: JsonOpt = False,
                   log_json: LogJsonOpt = False, verbose: VerboseOpt = False) -> None:
    """Check everything a sync needs (settings, mapping, Salesforce, HubSpot); writes nothing."""
    report = diagnose(config_source(config, tenant), log_json=log_json, verbose=verbose)
    code = EXIT_BAD_CONFIG if report.blocking else EXIT_OK
    if json_out:
        typer.echo(json.dumps(report.to_dict(code), ensure_ascii=False))
    else:
        typer.echo(render(report))
    raise typer.Exit(code)


def diagnose(config: ConfigSource, *, log_json: bool, verbose: bool) -> DoctorReport:
    try:
        settings = load_settings(config)
    except SettingsFileError as exc:
        return settings_problem(str(exc))
    logs.configure(settings, level="DEBUG" if verbose else None, json_format=log_json or None,
                   tenant=tenant_name(config))
    return run_doctor(settings)


def render(report: DoctorReport) -> str:
    """One line per check; the fix on the next line, indented under the detail."""
    lines = []
    indent = " " * (sum(WIDTH.values()) + 3)
    for c in report.checks:
        lines.append(f"{c.status:<{WIDTH['status']}} {c.system:<{WIDTH['system']}} "
                     f"{c.name:<{WIDTH['name']}} {visible(c.detail)}")  # API answers hold CRM text
        if c.fix:
            lines.append(f"{indent}fix: {visible(c.fix)}")
    n = report.counts()
    verdict = ("a problem blocks a sync" if report.blocking else
               "nothing blocks a sync" + (" (see the warnings)" if n["warning"] else ""))
    lines.append(f"{n['ok']} ok, {n['warning']} warning(s), {n['problem']} problem(s): {verdict}")
    return "\n".join(lines)
