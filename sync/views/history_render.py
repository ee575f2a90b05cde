"""Rich rendering of a `sync.views.history.PersonHistory` (the text form of `leadsync history EMAIL`).
CRM text (loss reasons, rule words quoting values) goes through `sync.views.terminal.safe`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from sync.views.history import PersonHistory
from sync.views.terminal import safe

CAUSES = {"first": "first record", "facts": "their data changed", "mapping": "rule change",
          "time": "time passed", "backfill": "reconstructed"}


def _when(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_history(h: PersonHistory, console: Console) -> None:
    now = h.standing
    head = f"[bold]{safe(h.email)}[/bold]"
    if now is not None:
        head += (f" — now stage {safe(now['stage'])}, rank {safe(now['rank'])}, recycle group "
                 f"{safe(now['recycle_group'] or 'none')} (since {_when(now['changed_at'])})")
    console.print(head)
    moves = Table(title="Moves (stage, rank, recycle group)", title_justify="left")
    for col in ("when (UTC)", "what", "from", "to", "why", "rule", "run", "mapping"):
        moves.add_column(col, overflow="fold")
    for m in h.moves:
        moves.add_row(_when(m.at), m.dimension, safe(m.from_value or "-"), safe(m.to_value or "-"),
                      CAUSES.get(m.cause, m.cause), safe(m.why or ""), str(m.run_id or "-"),
                      f"v{m.mapping_version}")
    console.print(moves)
    if not h.cycles:
        console.print("No recycle cycle.")
        return
    cycles = Table(title="Recycle cycles (one per lost deal recycled)", title_justify="left")
    for col in ("lost deal", "lost on", "reason", "phase", "entered", "promoted", "responded", "left",
                "new deal"):
        cycles.add_column(col, overflow="fold")
    for c in h.cycles:
        new = "-"
        if c.get("new_deal_id"):
            new = " ".join(safe(c.get(k) or "") for k in ("new_deal_id", "new_deal_state", "new_deal_amount"))
            if c.get("new_deal_via") == "account":  # opened on the lost deal's account, not with them
                new += " (via the account)"
        cycles.add_row(safe(c["deal_id"]), _when(c["lost_on"]), safe(c["loss_reason"] or "-"),
                       safe(c["phase"] or "-"), f"{_when(c['entered_at'])} ({safe(c['first_group'])})",
                       _when(c["promoted_at"]), _when(c["reengaged_at"]), _when(c["left_at"]), new)
    console.print(cycles)
