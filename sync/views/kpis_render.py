"""The stage-KPI sections of `leadsync report` as rich tables, and as CSV files (`--csv DIR`). CRM text
(loss reasons, stage and phase names) goes through `sync.views.terminal.safe` in tables; CSV keeps it
exact, except that a cell a spreadsheet would run as a formula is quoted with a leading apostrophe."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sync.views.kpis import MIN_PEOPLE, TOO_LITTLE, Conversion, LossCell, PipelineRow, StageKpis, Velocity
from sync.views.report_render import amount
from sync.views.terminal import safe

SECTIONS: dict[str, type] = {"conversion": Conversion, "velocity": Velocity, "second_pipeline": PipelineRow,
                             "losses_by_quarter": LossCell}


def _rate(rate: float | None, whole: int) -> str:
    if rate is None:
        return f"{TOO_LITTLE} (n={whole})" if whole else "-"
    return f"{100 * rate:.1f}%"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def render_kpis(k: StageKpis, console: Console) -> None:
    period = ((f"from {k.since:%Y-%m-%d} " if k.since else "")
              + (f"until {k.until:%Y-%m-%d}" if k.until else ""))
    console.print(f"[bold]Stage KPIs over time[/bold] {period.strip() or '(all recorded history)'} — rates "
                  f"and medians over fewer than {MIN_PEOPLE} people are not shown")
    console.print(_conversion(k))
    console.print(_velocity(k))
    for table in _pipeline(k):
        console.print(table)
    console.print(_losses(k))


def _table(title: str, columns: Sequence[str]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        t.add_column(name, justify="left" if i < 2 else "right")
    return t


def _conversion(k: StageKpis) -> Table:
    order = " → ".join(k.waterfall)
    t = _table(f"Waterfall conversion per cohort ({order}): entered a stage that month, later reached a "
               "stage further along", ("Cohort", "Stage", "Entered", "Moved on", "Conversion"))
    for c in k.conversion:
        rate = "- (last stage)" if c.stage == k.waterfall[-1] else _rate(c.rate, c.entered)
        t.add_row(c.cohort, safe(c.stage), str(c.entered), str(c.converted), rate)
    if not k.conversion:
        t.add_row("-", "no stage entries recorded in this period", "", "", "")
    return t


def _velocity(k: StageKpis) -> Table:
    t = _table("Velocity: days in a stage before the next move, per cohort",
               ("Cohort", "Stage", "Moved on", "Still in", "Median days", "p90 days"))
    for v in k.velocity:
        med = (_days(v.median_days) if v.median_days is not None or not v.left
               else f"{TOO_LITTLE} (n={v.left})")
        t.add_row(v.cohort, safe(v.stage), str(v.left), str(v.still_in), med, _days(v.p90_days))
    if not k.velocity:
        t.add_row("-", "no stage entries recorded in this period", "", "", "", "")
    return t


def _pipeline(k: StageKpis) -> tuple[Table, Table]:
    """Two tables on the same rows, so each fits an 80-column terminal: what happened to the recycled
    people, then the new deals that came of it."""
    people = _table("Second pipeline: recycle cycles (one per person per lost deal recycled)",
                    ("By", "Value", "Recycled", "Re-engaged", "Promoted", "Called", "Completed"))
    deals = _table("Second pipeline: the new deals (each counted once; via account: opened on the lost "
                   "deal's account without the person)",
                   ("By", "Value", "New deals", "Via account", "Amount", "Won", "Won amount", "Lost again"))
    for p in k.pipeline:
        value = safe(p.value.replace("_", " ") if p.by == "phase" else p.value)
        people.add_row(p.by, value, str(p.recycled), str(p.reengaged), str(p.promoted), str(p.called),
                       str(p.completed))
        deals.add_row(p.by, value, str(p.new_deals), str(p.new_via_account), amount(p.new_amount),
                      str(p.won_deals), amount(p.won_amount), str(p.lost_again))
    if not k.pipeline:
        people.add_row("-", "no recycle cycle in this period", *[""] * 5)
        deals.add_row("-", "no recycle cycle in this period", *[""] * 6)
    return people, deals


def _losses(k: StageKpis) -> Table:
    t = _table("Loss analysis over time: lost deals per quarter, phase at loss × loss reason",
               ("Quarter", "Phase at loss", "Loss reason", "Deals", "Amount"))
    for c in k.losses:
        t.add_row(c.quarter, safe(c.phase.replace("_", " ")), safe(c.reason), str(c.deals), amount(c.amount))
    if not k.losses:
        t.add_row("-", "no lost deal in this period", "", "", "")
    return t


def write_csv(k: StageKpis, folder: Path) -> list[Path]:
    """One CSV file per section (UTF-8 with a byte-order mark, which spreadsheet programs need to read
    Japanese text); returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, Iterable[Any]] = {"conversion": k.conversion, "velocity": k.velocity,
                                      "second_pipeline": k.pipeline, "losses_by_quarter": k.losses}
    written = []
    for name, items in rows.items():
        path = folder / f"{name}.csv"
        columns = [f.name for f in fields(SECTIONS[name])]
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            w = csv.writer(out)
            w.writerow(columns)
            for item in items:
                values = asdict(item)
                w.writerow([_cell(values[c]) for c in columns])
        written.append(path)
    return written


def _cell(value: object) -> object:
    """A value as CSV: blank for None; text a spreadsheet would take as a formula gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
