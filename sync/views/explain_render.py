"""Rich rendering of a `sync.views.explain.PersonExplanation` (the text form of `mappings explain EMAIL`).
Every value that came from a CRM goes through `sync.views.terminal.safe` (control characters visible)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from connectors.base import Scalar
from sync.views.explain import DealInput, PersonExplanation
from sync.views.terminal import safe, visible

VALUE_CHARS = 40  # longer written values are shortened in the tables
ID_WIDTH = 18  # Salesforce ids are never cut


def shown(value: Scalar, field_from: str | None = None) -> str:
    """A value for a table cell: blank as "(blank)", the explanation text as its length, other long
    text shortened (with its length)."""
    if value is None or value == "":
        return "(blank)"
    text = visible(value)
    if field_from == "explanation":
        return f"(explanation, {len(text)} chars)"
    if len(text) > VALUE_CHARS:
        return f"{text[:VALUE_CHARS - 1]}… ({len(text)} chars)"
    return text


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def render_explanation(x: PersonExplanation, console: Console) -> None:
    others = [e for e in x.emails if e != x.email]
    also = f" (spelled {', '.join(others)} in a system)" if others else ""
    console.print(f"[bold]{safe(x.email)}[/bold]{safe(also)} — opted out of email: Salesforce "
                  f"{_yes(x.opted_out_salesforce)}, HubSpot {_yes(x.opted_out_hubspot)}")
    console.print(f"At {x.now.isoformat()} with {safe(x.mapping.filename)} (version {x.mapping.version})")
    console.print(_salesforce(x))
    console.print(_deals(x))
    console.print(_hubspot(x))
    console.print("[bold]Assignment and every rule that fired[/bold]")
    for line in x.explanation:
        console.print(f"  {safe(line)}")
    for table in _written(x):
        console.print(table)
    console.print(_lists(x))
    _tasks(x, console)


def _salesforce(x: PersonExplanation) -> Table | str:
    if not x.salesforce:
        return "Salesforce: no contact with this email on a stored deal"
    t = Table(title="Salesforce contacts", title_justify="left")
    t.add_column("Contact", min_width=ID_WIDTH)
    for name in ("Name", "Email", "Opted out"):
        t.add_column(name)
    t.add_column("Deals", min_width=ID_WIDTH)
    for c in x.salesforce:
        t.add_row(safe(c.contact_id), safe(c.name), safe(c.email or ""), _yes(c.opted_out),
                  safe(", ".join(c.deal_ids)))
    return t


def _deals(x: PersonExplanation) -> Table | str:
    if not x.deals:
        return "Deals: none"
    t = Table(title="Deals (* = the deal the recycle group was decided on)", title_justify="left")
    t.add_column("Deal / owner", min_width=ID_WIDTH + 2)
    for name in ("Name", "State", "Stage at loss → phase", "Loss reason", "Lost on", "Amount"):
        t.add_column(name, justify="right" if name == "Amount" else "left")
    for d in x.deals:
        state = f"{d.state} (deleted)" if d.deleted else d.state
        stage = (f"{d.stage_at_loss or 'unknown'} → {(d.phase or '-').replace('_', ' ')}"
                 if d.state == "lost" else f"(now {d.stage_name})")
        t.add_row(f"{'* ' if d.decides_group else ''}{safe(d.deal_id)}\nowner {safe(d.owner_id or '-')}",
                  safe(d.name), safe(state), safe(stage), safe(d.loss_reason or "-"),
                  _lost_on(d),
                  f"{d.amount:,.0f}" if d.amount is not None else "-")
    return t


def _lost_on(d: DealInput) -> str:
    if d.lost_date is None:
        return "-"
    source = {"history": "\n(stage history)", "close_date": "\n(CloseDate: no stage history)"}
    return d.lost_date.isoformat() + source.get(d.lost_date_source or "", "")


def _hubspot(x: PersonExplanation) -> Table | str:
    if not x.hubspot:
        return "HubSpot: no contact with this email"
    t = Table(title="HubSpot contacts: the properties the mapping reads", title_justify="left")
    t.add_column("Property")
    for h in x.hubspot:
        t.add_column(safe(h.contact_id) + (" (archived: ignored)" if h.archived else ""))
    names = list(dict.fromkeys(p for h in x.hubspot for p in h.properties))
    for name in names:
        t.add_row(safe(name), *(safe(shown(h.properties.get(name))) for h in x.hubspot))
    return t


def _written(x: PersonExplanation) -> list[Table | str]:
    """One table per record: each field leadsync owns, its last confirmed write and today's value."""
    if not x.fields:
        return ["Written: the mapping writes no field"]
    froms = {(fm.system, fm.object, fm.field): fm.from_name for fm in x.mapping.field_mappings}
    tables: dict[tuple[str, str, str], Table] = {}
    for f in x.fields:
        t = tables.get((f.system, f.object, f.record_id))
        if t is None:
            t = Table(title=f"Written to {f.system} {f.object} {safe(f.record_id)}", title_justify="left")
            for name in ("Field", "Policy", "Last written", "When (mapping version, run)", "Now",
                         "Status"):
                t.add_column(name)
            tables[(f.system, f.object, f.record_id)] = t
        src = froms.get((f.system, f.object, f.field))
        when = (f"{f.written_at:%Y-%m-%d %H:%M} (v{f.mapping_version}, run "
                f"{f.run_id if f.run_id is not None else '-'})" if f.written_at else "-")
        t.add_row(safe(f.field), f.policy, safe(shown(f.written, src)) if f.written_at else "-", when,
                  safe(shown(f.wanted, src)), f.status)
    return list(tables.values())


def _lists(x: PersonExplanation) -> Table | str:
    if not x.lists:
        return "Lists: on no nurture list and wanted on none"
    t = Table(title="Nurture list memberships", title_justify="left")
    for name in ("System", "List"):
        t.add_column(name)
    t.add_column("Record", min_width=ID_WIDTH)
    for name in ("Managed since", "Wanted now"):
        t.add_column(name)
    for m in x.lists:
        since = f"{m.managed_since:%Y-%m-%d %H:%M}" if m.managed_since else "not a member yet"
        wanted = "yes" if m.wanted else "no (the next run removes it)"
        t.add_row(m.system, safe(m.list_name), safe(m.record_id), since, wanted)
    return t


def _tasks(x: PersonExplanation, console: Console) -> None:
    if not x.tasks:
        console.print("Call tasks: none for this person's recycle cycles")
        return
    console.print("[bold]Call tasks[/bold]")
    for t in x.tasks:
        where = (f"task {t.task.task_id} in {t.task.system}, created {t.task.created_at:%Y-%m-%d %H:%M}"
                 f"{f' by run {t.task.run_id}' if t.task.run_id is not None else ''}"
                 if t.task else "not created yet (the next run creates it)")
        cycle = "current cycle" if t.current else "earlier cycle"
        console.print(visible(f"  deal {t.deal_id} ({cycle}, key {t.cycle_key}): {where}"), markup=False)
