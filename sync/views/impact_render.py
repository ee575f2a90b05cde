"""The impact preview (`sync.views.impact`) as rich tables for `leadsync mappings preview`. CRM text (names,
list names from the mapping) goes through `sync.views.terminal.safe`."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from sync.views.impact import Impact, Standing
from sync.views.terminal import safe


def _table(title: str, columns: Sequence[str], numbers_from: int) -> Table:
    t = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        t.add_column(name, justify="right" if i >= numbers_from else "left")
    return t


def standing_text(st: Standing) -> str:
    return (f"{st.stage}, {st.rank} ({st.score}), group {st.group or 'none'}, "
            f"list {st.nurture_list or 'none'}" + (", call task" if st.task else ""))


def render_impact(impact: Impact, console: Console, *, title: str = "") -> None:
    console.print(f"[bold]Impact preview[/bold] {safe(title)}".rstrip())
    console.print(f"{impact.people:,} people; {impact.changed:,} would change; "
                  f"{impact.score:,} change score; {impact.call_tasks:,} call tasks would be created")
    for name, counts in (("Stage", impact.stage), ("Rank", impact.rank), ("Recycle group", impact.group)):
        t = _table(f"{name} changes", ("From", "To", "People"), 2)
        for (a, b), n in sorted(counts.items()):
            t.add_row(safe(a), safe(b), f"{n:,}")
        if not counts:
            t.add_row("-", "-", "0")
        console.print(t)
    t = _table("Nurture lists", ("List", "Added", "Removed"), 1)
    for key in sorted(set(impact.list_adds) | set(impact.list_removes)):
        t.add_row(safe(key), f"{impact.list_adds[key]:,}", f"{impact.list_removes[key]:,}")
    console.print(t)
    t = _table("Writes and API calls (estimate)", ("System", "Records", "List adds", "List removes", "Tasks",
                                                   "API calls"), 1)
    for system in sorted(set(impact.writes) | set(impact.api_calls)):
        c = impact.writes.get(system, {})
        kinds = ("records", "list_adds", "list_removes", "tasks")
        t.add_row(safe(system), *(f"{c.get(k, 0):,}" for k in kinds), f"{impact.api_calls.get(system, 0):,}")
    console.print(t)
    t = _table(f"Sample of people who would change ({len(impact.sample)} of {impact.changed:,})",
               ("Person", "Before", "After", "Rule"), 99)
    for m in impact.sample:
        person = safe(m.key) + (f"\n{safe(m.name)}" if m.name else "")
        t.add_row(person, safe(standing_text(m.before)), safe(standing_text(m.after)),
                  "\n".join(f"{safe(what)}: {safe(now)}" + (f"\n  (was: {safe(was)})" if was else "")
                            for what, was, now in m.rules))
    console.print(t)
