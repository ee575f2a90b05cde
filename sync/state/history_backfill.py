"""What `leadsync backfill` (sync.run.backfill) reads and writes of the stage history: each person's
first records, standing, cycle and HubSpot snapshots (`backfill_basis`), and the reconstructed moves
with their flow rows and the cycles dated earlier (`write_backfill`, one transaction). Mixed into
StateStore."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.state import schema as s
from sync.state.history import Move, add_flow, flow_key, move_of
from sync.state.sql import IN_CHUNK, chunks


@dataclass(frozen=True, slots=True)
class BackfillBasis:
    """What the store holds of one person with a standing, for seeding their history from the past."""

    person_key: str
    first_stage: Move | None  # their earliest stage move (the first record: cause "first")
    first_group: Move | None  # their earliest group move
    backfilled: bool  # a backfill already gave them moves
    recycle_group: str | None
    deal_id: str | None
    cycle: Mapping[str, object] | None  # the recycle_cycles row of (person, deal_id)
    lost_on: date | None  # the lost day of deal_id (deals.lost_on; the cycle's when the deal is gone)
    hubspot: tuple[Mapping[str, object], ...]  # the properties of their HubSpot contacts' snapshots


class StageBackfill:
    engine: Engine

    def standing_keys(self, after: str | None, size: int) -> list[str]:
        """The next `size` person keys with a standing, in key order, after `after`."""
        a = s.assignments.c
        stmt = sa.select(a.person_key).order_by(a.person_key).limit(size)
        if after is not None:
            stmt = stmt.where(a.person_key > after)
        with self.engine.connect() as conn:
            return list(conn.execute(stmt).scalars())

    def backfill_basis(self, keys: Sequence[str]) -> list[BackfillBasis]:
        """What `sync.run.backfill` needs of these people (one range of keys; no API call)."""
        m, a, c, d, ct = (s.stage_moves.c, s.assignments.c, s.recycle_cycles.c, s.deals.c, s.contacts.c)
        firsts: dict[tuple[str, str], Move] = {}
        backfilled: set[str] = set()
        standing: dict[str, sa.Row[tuple[object, ...]]] = {}
        cycles: dict[tuple[str, str], dict[str, object]] = {}
        lost: dict[str, date | None] = {}
        contacts: dict[str, list[Mapping[str, object]]] = defaultdict(list)
        with self.engine.connect() as conn:
            for part in chunks(list(keys), IN_CHUNK):
                for row in conn.execute(sa.select(s.stage_moves).where(
                        m.person_key.in_(part), m.dimension.in_(("stage", "group")))
                        .order_by(m.person_key, m.at, m.id)):
                    if row.cause == "backfill":  # (backfilled moves are stage and group moves)
                        backfilled.add(row.person_key)
                    else:
                        firsts.setdefault((row.person_key, row.dimension), move_of(row))
                part = [k for k in part if k not in backfilled]  # (left alone: nothing more to read)
                if not part:
                    continue
                for row in conn.execute(sa.select(a.person_key, a.recycle_group, a.deal_id)
                                        .where(a.person_key.in_(part))):
                    standing[row.person_key] = row
                for row in conn.execute(sa.select(s.recycle_cycles).where(c.person_key.in_(part))):
                    cycles[(row.person_key, row.deal_id)] = dict(row._mapping)
                for row in conn.execute(sa.select(ct.person_key, ct.properties).where(
                        ct.person_key.in_(part), ct.system == "hubspot", ct.archived == sa.false(),
                        ct.merged_into.is_(None))):
                    contacts[row.person_key].append(json.loads(row.properties))
            deal_ids = sorted({str(r.deal_id) for r in standing.values() if r.deal_id is not None})
            for part in chunks(deal_ids, IN_CHUNK):
                for row in conn.execute(sa.select(d.opportunity_id, d.lost_on)
                                        .where(d.opportunity_id.in_(part))):
                    lost[row.opportunity_id] = row.lost_on
        out = []
        for key in keys:
            st = standing.get(key)
            deal_id = None if st is None else st.deal_id
            cycle = cycles.get((key, deal_id)) if deal_id is not None else None
            lost_on = lost.get(deal_id) if deal_id is not None else None
            if lost_on is None and cycle is not None:
                lost_on = cycle["lost_on"]  # type: ignore[assignment]
            out.append(BackfillBasis(key, firsts.get((key, "stage")), firsts.get((key, "group")),
                                     key in backfilled, None if st is None else st.recycle_group, deal_id,
                                     cycle, lost_on, tuple(contacts.get(key, ()))))
        return out

    def write_backfill(self, moves: Sequence[Mapping[str, object]],
                       cycles: Sequence[Mapping[str, object]]) -> None:
        """Insert reconstructed moves (complete `stage_moves` rows: next_value/next_at already linked
        to the person's next move, NULL when the entry continues into a still open first record) and
        their stage entries in `stage_flow`, and move the seeded recycle cycles' entered_at earlier
        in ONE transaction. A cycle is only ever moved earlier; its `first_group` (the group it was
        first worked in) stays."""
        flow: dict[tuple[str, str, str, int], int] = defaultdict(int)
        for mv in moves:
            if mv["dimension"] != "stage" or not mv["to_value"]:
                continue
            flow[flow_key(mv["at"], mv["to_value"], mv.get("next_value"), mv.get("next_at"))] += 1  # type: ignore[arg-type]
        c = s.recycle_cycles.c
        with self.engine.begin() as conn:
            if moves:
                conn.execute(s.stage_moves.insert(), [dict(mv) for mv in moves])
            add_flow(conn, flow)
            if cycles:
                at = sa.bindparam("e", type_=s.UTCDateTime)
                conn.execute(s.recycle_cycles.update().where(
                    c.person_key == sa.bindparam("k"), c.deal_id == sa.bindparam("d"), c.entered_at > at)
                    .values(entered_at=at),
                    [{"k": cy["person_key"], "d": cy["deal_id"], "e": cy["entered_at"]} for cy in cycles])
