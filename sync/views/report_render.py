"""Rich rendering of a `sync.views.report.Report` (the text form of `leadsync report`). CRM text
(loss reasons, stage names, list names, error codes) goes through `sync.views.terminal.safe`: control
characters visible, markup escaped."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sync.views.report import Report
from sync.views.terminal import safe


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
                  f"{r.mapping_version} ({safe(r.mapping_file)}), {run}")
    console.print(f"{r.people} people, {r.quarantined} records quarantined (no usable email), "
                  f"{r.duplicates} duplicate groups")
    console.print(_stages(r))
    console.print(_loss_table(r))
    console.print(_reasons(r))
    console.print(_groups(r))
    console.print(_lists(r))
    if r.failures:
        console.print(_failures(r))


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
        t.add_row(safe(s[0]), "" if s[1] is None else str(s[1]), "" if s[1] is None else _pct(s[1], r.people),
                  safe(k[0]), "" if k[1] is None else str(k[1]))
    t.add_row("[bold]total[/bold]", f"[bold]{r.people}[/bold]", "", "", str(sum(r.ranks.values())))
    return t


def _loss_table(r: Report) -> Table:
    lost = r.lost
    t = Table(title=f"Lost deals by loss reason × phase at loss ({lost.total.deals} deals, "
              f"{amount(lost.total.amount)}; cells: deals / amount)", title_justify="left")
    t.add_column("Loss reason")
    for phase in lost.phases:
        t.add_column(safe(phase.replace("_", " ")), justify="right")
    t.add_column("Total", justify="right")
    for reason, tally in lost.by_reason().items():
        cells = []
        for phase in lost.phases:
            c = lost.cell(phase, reason)
            cells.append(f"{c.deals} / {amount(c.amount)}" if c.deals else "")
        t.add_row(safe(reason), *cells, f"{tally.deals} / {amount(tally.amount)}")
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
        groups = safe(", ".join(f"{g} {n}" for g, n in reason.people_by_group.items()) or "-")
        name = f"{reason.reason} (excluded)" if reason.excluded else reason.reason
        t.add_row(str(i), safe(name), str(reason.deals), f"{100 * reason.share:.0f}%",
                  amount(reason.amount), safe(reason.top_phase.replace("_", " ")), groups)
    return t


def _groups(r: Report) -> Table:
    t = Table(title=f"Recycle groups ({r.not_recycled} people not recycled)", title_justify="left")
    for name in ("Group", "People", "Lost amount", "Re-engaged since loss", "Promoted low→high"):
        t.add_column(name, justify="left" if name == "Group" else "right")
    for g in r.groups:
        t.add_row(safe(g.group), str(g.people), amount(g.lost_amount),
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
        t.add_row(s.system, safe(label), "yes" if s.email else "no", str(s.desired_people),
                  str(s.desired_records), str(s.managed), diff)
    return t


def _failures(r: Report) -> Table:
    t = Table(title="Open failures by error code (details: leadsync failures)", title_justify="left")
    for name in ("System", "Code", "Records"):
        t.add_column(name, justify="right" if name == "Records" else "left")
    for system, code, n in r.failures:
        t.add_row(system, safe(code), str(n))
    return t
