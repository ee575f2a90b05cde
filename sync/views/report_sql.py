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
On SQLite, standings and lists come from one grouped pass over `assignments`, grouped deals from a second
over the recycled people joined to their lost deal; each checks the person's presence in the store (the
indexes of migration 8 make both passes read indexes only: `assignments` in group order, the contacts'
liveness by person key, the lost deal by id). On PostgreSQL one pass with GROUPING SETS gives both (its
liveness check hashes every live contact's key, which a second pass would do again). The deal fields are
the `deals` columns the snapshot writer fills (lost date, stage at loss, loss reason, amount), not the
snapshot's JSON.
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
    #                                             HubSpot people, HubSpot records
    lost_deals: list[tuple[str | None, str | None, int, float]]  # stage at loss, reason, deals, amount


def stored_counts(store: StateStore) -> StoredCounts:
    """The standings, lists and grouped deals (each person's liveness checked once per pass), then the
    lost deals. SQLite: two passes, each reading indexes in the order it groups by; PostgreSQL: one pass
    with GROUPING SETS (its liveness check hashes every live contact's key: once, not twice)."""
    a = s.assignments.c
    sf, hs = a.salesforce_records, a.hubspot_records
    standings: dict[tuple[str, str, str | None], int] = {}
    grouped: list[tuple[str, str | None, str | None, int, float, int]] = []
    lists: dict[str, list[int]] = {}
    keys = (a.stage, a.rank, a.recycle_group, a.nurture_list)
    sums = (sa.func.count().label("n"), sa.func.sum(sa.case((sf > 0, 1), else_=0)).label("sf_people"),
            sa.func.sum(sf).label("sf"), sa.func.sum(sa.case((hs > 0, 1), else_=0)).label("hs_people"),
            sa.func.sum(hs).label("hs"))
    with store.engine.connect() as conn:
        for_reports(conn)
        lost = _lost(conn)
        x = lost.c
        by_deal = (a.recycle_group, x.stage.label("lost_stage"), x.reason)
        if conn.dialect.name == "postgresql":
            found = x.opportunity_id.is_not(None)
            rows = conn.execute(
                sa.select(*keys, x.stage.label("lost_stage"), x.reason,
                          sa.func.grouping(a.stage).label("by_deal"), *sums,
                          sa.func.count(x.opportunity_id).label("deals"),
                          sa.func.coalesce(sa.func.sum(x.amount), 0).label("amount"),
                          sa.func.count(sa.case((found, a.reengaged_on))).label("reengaged"))
                .select_from(s.assignments.outerjoin(
                    lost, sa.and_(x.opportunity_id == a.deal_id, a.recycle_group.is_not(None))))
                .where(_alive())
                .group_by(sa.func.grouping_sets(sa.tuple_(*keys),
                                                sa.tuple_(a.recycle_group, x.stage, x.reason))))
            standing_rows, deal_rows = [], []
            for r in rows:
                if r.by_deal:  # the (group, stage at loss, reason) set: the matched deals only
                    if r.recycle_group is not None and int(r.deals):
                        deal_rows.append((r.recycle_group, r.lost_stage, r.reason, r.deals, r.amount,
                                          r.reengaged))
                else:
                    standing_rows.append(r)
        else:
            standing_rows = list(conn.execute(sa.select(*keys, *sums).where(_alive()).group_by(*keys)))
            deal_rows = [(r.recycle_group, r.lost_stage, r.reason, r.n, r.amount, r.reengaged)
                         for r in conn.execute(
                             sa.select(*by_deal, sa.func.count().label("n"),
                                       sa.func.coalesce(sa.func.sum(x.amount), 0).label("amount"),
                                       sa.func.count(a.reengaged_on).label("reengaged"))
                             .select_from(s.assignments.join(lost, x.opportunity_id == a.deal_id))
                             .where(a.recycle_group.is_not(None), _alive())
                             .group_by(a.recycle_group, x.stage, x.reason))]
        for r in standing_rows:
            key = (r.stage, r.rank, r.recycle_group)
            standings[key] = standings.get(key, 0) + int(r.n)
            if r.nurture_list is not None:
                li = lists.setdefault(r.nurture_list, [0, 0, 0, 0])
                for i, v in enumerate((r.sf_people, r.sf, r.hs_people, r.hs)):
                    li[i] += int(v or 0)
        for group, stage, reason, n, amount, reengaged in deal_rows:
            grouped.append((group, stage, reason, int(n), float(amount), int(reengaged)))
        lost_deals = [(r.stage, r.reason, int(r.n), float(r.amount)) for r in conn.execute(
            sa.select(x.stage, x.reason, sa.func.count().label("n"),
                      sa.func.coalesce(sa.func.sum(x.amount), 0).label("amount"))
            .group_by(x.stage, x.reason))]
    return StoredCounts([(*k, n) for k, n in standings.items()], grouped,
                        [(k, *v) for k, v in lists.items()], lost_deals)


def managed_counts(store: StateStore, system: str) -> Counter[str]:
    """List name -> the memberships leadsync recorded in `system` (confirmed writes), counted in SQL."""
    m = s.list_memberships.c
    with store.engine.connect() as conn:
        return Counter({r.list_name: int(r.n) for r in conn.execute(
            sa.select(m.list_name, sa.func.count().label("n")).where(m.system == system)
            .group_by(m.list_name))})


def for_reports(conn: Connection) -> None:
    """PostgreSQL, for the rest of this transaction: no JIT compilation, and room for the liveness
    checks' hash tables. The per-person checks inflate the planner's cost estimates far past
    `jit_above_cost`, and compiling took about a second per statement at 300,000 people (EXPLAIN
    ANALYZE: "JIT ... Total 1080 ms" of 5.9 s) for statements whose work is reading, not evaluating
    expressions. With the default 4 MB `work_mem` the live contacts' keys do not fit a hash table, so
    each person was looked up in the index and its table row (4 pages a person); 64 MB (128 MB for hashes
    with the default `hash_mem_multiplier`) holds the keys of a few million people, and past that the
    planner falls back to the lookups. SQLite: nothing to set."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")


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
    return sa.select(d.opportunity_id, d.stage_at_loss.label("stage"), d.loss_reason.label("reason"),
                     d.amount).where(d.state == "lost", d.is_deleted.is_(False)).subquery("lost")
