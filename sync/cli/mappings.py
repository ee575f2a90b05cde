"""`leadsync mappings ...`: check a mapping file and explain how it treats a person.

    leadsync mappings validate [FILE]
    leadsync mappings explain --person FILE.json [--mapping FILE] [--now ISO] [--json]
    leadsync mappings explain EMAIL [--config FILE] [--now ISO] [--json]   (sync.views.explain, synced data)
    leadsync mappings preview FILE [--config FILE] [--sample N] [--now ISO] [--json]   (sync.views.impact)

Exit codes: 0 ok; 2 bad configuration or input, with every error printed as `file:line key: message`.
This module does the file I/O and the clock; `mappings` stays pure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from mappings import Mapping, MappingError
from mappings.engine import assign
from mappings.errors import FileErrors
from mappings.person_file import people_from_json_text
from sync.cli.explain import explain_email_command
from sync.cli.sync import load
from sync.cli.tenant import TenantOpt, config_source
from sync.exit_codes import EXIT_BAD_CONFIG
from sync.inputs import InputProblem, load_mapping_file, parse_now, read_text
from sync.run.context import open_context, write_sizes
from sync.run.setup import run_setup
from sync.settings import ConfigSource
from sync.views.assignment import assignment_json, render_text
from sync.views.impact import preview
from sync.views.impact_render import render_impact
from sync.views.local_state import LocalStateError, open_local_state, output_console
from sync.views.terminal import visible

app = typer.Typer(
    help="Check the mapping file and see how it scores, stages and groups people.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _fail(lines: list[str]) -> typer.Exit:
    for line in lines:
        typer.echo(line, err=True)
    return typer.Exit(EXIT_BAD_CONFIG)


@app.command()
def validate(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Mapping file to check (default: the bundled mappings/default.toml).",
            show_default=False,
            metavar="FILE",
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option("--live", help="Also check the mapped fields, properties, picklist options and lists "
                     "in both systems (settings from --config; reads only, creates nothing)."),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="settings.toml, for --live (default: $LEADSYNC_CONFIG or "
                     "./settings.toml); without FILE, its mapping_file is the one checked.",
                     show_default=False),
    ] = None,
    tenant: TenantOpt = None,
) -> None:
    """Check a mapping file: exit 0 with a one-line summary, or exit 2 listing every error."""
    if live:
        raise typer.Exit(_validate_live(file, config_source(config, tenant)))
    typer.echo(summary(_load_or_fail(file)))


def _validate_live(file: Path | None, config: ConfigSource) -> int:
    """The mapping checked, then both systems checked against it (no writes)."""
    settings = load(config)
    try:
        mapping = load_mapping_file(file or settings.sync.mapping_file)
    except InputProblem as exc:
        raise _fail([str(exc)]) from None
    except MappingError as exc:
        raise _fail([str(e) for e in exc.errors]) from None
    typer.echo(summary(mapping))
    ctx = open_context(settings, mapping=mapping)
    try:
        report = run_setup(ctx, create_missing=False)
    finally:
        ctx.close()
    problems = ([f"hubspot: {p}" for p in report.hubspot_problems]
                + [f"salesforce: {p}" for p in report.salesforce_problems])
    for line in problems:
        typer.echo(line, err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s) in the live systems (`leadsync setup` creates what HubSpot "
                   "lacks; Salesforce fields are created by an admin)", err=True)
        return EXIT_BAD_CONFIG
    typer.echo("live: both systems have every field, property, option and list the mapping writes")
    return 0


def summary(mapping: Mapping) -> str:
    """One line describing a valid mapping."""
    fields = len(mapping.field_mappings)
    return (
        f"{mapping.filename}: valid (version {mapping.version}; {len(mapping.phases)} opportunity stages, "
        f"{len(mapping.natives)} native stage sources, {len(mapping.behaviour)} behaviour and "
        f"{len(mapping.fit)} fit rules, score 0..{mapping.score_max}, {len(mapping.nurture_lists)} nurture "
        f"lists, {fields} field mappings; reads {len(mapping.hubspot_properties())} HubSpot properties)"
    )


@app.command("explain")
def explain_command(
    email: Annotated[
        str | None,
        typer.Argument(
            metavar="EMAIL",
            help="Explain a person from the state store the sync wrote (settings from --config).",
            show_default=False,
        ),
    ] = None,
    person: Annotated[
        Path | None,
        typer.Option(
            "--person",
            help="JSON file with one person or an array (docs/explain-person.md).",
            show_default=False,
        ),
    ] = None,
    mapping_file: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="Mapping file for --person (default: the bundled mappings/default.toml).",
            show_default=False,
        ),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Evaluate at this ISO date/time (default: now, UTC).", show_default=False),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file for EMAIL (default: $LEADSYNC_CONFIG, else ./settings.toml).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    tenant: TenantOpt = None,
) -> None:
    """Show a person's assignment and every rule behind it: a synced EMAIL, or --person FILE.json."""
    if email is not None and person is not None:
        raise _fail(["give either EMAIL or --person FILE.json, not both"])
    if email is not None:
        if mapping_file is not None:
            raise _fail(
                [
                    "--mapping applies to --person; for EMAIL the mapping comes from the settings "
                    "([sync] mapping_file)"
                ]
            )
        raise typer.Exit(explain_email_command(email, config_source(config, tenant), as_json, now))
    if person is None:
        raise _fail(["nothing to explain: give EMAIL or --person FILE.json (see docs/explain-person.md)"])
    try:
        at = parse_now(now)
        mapping = load_mapping_file(mapping_file)
        people = people_from_json_text(read_text(person), str(person))
    except (InputProblem, ValueError) as exc:
        lines = [str(e) for e in exc.errors] if isinstance(exc, FileErrors) else [str(exc)]
        raise _fail(lines) from None
    assignments = [assign(p, mapping, at) for p in people]
    if as_json:
        payload = [assignment_json(a, mapping) for a in assignments]
        typer.echo(json.dumps(payload[0] if len(payload) == 1 else payload, ensure_ascii=False, indent=2))
        return
    for i, a in enumerate(assignments):
        if i:
            typer.echo("")
        typer.echo(render_text(a, mapping, at))


@app.command("preview")
def preview_command(
    file: Annotated[
        Path,
        typer.Argument(help="The draft mapping file, compared with the current one (the settings' "
                       "mapping_file).", show_default=False, metavar="FILE"),
    ],
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", show_default=False,
                     help="Settings file (default: $LEADSYNC_CONFIG, else ./settings.toml)."),
    ] = None,
    sample: Annotated[int, typer.Option("--sample", min=0, help="People shown with before → after.")] = 20,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Evaluate at this ISO date/time (default: now, UTC).", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    tenant: TenantOpt = None,
) -> None:
    """What saving FILE would do to everyone in the state store: stage, rank, group and list changes, call
    tasks, writes and API calls (from the stored snapshots; no API call)."""
    raise typer.Exit(_preview(file, config_source(config, tenant), sample, now, as_json))


def _load_or_fail(file: Path) -> Mapping:
    """The mapping in `file`, or exit 2 listing every error (`validate`'s output, shared by `preview`)."""
    try:
        return load_mapping_file(file)
    except InputProblem as exc:
        raise _fail([str(exc), "1 error"]) from None
    except MappingError as exc:
        count = len(exc.errors)
        raise _fail([str(e) for e in exc.errors] + [f"{count} error{'s' if count != 1 else ''}"]) from None


def _preview(file: Path, config: ConfigSource, sample: int, now: str | None, as_json: bool) -> int:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    draft = _load_or_fail(file)
    try:
        at = parse_now(now)
        with open_local_state(config) as local:
            sizes = write_sizes(local.settings)
            with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
                task = bar.add_task("impact preview", total=None)

                def advance(phase: str, done: int, total: int | None) -> None:
                    bar.update(task, description=phase, completed=done, total=total)

                impact = preview(local.store, local.mapping, draft, now=at, progress=advance, sample=sample,
                                 sizes=sizes)
            current = local.mapping
    except (LocalStateError, ValueError) as exc:
        err.print(visible(exc), markup=False)
        return EXIT_BAD_CONFIG
    if as_json:
        payload = {"current": {"file": current.filename, "version": current.version},
                   "draft": {"file": draft.filename, "version": draft.version}, "now": at.isoformat(),
                   **impact.to_dict()}
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return 0
    render_impact(impact, output_console(),
                  title=f"{current.filename} (version {current.version}) → {draft.filename} "
                        f"(version {draft.version}) at {at:%Y-%m-%d %H:%M} UTC")
    return 0
