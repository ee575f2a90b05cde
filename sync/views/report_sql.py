"""The snapshot report's numbers as the last runs recorded them, aggregated in the database: no person
is loaded into Python (`sync.views.report.build_report` without `now` assembles them).

    stored_counts(store) -> StoredCounts
    managed_counts(store, system) -> Counter: list name -> memberships leadsync manages (both paths)

- standings: people per (stage, rank, recycle group) from `assignments`, the standing each person was
  last decided to have (a run that writes and read everything records it, `sync.state.history`). Only
  people still in the store count: a HubSpot contact (not archived, not merged) or a deal contact with
  their key; a person who left the store keeps their last standing but is no longer a person.
- grouped deals: those people with a recycle group, joined to the lost deal (not deleted) their group
  was decided on, per (group, stage at loss, loss reason): people, the deals' amount, and how many
  re-engaged after the loss (`assignments.reengaged_on`, decided by the run).
- lists: per nurture list key (as the engine decided it: an opted-out person has none that sends
  email): people and records in each system.
- lost deals: every stored lost deal (not deleted) per (stage at loss, loss reason): deals and amount.
The deal fields come from the snapshot's JSON (as `sync.views.kpis` reads it on both backends).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.state import schema as s
from sync.state.store import StateStore


@dataclass(frozen=True)
class StoredCounts:
    standings: list[tuple[str, str, str | None, int]]  # stage, rank, group, people
    grouped_deals: list[tuple[str, str | None, str | None, int, float, int]]  # group, stage at loss,
    #                                                      reason, people, amount, re-engaged
    lists: list[tuple[str, int, int, int, int]]  # list key, SF people, SF records,
    #                                                   HubSpot people, HubSpot records
    lost_deals: list[tuple[str | None, str | None, int, float]]  # stage at loss, reason, deals, amount


def stored_counts(store: StateStore) -> StoredCounts:
    a = s.assignments.c
    with store.engine.connect() as conn:
        alive = _alive()
        standings = [(r.stage, r.rank, r.recycle_group, int(r.n)) for r in conn.execute(
            sa.select(a.stage, a.rank, a.recycle_group, sa.func.count().label("n"))
            .where(alive).group_by(a.stage, a.rank, a.recycle_group))]
        lost = _lost(conn)
        x = lost.c
        grouped = [(r.recycle_group, r.stage, r.reason, int(r.n), float(r.amount), int(r.reengaged))
                   for r in conn.execute(
            sa.select(a.recycle_group, x.stage, x.reason, sa.func.count().label("n"),
                      sa.func.coalesce(sa.func.sum(x.amount), 0).label("amount"),
                      sa.func.count(a.reengaged_on).label("reengaged"))
            .join_from(s.assignments, lost, x.opportunity_id == a.deal_id)
            .where(a.recycle_group.is_not(None), alive)
            .group_by(a.recycle_group, x.stage, x.reason))]
        sf, hs = a.salesforce_records, a.hubspot_records
        lists = [(r.nurture_list, int(r.sf_people or 0), int(r.sf or 0),
                  int(r.hs_people or 0), int(r.hs or 0)) for r in conn.execute(
            sa.select(a.nurture_list,
                      sa.func.sum(sa.case((sf > 0, 1), else_=0)).label("sf_people"),
                      sa.func.sum(sf).label("sf"),
                      sa.func.sum(sa.case((hs > 0, 1), else_=0)).label("hs_people"),
                      sa.func.sum(hs).label("hs"))
            .where(a.nurture_list.is_not(None), alive).group_by(a.nurture_list))]
        lost_deals = [(r.stage, r.reason, int(r.n), float(r.amount)) for r in conn.execute(
            sa.select(x.stage, x.reason, sa.func.count().label("n"),
                      sa.func.coalesce(sa.func.sum(x.amount), 0).label("amount"))
            .group_by(x.stage, x.reason))]
    return StoredCounts(standings, grouped, lists, lost_deals)


def managed_counts(store: StateStore, system: str) -> Counter[str]:
    """List name -> the memberships leadsync recorded in `system` (confirmed writes), counted in SQL."""
    m = s.list_memberships.c
    with store.engine.connect() as conn:
        return Counter({r.list_name: int(r.n) for r in conn.execute(
            sa.select(m.list_name, sa.func.count().label("n")).where(m.system == system)
            .group_by(m.list_name))})


def _alive() -> Any:
    """The person is still in the store: a live HubSpot contact or a deal contact has their key."""
    a, c, dc = s.assignments.c, s.contacts.c, s.deal_contacts.c
    hubspot = sa.select(c.person_key).where(c.person_key == a.person_key, c.archived == sa.false(),
                                           c.merged_into.is_(None))
    on_deal = sa.select(dc.person_key).where(dc.person_key == a.person_key)
    return sa.or_(hubspot.exists(), on_deal.exists())


def _lost(conn: Connection) -> Any:
    """The stored lost deals (not deleted) with the snapshot's stage at loss, reason and amount."""
    d = s.deals.c
    # PostgreSQL casts the text; SQLite reads it as it is (a CAST to JSON there would take the text as
    # a number)
    data = sa.cast(d.data, sa.JSON) if conn.dialect.name != "sqlite" else sa.type_coerce(d.data, sa.JSON)
    return sa.select(d.opportunity_id, data["stage_at_loss"].as_string().label("stage"),
                     data["loss_reason"].as_string().label("reason"),
                     data["amount"].as_float().label("amount")).where(
        d.state == "lost", d.is_deleted.is_(False)).subquery("lost")
