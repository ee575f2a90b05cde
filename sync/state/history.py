"""The stage history: where each person stands in the shared model (`assignments`), every change of it
(`stage_moves`) and each recycle cycle (`recycle_cycles`). Mixed into StateStore.

`record_standing` is called once per chunk of people a run decided, and is ONE transaction: a killed
run leaves each person either fully recorded for that run (their standing, their moves and their cycle)
or not at all, and the next run, deciding the same, records what is left exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from connectors.base import LostDeal
from sync.state import schema as s
from sync.state.bulk import upsert_rows
from sync.state.codec import deal_from_json
from sync.state.sql import IN_CHUNK, chunks

DIMENSIONS = ("stage", "rank", "group")


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one person stands after a run decided them, with what the history needs to know."""

    person_key: str
    stage: str
    rank: str
    recycle_group: str | None
    deal_id: str | None  # the lost deal the recycle group was decided on
    facts_digest: str
    # dimension -> the rule behind its value, in words; called only for people who moved (putting the
    # reasons in words costs more than deciding)
    why: Callable[[], Mapping[str, str]]
    cycle: CycleFacts | None = None  # the lost deal being recycled (recycle group high/low/waiting)
    nurture_list: str | None = None  # key of [nurture.lists] (kept with the standing, not a move)
    score: int | None = None
    records: tuple[int, int] = (0, 0)  # (Salesforce, HubSpot) records of the person
    # latest behaviour event after the loss of deal_id (any group; a cycle's re-engagement)
    reengaged_on: date | None = None
    deals: tuple[DealOutcome, ...] = ()  # every deal of the person (for the outcome of their cycles)


@dataclass(frozen=True, slots=True)
class CycleFacts:
    """The lost deal a person is recycled on, as this run saw it."""

    deal_id: str
    lost_on: date | None
    loss_reason: str | None
    phase: str | None
    amount: float | None
    promoted: bool = False  # lost in a low phase and in group high now: their response promoted them
    task_cycle_key: str | None = None  # the cycle key a call task for this cycle has (call_tasks)


@dataclass(frozen=True, slots=True)
class DealOutcome:
    """One of the person's deals as this run saw it: what a recycle cycle's outcome is read from."""

    deal_id: str
    opened_on: date | None  # the day it was created (None: a snapshot from before leadsync kept it)
    state: str  # open | won | lost
    amount: float | None
    stage: str
    closed_on: date | None  # won: its close date; lost: its lost date


@dataclass(frozen=True, slots=True)
class Move:
    person_key: str
    dimension: str
    from_value: str | None
    to_value: str | None
    at: datetime
    run_id: int | None
    mapping_version: int
    cause: str
    deal_id: str | None
    why: str | None
    next_value: str | None = None
    next_at: datetime | None = None


def _values(st: Standing) -> dict[str, str | None]:
    return {"stage": st.stage, "rank": st.rank, "group": st.recycle_group}


RECYCLED = frozenset({"high", "low", "waiting"})  # groups that are a recycle cycle
WORKED = frozenset({"high", "low"})  # a cycle's `first_group`: the first of these it is in (waiting before)


class StageHistory:
    engine: Engine

    def record_standing(self, standings: Sequence[Standing], *, run_id: int | None, at: datetime,
                        mapping_version: int, rules_digest: str) -> int:
        """Record where these people stand after this run, in ONE transaction: a move for each dimension
        that changed since their last record (why: "first", "facts", "mapping" or "time"), their new
        standing, and their recycle cycle. Returns the number of moves recorded."""
        if not standings:
            return 0
        a = s.assignments.c
        with self.engine.begin() as conn:
            before: dict[str, sa.Row[tuple[object, ...]]] = {}
            for part in chunks(sorted({st.person_key for st in standings}), IN_CHUNK):
                for row in conn.execute(sa.select(s.assignments).where(a.person_key.in_(part))):
                    before[row.person_key] = row
            moves, changed = [], []
            for st in standings:
                old = before.get(st.person_key)
                new = _values(st)
                if old is None:
                    cause, was = "first", dict.fromkeys(DIMENSIONS)
                else:
                    was = {"stage": old.stage, "rank": old.rank, "group": old.recycle_group}
                    if was == new and old.deal_id == st.deal_id:
                        if (old.facts_digest != st.facts_digest or old.mapping_digest != rules_digest
                                or _kept(old) != _kept_of(st)):
                            changed.append(_standing_row(st, old.changed_at, old.run_id, mapping_version,
                                                         rules_digest))
                        continue
                    cause = ("facts" if old.facts_digest != st.facts_digest else
                             "mapping" if old.mapping_digest != rules_digest else "time")
                words = st.why()
                for dim in DIMENSIONS:
                    if old is not None and was[dim] == new[dim]:
                        continue
                    if old is None and new[dim] is None:
                        continue
                    moves.append({"person_key": st.person_key, "dimension": dim, "from_value": was[dim],
                                  "to_value": new[dim], "at": at, "run_id": run_id,
                                  "mapping_version": mapping_version, "cause": cause,
                                  "deal_id": st.deal_id if dim == "group" else None,
                                  "why": words.get(dim) or None})
                changed.append(_standing_row(st, at, run_id, mapping_version, rules_digest))
            add_moves(conn, moves)
            if changed:
                upsert_rows(conn, s.assignments, changed, ("person_key",))
            _record_cycles(conn, standings, at=at, run_id=run_id)
        return len(moves)

    def add_moves(self, moves: Sequence[dict[str, object]]) -> None:
        """Insert moves made elsewhere (backfill, imports, benchmarks) in ONE transaction, linked and
        counted in the flow like a run's (each a `stage_moves` row without id and next_* columns)."""
        with self.engine.begin() as conn:
            add_moves(conn, moves)

    def moves_of(self, person_key: str) -> list[Move]:
        """One person's moves, oldest first."""
        m = s.stage_moves.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(s.stage_moves).where(m.person_key == person_key)
                                .order_by(m.at, m.id)).all()
        return [move_of(r) for r in rows]

    def iter_moves(self) -> Iterator[Move]:
        """Every move, oldest first (for exports and tests; reports aggregate in SQL)."""
        m = s.stage_moves.c
        with self.engine.connect() as conn:
            for r in conn.execution_options(stream_results=True).execute(
                    sa.select(s.stage_moves).order_by(m.at, m.id)):
                yield move_of(r)

    def iter_cycles(self) -> Iterator[dict[str, object]]:
        """Every recycle cycle (for exports and tests; reports aggregate in SQL)."""
        c = s.recycle_cycles.c
        with self.engine.connect() as conn:
            for r in conn.execution_options(stream_results=True).execute(
                    sa.select(s.recycle_cycles).order_by(c.person_key, c.deal_id)):
                yield dict(r._mapping)

    def flow_rows(self) -> list[tuple[str, str, str, int, int]]:
        """`stage_flow` as (cohort, stage, next stage, days, people), sorted (for exports and tests)."""
        f = s.stage_flow.c
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(  # type: ignore[misc]
                sa.select(f.cohort, f.stage, f.next_stage, f.days, f.n).where(f.n != 0)
                .order_by(f.cohort, f.stage, f.next_stage, f.days))]

    def standing_of(self, person_key: str) -> dict[str, object] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(s.assignments)
                               .where(s.assignments.c.person_key == person_key)).first()
        return None if row is None else dict(row._mapping)

    def cycles_of(self, person_key: str) -> list[dict[str, object]]:
        c = s.recycle_cycles.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(s.recycle_cycles).where(c.person_key == person_key)
                                .order_by(c.entered_at, c.deal_id)).all()
        return [dict(r._mapping) for r in rows]


def add_moves(conn: Connection, moves: Sequence[dict[str, object]]) -> None:
    """Insert `stage_moves` rows (any order): each closes the person's previous move of its dimension
    (`next_value`, `next_at`), and the stage moves keep `stage_flow` up to date, in the caller's
    transaction."""
    if not moves:
        return
    m = s.stage_moves.c
    ordered = sorted(moves, key=lambda mv: mv["at"])  # type: ignore[arg-type,return-value]
    keys = sorted({str(mv["person_key"]) for mv in ordered if mv["from_value"] is not None
                   or mv["cause"] != "first"})
    last: dict[tuple[str, str], dict[str, object]] = {}
    # a dimension can have two open moves: a backfilled entry that continues into the person's first
    # record (`write_backfill`); the next move closes both
    also_open: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for part in chunks(keys, IN_CHUNK):  # the open (latest) moves of each dimension of these people
        for row in conn.execute(sa.select(m.id, m.person_key, m.dimension, m.to_value, m.at, m.cause)
                                .where(m.person_key.in_(part), m.next_at.is_(None))):
            key, row_open = (row.person_key, row.dimension), {
                "id": row.id, "to_value": row.to_value, "at": row.at, "cause": row.cause,
                "dimension": row.dimension}
            prev = last.get(key)
            if prev is not None and prev["at"] > row.at:  # type: ignore[operator]
                also_open[key].append(row_open)
                continue
            if prev is not None:
                also_open[key].append(prev)
            last[key] = row_open
    closed: list[dict[str, object]] = []
    flow: dict[tuple[str, str, str, int], int] = defaultdict(int)
    for mv in ordered:
        key = (str(mv["person_key"]), str(mv["dimension"]))
        for before in (*also_open.pop(key, ()), last.get(key)):
            if before is not None and before["at"] < mv["at"]:  # type: ignore[operator]
                _close(before, mv, closed, flow)
        if mv["dimension"] == "stage" and mv["cause"] != "first" and mv["to_value"]:
            flow[flow_key(mv["at"], mv["to_value"])] += 1  # type: ignore[arg-type]
        last[key] = mv  # type: ignore[assignment]
    if closed:
        conn.execute(s.stage_moves.update().where(m.id == sa.bindparam("i"))
                     .values(next_value=sa.bindparam("v"), next_at=sa.bindparam("t")), closed)
    conn.execute(s.stage_moves.insert(), [{**mv, "next_value": mv.get("next_value"),
                                           "next_at": mv.get("next_at")} for mv in moves])
    add_flow(conn, {k: n for k, n in flow.items() if n})


def _close(before: dict[str, object], mv: Mapping[str, object], closed: list[dict[str, object]],
           flow: dict[tuple[str, str, str, int], int]) -> None:
    """`before` (an open move) ends with `mv`: link it and move its flow count off "still there"."""
    before["next_value"], before["next_at"] = mv["to_value"], mv["at"]
    if "id" in before:
        closed.append({"i": before["id"], "v": mv["to_value"], "t": mv["at"]})
    if before["dimension"] == "stage" and before["cause"] != "first" and before["to_value"]:
        flow[flow_key(before["at"], before["to_value"])] -= 1  # type: ignore[arg-type]
        flow[flow_key(before["at"], before["to_value"], mv["to_value"], mv["at"])] += 1  # type: ignore[arg-type]


def cohort(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def flow_key(at: datetime, stage: object, next_stage: object = None,
             next_at: datetime | None = None) -> tuple[str, str, str, int]:
    """The `stage_flow` row of an entry into `stage` at `at`: its cohort, where it went next and after
    how many whole days ("" and -1 while still there)."""
    if next_at is None:
        return cohort(at), str(stage), "", -1
    return cohort(at), str(stage), str(next_stage or ""), int((next_at - at).total_seconds() // 86400)


def add_flow(conn: Connection, deltas: Mapping[tuple[str, str, str, int], int]) -> None:
    if not deltas:
        return
    table = s.stage_flow
    rows = [{"cohort": c, "stage": st, "next_stage": nx, "days": d, "n": n}
            for (c, st, nx, d), n in deltas.items()]
    if conn.dialect.name in ("sqlite", "postgresql"):
        insert = (sqlite_insert if conn.dialect.name == "sqlite" else postgresql_insert)(table)
        conn.execute(insert.on_conflict_do_update(index_elements=list(table.primary_key.columns),
                                                  set_={"n": table.c.n + insert.excluded.n}), rows)
        return
    f = table.c
    for row in rows:  # other backends: read, then update or insert (the run lock serialises runs)
        where = (f.cohort == row["cohort"], f.stage == row["stage"], f.next_stage == row["next_stage"],
                 f.days == row["days"])
        if conn.execute(table.update().where(*where).values(n=f.n + row["n"])).rowcount == 0:
            conn.execute(table.insert(), [row])


def _kept(row: sa.Row[tuple[object, ...]]) -> tuple[object, ...]:
    """What the standing keeps besides the moves (a change of it rewrites the row, records no move)."""
    return (row.nurture_list, row.score, row.salesforce_records, row.hubspot_records, row.reengaged_on)


def _kept_of(st: Standing) -> tuple[object, ...]:
    return (st.nurture_list, st.score, *st.records, st.reengaged_on)


def _standing_row(st: Standing, changed_at: datetime, run_id: int | None, mapping_version: int,
                  rules_digest: str) -> dict[str, object]:
    return {"person_key": st.person_key, "stage": st.stage, "rank": st.rank,
            "recycle_group": st.recycle_group, "deal_id": st.deal_id, "nurture_list": st.nurture_list,
            "score": st.score, "salesforce_records": st.records[0],
            "hubspot_records": st.records[1], "reengaged_on": st.reengaged_on,
            "facts_digest": st.facts_digest,
            "mapping_digest": rules_digest, "mapping_version": mapping_version, "changed_at": changed_at,
            "run_id": run_id}


def move_of(r: sa.Row[tuple[object, ...]]) -> Move:
    return Move(r.person_key, r.dimension, r.from_value, r.to_value, r.at, r.run_id, r.mapping_version,
                r.cause, r.deal_id, r.why, r.next_value, r.next_at)


def _record_cycles(conn: Connection, standings: Sequence[Standing], *, at: datetime,
                   run_id: int | None) -> None:
    """Open a cycle when a person enters a recycle group on a lost deal; note a promotion (low -> high)
    and a response after the loss; close it (left_at) when they leave recycling or another lost deal
    takes over. Cycles stay for the report (the second pipeline)."""
    c = s.recycle_cycles.c
    keys = sorted({st.person_key for st in standings})
    open_cycles: dict[str, list[sa.Row[tuple[object, ...]]]] = {}
    pending: dict[str, list[sa.Row[tuple[object, ...]]]] = {}  # cycles whose outcome may still change
    # (a deal reached through the account gives way to one of the person's own, even once closed)
    unsettled = sa.or_(c.new_deal_state.is_(None), c.new_deal_state == "open", c.new_deal_via == "account")
    for part in chunks(keys, IN_CHUNK):
        for row in conn.execute(sa.select(s.recycle_cycles)
                                .where(c.person_key.in_(part), sa.or_(c.left_at.is_(None), unsettled))):
            if row.left_at is None:
                open_cycles.setdefault(row.person_key, []).append(row)
            if row.new_deal_state in (None, "open") or row.new_deal_via == "account":
                pending.setdefault(row.person_key, []).append(row)
    # the new deals on the lost deals' accounts, for the cycles whose outcome may change and that have
    # no new deal through the person's contact roles (two queries by the chunk's ids)
    lost = [(deal_id, day) for st in standings
            for deal_id, day in [(r.deal_id, r.lost_on) for r in pending.get(st.person_key, ())]
            + ([(st.cycle.deal_id, st.cycle.lost_on)] if st.cycle is not None else [])
            if _outcome(deal_id, day, st.deals) is None]
    by_account = _account_deals(conn, lost)
    inserts: list[dict[str, object]] = []
    for st in standings:
        for row in pending.get(st.person_key, ()):
            outcome = _outcome(row.deal_id, row.lost_on, st.deals, by_account.get(row.deal_id, ()))
            if outcome is not None and outcome != tuple(getattr(row, k) for k in _OUTCOME):
                conn.execute(s.recycle_cycles.update().where(
                    c.person_key == st.person_key, c.deal_id == row.deal_id).values(
                    **dict(zip(_OUTCOME, outcome, strict=True)), run_id=run_id))
        current = st.cycle if st.recycle_group in RECYCLED else None
        for row in open_cycles.get(st.person_key, ()):
            if current is not None and row.deal_id == current.deal_id:
                values: dict[str, object] = {}
                if row.group_now != st.recycle_group:
                    values["group_now"] = st.recycle_group
                if row.first_group == "waiting" and st.recycle_group in WORKED:
                    values["first_group"] = st.recycle_group  # the group it is first worked in
                if current.promoted and row.promoted_at is None:
                    values["promoted_at"] = at
                if st.reengaged_on is not None and row.reengaged_at is None:
                    values["reengaged_at"] = day_start(st.reengaged_on)
                if values:
                    values["run_id"] = run_id
                    conn.execute(s.recycle_cycles.update().where(
                        c.person_key == st.person_key, c.deal_id == row.deal_id).values(**values))
            else:  # left recycling, or recycled on another (later) lost deal now
                conn.execute(s.recycle_cycles.update().where(
                    c.person_key == st.person_key, c.deal_id == row.deal_id)
                    .values(left_at=at, group_now=None, run_id=run_id))
        if current is None or any(r.deal_id == current.deal_id for r in open_cycles.get(st.person_key, ())):
            continue
        inserts.append({"person_key": st.person_key, "deal_id": current.deal_id, "lost_on": current.lost_on,
                        "loss_reason": current.loss_reason, "phase": current.phase,
                        "lost_amount": current.amount, "first_group": st.recycle_group, "entered_at": at,
                        "group_now": st.recycle_group, "promoted_at": at if current.promoted else None,
                        "left_at": None, "task_cycle_key": current.task_cycle_key,
                        "reengaged_at": (day_start(st.reengaged_on)
                                         if st.reengaged_on is not None else None),
                        "run_id": run_id,
                        **dict(zip(_OUTCOME, _outcome(current.deal_id, current.lost_on, st.deals,
                                                      by_account.get(current.deal_id, ()))
                                   or (None,) * len(_OUTCOME), strict=True))})
    if inserts:
        # a cycle closed earlier and entered again (a deal re-opened and lost again on the same day
        # keeps its id): start it afresh
        upsert_rows(conn, s.recycle_cycles, inserts, ("person_key", "deal_id"))


_OUTCOME = ("new_deal_id", "new_deal_opened_on", "new_deal_amount", "new_deal_stage", "new_deal_state",
            "new_deal_closed_on", "new_deal_via")


def _outcome(lost_deal: str, lost_on: date | None, deals: Sequence[DealOutcome],
             account_deals: Sequence[DealOutcome] = ()) -> tuple[object, ...] | None:
    """The second pipeline of one cycle: the first deal opened after the loss day (not the lost deal
    itself) on which the person is a contact role, else the first one opened on the lost deal's
    account; with its amount, stage, state and how it was reached ("contact" | "account"). None when
    there is none (yet)."""
    if lost_on is None:
        return None
    for via, found in (("contact", deals), ("account", account_deals)):
        later = [d for d in found
                 if d.deal_id != lost_deal and d.opened_on is not None and d.opened_on > lost_on]
        if later:
            d = min(later, key=lambda x: (x.opened_on, x.deal_id))
            return (d.deal_id, d.opened_on, d.amount, d.stage, d.state,
                    d.closed_on if d.state != "open" else None, via)
    return None


def day_start(day: date) -> datetime:
    """00:00 UTC of `day`."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# --------------------------------------------------------------------------- new deals by account


def deal_outcome(deal: LostDeal) -> DealOutcome:
    """A deal snapshot as a possible outcome of a recycle cycle."""
    closed_on = deal.lost_date if deal.state == "lost" else deal.close_date if deal.state == "won" else None
    return DealOutcome(deal.opportunity_id, deal.created_at.date() if deal.created_at else None, deal.state,
                       deal.amount, deal.stage_name, closed_on)


def _account_deals(conn: Connection, lost: Sequence[tuple[str, date | None]]) -> dict[str, list[DealOutcome]]:
    """Lost deal id -> the deals (not deleted) on its account (`deals.account_id`, the account of the
    lost deal's snapshot: the person's account at the loss) that changed on or after its loss day, the
    candidates for a new deal opened after it. Two queries by id lists, whatever the chunk's size: the
    accounts of the lost deals, then their deals since the earliest of these losses (a deal opened after
    a loss changed after it: SystemModstamp is never before CreatedDate)."""
    days = {deal_id: day for deal_id, day in lost if day is not None}
    if not days:
        return {}
    d = s.deals.c
    account_of: dict[str, str] = {}
    for part in chunks(sorted(days), IN_CHUNK):
        for r in conn.execute(sa.select(d.opportunity_id, d.account_id)
                              .where(d.opportunity_id.in_(part), d.account_id.is_not(None))):
            account_of[r.opportunity_id] = r.account_id
    if not account_of:
        return {}
    first: dict[str, datetime] = {}  # account -> start of its earliest loss day among these
    for deal_id, account in account_of.items():
        first[account] = min(first.get(account, day_start(days[deal_id])), day_start(days[deal_id]))
    since = min(first.values())
    on_account: dict[str, list[tuple[datetime, DealOutcome]]] = defaultdict(list)
    for part in chunks(sorted(first), IN_CHUNK):
        for r in conn.execute(sa.select(d.account_id, d.modified_at, d.data)
                              .where(d.account_id.in_(part), d.modified_at >= since,
                                     d.is_deleted == sa.false())):
            if r.modified_at >= first[r.account_id]:  # decoded only when it can be one
                on_account[r.account_id].append((r.modified_at, deal_outcome(deal_from_json(r.data))))
    out: dict[str, list[DealOutcome]] = {}
    for deal_id, account in account_of.items():
        start = day_start(days[deal_id])
        found = [o for at, o in on_account.get(account, ()) if at >= start and o.deal_id != deal_id]
        if found:
            out[deal_id] = found
    return out
