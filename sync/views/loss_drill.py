"""The deals behind one cell of the loss analysis heat map (phase at loss × loss reason), a page at a
time, in SQL over the `deals` table's loss columns and `deal_contacts`.

A cell is a pair of labels (`sync.views.loss_labels`), not of stored values: a phase covers every stage
the mapping puts in it (the name trimmed), "unmapped" every other stage and none; a reason covers its
spellings with spaces around it, "(none)" a blank one. So the stored (stage at loss, loss reason)
pairs of the lost deals are grouped first (the statement the report's heat map counts with,
`sync.views.report_sql`, the same filter), labelled here, and the deals listed are those whose pair
has the cell's labels: the cell's count and the deals listed are the same deals by construction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from mappings import Mapping
from sync.state import schema as s
from sync.state.person_names import deal_contact_names
from sync.state.store import StateStore
from sync.views.loss_labels import phase_label, reason_label

PAGE_SIZE = 50


@dataclass(frozen=True)
class DealPerson:
    contact_id: str
    person_key: str | None  # None: no usable email (no person page)
    name: str  # "" when the snapshot gives none


@dataclass(frozen=True)
class CellDeal:
    opportunity_id: str
    amount: float | None
    lost_on: date | None
    stage_at_loss: str | None
    people: tuple[DealPerson, ...]


@dataclass(frozen=True)
class CellPage:
    phase: str
    reason: str
    deals: int  # every deal of the cell (the heat map's count)
    amount: float
    rows: list[CellDeal]
    next_after: str | None  # the `after` of the next page (None: this is the last)


def _lost() -> list[Any]:
    """The report's filter of the lost deals (sync.views.report_sql._lost)."""
    d = s.deals.c
    return [d.state == "lost", d.is_deleted.is_(False)]


def _one_of(column: Any, values: Iterable[str | None]) -> Any:
    values = set(values)
    known = sorted(v for v in values if v is not None)
    parts = ([column.in_(known)] if known else []) + ([column.is_(None)] if None in values else [])
    return sa.or_(*parts) if parts else sa.false()


def stored_pairs(store: StateStore) -> list[Any]:
    """Every stored (stage at loss, loss reason) pair of the lost deals with its deals (`n`) and amount:
    one pass over the lost deals (a quarter of a second at a million people), so the console computes
    it once per finished run, as it does the heat map it drills into."""
    d = s.deals.c
    with store.engine.connect() as conn:
        return list(conn.execute(sa.select(d.stage_at_loss, d.loss_reason, sa.func.count().label("n"),
                                           sa.func.coalesce(sa.func.sum(d.amount), 0).label("amount"))
                                 .where(*_lost()).group_by(d.stage_at_loss, d.loss_reason)).all())


def cell_deals(store: StateStore, mapping: Mapping, phase: str, reason: str, after: str | None = None,
               limit: int | None = None, pairs: list[Any] | None = None) -> CellPage:
    """The lost deals of one heat-map cell in deal id order after `after` (`limit`: PAGE_SIZE), with
    the people on them; `pairs`: `stored_pairs(store)` when the caller has them."""
    limit = limit or PAGE_SIZE
    d = s.deals.c
    if pairs is None:
        pairs = stored_pairs(store)
    with store.engine.connect() as conn:
        mine = [p for p in pairs
                if phase_label(p.stage_at_loss, mapping) == phase and reason_label(p.loss_reason) == reason]
        where = [*_lost(), _one_of(d.stage_at_loss, {p.stage_at_loss for p in mine}),
                 _one_of(d.loss_reason, {p.loss_reason for p in mine})]
        if after:
            where.append(d.opportunity_id > after)
        rows = conn.execute(sa.select(d.opportunity_id, d.amount, d.lost_on, d.stage_at_loss)
                            .where(*where).order_by(d.opportunity_id).limit(limit + 1)).all() if mine else []
        page = rows[:limit]
        dc = s.deal_contacts.c
        links = conn.execute(sa.select(dc.opportunity_id, dc.contact_id, dc.person_key)
                             .where(dc.opportunity_id.in_([r.opportunity_id for r in page]))
                             .order_by(dc.opportunity_id, dc.contact_id)).all() if page else []
    names = deal_contact_names(store.engine, (r.opportunity_id for r in page))
    people: dict[str, list[DealPerson]] = {}
    for link in links:
        people.setdefault(link.opportunity_id, []).append(DealPerson(
            link.contact_id, link.person_key, names.get((link.opportunity_id, link.contact_id), "")))
    found = [CellDeal(r.opportunity_id, r.amount, r.lost_on, r.stage_at_loss,
                      tuple(people.get(r.opportunity_id, ()))) for r in page]
    return CellPage(phase, reason, sum(int(p.n) for p in mine), sum(float(p.amount) for p in mine), found,
                    found[-1].opportunity_id if len(rows) > limit else None)
