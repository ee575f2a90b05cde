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
from rich.markup import escape
from rich.table import Table

from sync.cli.mappings import parse_now
from sync.views.local_state import EXIT_BAD_CONFIG, EXIT_OK, LocalStateError, open_local_state, output_console
from sync.views.report import Report, build_report

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
            result = build_report(local.store, local.mapping, at)
    except (LocalStateError, ValueError) as exc:
        err.print(str(exc), markup=False)
        return EXIT_BAD_CONFIG
    if as_json:
        typer.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        render_report(result, console or output_console())
    return EXIT_OK


# --------------------------------------------------------------------------- rendering

def amount(value: float) -> str:
    """Compact amount: 84,730,000 -> "84.7M" (no currency: the org's own)."""
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            scaled = value / limit
            return f"{scaled:.1f}{suffix}" if abs(scaled) < 100 else f"{scaled:.0f}{suffix}"
    return f"{value:,.0f}"


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def render_report(r: Report, console: Console) -> None:
    run = (f"last run #{r.last_run.id} ({r.last_run.kind}, {r.last_run.status}, "
           f"{(r.last_run.finished_at or r.last_run.started_at):%Y-%m-%d %H:%M} UTC)"
           if r.last_run else "no run recorded yet")
    console.print(f"[bold]leadsync report[/bold] at {r.now:%Y-%m-%d %H:%M} UTC — mapping version "
                  f"{r.mapping_version} ({escape(r.mapping_file)}), {run}")
    console.print(f"{r.people} people, {r.quarantined} records quarantined (no usable email), "
                  f"{r.duplicates} duplicate groups")
    console.print(_stages(r))
    console.print(_loss_table(r))
    console.print(_reasons(r))
    console.print(_groups(r))
    console.print(_lists(r))


def _stages(r: Report) -> Table:
    t = Table(title="People per shared stage and rank", title_justify="left")
    t.add_column("Stage")
    t.add_column("People", justify="right")
    t.add_column("Share", justify="right")
    t.add_column("Rank")
    t.add_column("People", justify="right")
    stages, ranks = list(r.stages.items()), list(r.ranks.items())
    for i in range(max(len(stages), len(ranks))):
        s = stages[i] if i < len(stages) else ("", None)
        k = ranks[i] if i < len(ranks) else ("", None)
        t.add_row(s[0], "" if s[1] is None else str(s[1]), "" if s[1] is None else _pct(s[1], r.people),
                  k[0], "" if k[1] is None else str(k[1]))
    t.add_row("[bold]total[/bold]", f"[bold]{r.people}[/bold]", "", "", str(sum(r.ranks.values())))
    return t


def _loss_table(r: Report) -> Table:
    lost = r.lost
    t = Table(title=f"Lost deals by loss reason × phase at loss ({lost.total.deals} deals, "
              f"{amount(lost.total.amount)}; cells: deals / amount)", title_justify="left")
    t.add_column("Loss reason")
    for phase in lost.phases:
        t.add_column(escape(phase.replace("_", " ")), justify="right")
    t.add_column("Total", justify="right")
    for reason, tally in lost.by_reason().items():
        cells = []
        for phase in lost.phases:
            c = lost.cell(phase, reason)
            cells.append(f"{c.deals} / {amount(c.amount)}" if c.deals else "")
        t.add_row(escape(reason), *cells, f"{tally.deals} / {amount(tally.amount)}")
    by_phase = lost.by_phase()
    t.add_row("[bold]total[/bold]",
              *(f"{by_phase[p].deals} / {amount(by_phase[p].amount)}" for p in lost.phases),
              f"[bold]{lost.total.deals} / {amount(lost.total.amount)}[/bold]")
    return t


def _reasons(r: Report) -> Table:
    t = Table(title="Loss reasons ranked (what to address in the next approach)", title_justify="left")
    for name, justify in (("#", "right"), ("Loss reason", "left"), ("Deals", "right"), ("Share", "right"),
                          ("Amount", "right"), ("Mostly lost at", "left"), ("People now in", "left")):
        t.add_column(name, justify=justify)  # type: ignore[arg-type]
    for i, reason in enumerate(r.loss_reasons, 1):
        groups = ", ".join(f"{g} {n}" for g, n in reason.people_by_group.items()) or "-"
        name = f"{reason.reason} (excluded)" if reason.excluded else reason.reason
        t.add_row(str(i), escape(name), str(reason.deals), f"{100 * reason.share:.0f}%",
                  amount(reason.amount), escape(reason.top_phase.replace("_", " ")), groups)
    return t


def _groups(r: Report) -> Table:
    t = Table(title=f"Recycle groups ({r.not_recycled} people not recycled)", title_justify="left")
    for name in ("Group", "People", "Lost amount", "Re-engaged since loss", "Promoted low→high"):
        t.add_column(name, justify="left" if name == "Group" else "right")
    for g in r.groups:
        t.add_row(g.group, str(g.people), amount(g.lost_amount),
                  f"{g.re_engaged} ({_pct(g.re_engaged, g.people)})" if g.people else "0",
                  str(g.promoted) if g.group == "high" else "")
    return t


def _lists(r: Report) -> Table:
    t = Table(title="Nurture lists: wanted by the assignments vs managed by leadsync", title_justify="left")
    for name in ("System", "List", "Email", "Wanted people", "Wanted records", "Managed", "To change"):
        t.add_column(name, justify="right" if name[0] in "WMT" else "left")
    for s in r.lists:
        label = s.list_name if s.keys else f"{s.list_name} (not in the mapping)"
        diff = f"{s.difference:+d}" if s.difference else "0"
        t.add_row(s.system, escape(label), "yes" if s.email else "no", str(s.desired_people),
                  str(s.desired_records), str(s.managed), diff)
    return t
