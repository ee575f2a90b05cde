"""Stage KPIs (`sync.views.kpis`) on SQLite and PostgreSQL, over a hand-built history whose expected
numbers are worked out here by hand, in the comments."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from connectors.base import LostDeal
from sync.inputs import load_mapping_file
from sync.state import schema as s
from sync.state.store import StateStore
from sync.views.kpis import MIN_PEOPLE, stage_kpis
from sync.views.kpis_render import write_csv

JAN, FEB = datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 2, 3, tzinfo=UTC)


def move(key: str, to: str, at: datetime, cause: str = "facts", frm: str | None = None,
         dimension: str = "stage") -> dict[str, object]:
    return {"person_key": key, "dimension": dimension, "from_value": frm, "to_value": to, "at": at,
            "run_id": 1, "mapping_version": 1, "cause": cause, "deal_id": None, "why": None}


def insert(store: StateStore, table: sa.Table, rows: list[dict[str, object]]) -> None:
    with store.engine.begin() as conn:
        conn.execute(table.insert(), rows)


def test_conversion_and_velocity_per_cohort(store: StateStore) -> None:
    mapping = load_mapping_file(None)
    rows = []
    # January cohort of inquiries: 6 people p0..p5 enter inquiry on Jan 10.
    #   p0..p2 reach mql after 2, 4, 6 days; p3 jumps straight to sql after 10 days; p4 goes to recycle
    #   after 1 day (not a stage further along the waterfall); p5 stays.
    #   conversion inquiry Jan: entered 6, converted 4 (p0..p3) -> 4/6 = 0.6667
    #   velocity inquiry Jan: left 5 with days [1, 2, 4, 6, 10]: median (nearest rank, 3rd of 5) = 4,
    #   p90 (ceil(4.5) = 5th) = 10; still in 1 (p5)
    for i in range(6):
        rows.append(move(f"p{i}", "inquiry", JAN))
    for i, days in enumerate((2, 4, 6)):
        rows.append(move(f"p{i}", "mql", JAN + timedelta(days=days), frm="inquiry"))
    rows.append(move("p3", "sql", JAN + timedelta(days=10), frm="inquiry"))
    rows.append(move("p4", "recycle", JAN + timedelta(days=1), frm="inquiry"))
    # mql entries: p0 (Jan 12), p1 (Jan 14), p2 (Jan 16) in January: 3 < MIN_PEOPLE -> no rate;
    #   p0 then reaches sal on Feb 3: converted 1
    rows.append(move("p0", "sal", FEB, frm="mql"))
    # p3 closes on Feb 3 (the waterfall's last stage: nothing further to convert to)
    rows.append(move("p3", "close", FEB, frm="sql"))
    # found by the first run in February (cause "first"): not an entry of any cohort
    rows += [move(f"f{i}", "mql", FEB, cause="first") for i in range(7)]
    # rank moves are not stage moves
    rows.append(move("p0", "hot", FEB, dimension="rank", frm="cold"))
    store.add_moves(rows)  # as a run or a backfill records them: linked, counted in the flow

    k = stage_kpis(store, mapping)
    conv = {(c.cohort, c.stage): c for c in k.conversion}
    assert set(conv) == {("2026-01", "inquiry"), ("2026-01", "mql"), ("2026-01", "sql"),
                         ("2026-02", "sal"), ("2026-02", "close")}
    assert (conv["2026-01", "sql"].entered, conv["2026-01", "sql"].converted) == (1, 1)  # p3 closed
    assert conv["2026-02", "close"].rate is None  # the last stage has no conversion
    assert (conv["2026-01", "inquiry"].entered, conv["2026-01", "inquiry"].converted) == (6, 4)
    assert conv["2026-01", "inquiry"].rate == round(4 / 6, 4)
    assert (conv["2026-01", "mql"].entered, conv["2026-01", "mql"].converted) == (3, 1)
    assert MIN_PEOPLE > 3 and conv["2026-01", "mql"].rate is None  # too little data, not 33 %
    assert [c.stage for c in k.conversion if c.cohort == "2026-01"] == ["inquiry", "mql", "sql"]
    vel = {(v.cohort, v.stage): v for v in k.velocity}
    inq = vel["2026-01", "inquiry"]
    assert (inq.left, inq.still_in, inq.median_days, inq.p90_days) == (5, 1, 4, 10)
    # mql in January: p0 left after 22 days (Jan 12 -> Feb 3); p1, p2 still in; too few for a median
    assert (vel["2026-01", "mql"].left, vel["2026-01", "mql"].still_in) == (1, 2)
    assert vel["2026-01", "mql"].median_days is None

    # --since/--until: only February's entries
    feb = stage_kpis(store, mapping, since=datetime(2026, 2, 1, tzinfo=UTC),
                     until=datetime(2026, 3, 1, tzinfo=UTC))
    assert [(c.cohort, c.stage, c.entered) for c in feb.conversion] == [("2026-02", "sal", 1),
                                                                         ("2026-02", "close", 1)]


def deal(opp: str, lost: date | None, stage: str | None, reason: str | None, amount: float | None,
         *, state: str = "lost", deleted: bool = False) -> LostDeal:
    return LostDeal(opportunity_id=opp, name=opp, state=state, stage_name="Closed Lost",  # type: ignore[arg-type]
                    stage_at_loss=stage, loss_reason=reason, lost_date=lost, amount=amount, owner_id=None,
                    account_id=None, account_name=None, account_employees=None, account_industry=None,
                    contacts=(), modified_at=datetime(2026, 5, 1, tzinfo=UTC), is_deleted=deleted)


def test_losses_per_quarter_and_the_second_pipeline(store: StateStore) -> None:
    mapping = load_mapping_file(None)  # Prospecting = awareness, Negotiation/Review = purchase
    store.upsert_deals([  # as a run stores them
        deal("D1", date(2026, 1, 5), "Prospecting", "Price", 100.0),
        deal("D2", date(2026, 3, 31), "Prospecting", "Price", 50.0),  # Q1 too: awareness × Price 2 / 150
        deal("D3", date(2026, 4, 1), "Negotiation/Review", " ", None),  # Q2, no reason, no amount
        deal("D4", date(2026, 4, 2), "Somewhere", "Timing", 10.0),  # a stage not in [phases]
        deal("D5", date(2026, 4, 3), "Prospecting", "Price", 5.0, deleted=True),  # deleted: left out
        deal("D6", None, None, None, 1.0, state="won"),  # not lost
    ])
    k = stage_kpis(store, mapping)
    assert [(c.quarter, c.phase, c.reason, c.deals, c.amount) for c in k.losses] == [
        ("2026-Q1", "awareness", "Price", 2, 150.0),
        ("2026-Q2", "purchase", "(none)", 1, 0.0),
        ("2026-Q2", "unmapped", "Timing", 1, 10.0),
    ]

    t = datetime(2026, 2, 1, tzinfo=UTC)

    def cycle(key: str, deal_id: str, group: str, reason: str, phase: str,
              **extra: object) -> dict[str, object]:
        row: dict[str, object] = {
            "person_key": key, "deal_id": deal_id, "lost_on": date(2026, 1, 5), "loss_reason": reason,
            "phase": phase, "lost_amount": 100.0, "first_group": group, "entered_at": t, "group_now": group,
            "promoted_at": None, "left_at": None, "reengaged_at": None, "task_cycle_key": None,
            "new_deal_id": None, "new_deal_opened_on": None, "new_deal_amount": None,
            "new_deal_stage": None, "new_deal_state": None, "new_deal_closed_on": None, "run_id": 1}
        row.update(extra)
        return row

    insert(store, s.call_tasks, [{"cycle_key": "K1", "system": "salesforce", "task_id": "00T1",
                                  "created_at": t, "run_id": 1}])
    insert(store, s.recycle_cycles, [
        # high: a called (K1), won 300; b not called, a new deal still open (200)
        cycle("a", "D1", "high", "Price", "purchase", task_cycle_key="K1", new_deal_id="N1",
              new_deal_amount=300.0, new_deal_state="won"),
        cycle("b", "D2", "high", "Price", "purchase", task_cycle_key="K2", new_deal_id="N2",
              new_deal_amount=200.0, new_deal_state="open"),
        # low: c re-engaged and promoted, lost again (50); d nothing
        cycle("c", "D3", "low", "Timing", "awareness", reengaged_at=t, promoted_at=t, new_deal_id="N3",
              new_deal_amount=50.0, new_deal_state="lost"),
        cycle("d", "D4", "low", "Timing", "awareness"),
    ])
    assert k.pipeline == []  # before any cycle
    rows = {(p.by, p.value): p for p in stage_kpis(store, mapping).pipeline}
    high, low = rows["group", "high"], rows["group", "low"]
    assert (high.recycled, high.called, high.new_deals, high.new_amount, high.won_deals, high.won_amount,
            high.lost_again) == (2, 1, 2, 500.0, 1, 300.0, 0)
    assert (low.recycled, low.reengaged, low.promoted, low.called, low.new_deals, low.won_deals,
            low.lost_again) == (2, 1, 1, 0, 1, 0, 1)
    assert rows["reason", "Price"].won_amount == 300.0 and rows["phase", "awareness"].recycled == 2
    later = stage_kpis(store, mapping, since=t + timedelta(days=1))
    assert later.pipeline == []  # every cycle entered before --since


def test_a_new_deal_reached_by_several_cycles_counts_once_in_every_cell(store: StateStore,
                                                                        tmp_path: Path) -> None:
    """Recycled people of one account share the deal opened on it; two contact roles share theirs. Each
    deal counts once per row and in the total, and the rows say how many came through the account."""
    mapping = load_mapping_file(None)
    t = datetime(2026, 2, 1, tzinfo=UTC)

    def cycle(key: str, group: str, reason: str, phase: str, new: tuple[str, float, str, str] | None = None
              ) -> dict[str, object]:
        deal_id, amount, state, via = new or (None, None, None, None)
        return {"person_key": key, "deal_id": f"L-{key}", "lost_on": date(2026, 1, 5), "loss_reason": reason,
                "phase": phase, "lost_amount": 10.0, "first_group": group, "entered_at": t,
                "group_now": group, "promoted_at": None, "left_at": None, "reengaged_at": None,
                "task_cycle_key": None, "new_deal_id": deal_id, "new_deal_opened_on": None,
                "new_deal_amount": amount, "new_deal_stage": None, "new_deal_state": state,
                "new_deal_closed_on": None, "new_deal_via": via, "run_id": 1}

    n = ("N", 1000.0, "won", "account")  # opened on the account of a and b, neither a contact role
    insert(store, s.recycle_cycles, [
        cycle("a", "high", "Price", "purchase", n),
        cycle("b", "low", "Price", "awareness", n),
        cycle("c", "high", "Timing", "purchase", ("C", 300.0, "open", "contact")),  # c and d: contact
        cycle("d", "high", "Price", "purchase", ("C", 300.0, "open", "contact")),   # roles on C
        cycle("e", "low", "Timing", "awareness", ("L", 50.0, "lost", "account")),   # e through the account,
        cycle("f", "low", "Timing", "awareness", ("L", 50.0, "lost", "contact")),   # f a contact role on L
        cycle("g", "waiting", "Timing", "awareness"),
    ])
    k = stage_kpis(store, mapping)
    got = {(p.by, p.value): (p.recycled, p.new_deals, p.new_amount, p.won_deals, p.won_amount, p.lost_again,
                             p.new_via_account) for p in k.pipeline}
    # (recycled, new deals, new amount, won, won amount, lost again, via account), by hand:
    assert got == {
        # high: a, c, d -> N (1000, won, account only) and C (300): C counted once for c and d
        ("group", "high"): (3, 2, 1300.0, 1, 1000.0, 0, 1),
        # low: b, e, f -> N and L (50, lost; f reached L as a contact role: not "via account")
        ("group", "low"): (3, 2, 1050.0, 1, 1000.0, 1, 1),
        ("group", "waiting"): (1, 0, 0.0, 0, 0.0, 0, 0),
        # Price: a, b, d -> N once (a and b), C
        ("reason", "Price"): (3, 2, 1300.0, 1, 1000.0, 0, 1),
        # Timing: c, e, f, g -> C, L once (e and f)
        ("reason", "Timing"): (4, 2, 350.0, 0, 0.0, 1, 0),
        ("phase", "purchase"): (3, 2, 1300.0, 1, 1000.0, 0, 1),
        ("phase", "awareness"): (4, 2, 1050.0, 1, 1000.0, 1, 1),
        # all 7 cycles: N, C, L once each (N is in the high and the low row, once here)
        ("total", "all"): (7, 3, 1350.0, 1, 1000.0, 1, 1),
    }
    assert sum(p.new_deals for p in k.pipeline if p.by == "group") == 4  # the groups share N

    data = k.to_dict()["second_pipeline"]
    assert {"by": "total", "value": "all", "new_via_account": 1}.items() <= next(
        r for r in data if r["by"] == "total").items()
    write_csv(k, tmp_path)
    with (tmp_path / "second_pipeline.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    total = next(r for r in rows if r["by"] == "total")
    assert (total["new_deals"], total["new_amount"], total["new_via_account"]) == ("3", "1350.0", "1")


def test_the_second_pipeline_counts_the_calls_completed_in_salesforce(store: StateStore) -> None:
    """`completed`: cycles whose call task Salesforce holds as closed (call_tasks.closed_at, read back
    by the runs), next to `called` (a task created)."""
    mapping = load_mapping_file(None)
    t = datetime(2026, 2, 1, tzinfo=UTC)

    def cycle(key: str, group: str, reason: str, task: str | None, at: datetime = t) -> dict[str, object]:
        return {"person_key": key, "deal_id": f"D-{key}", "lost_on": date(2026, 1, 5), "loss_reason": reason,
                "phase": "purchase", "lost_amount": None, "first_group": group, "entered_at": at,
                "group_now": group, "promoted_at": None, "left_at": None, "reengaged_at": None,
                "task_cycle_key": task, "new_deal_id": None, "new_deal_opened_on": None,
                "new_deal_amount": None, "new_deal_stage": None, "new_deal_state": None,
                "new_deal_closed_on": None, "new_deal_via": None, "run_id": 1}

    def task(key: str, status: str | None, closed_at: datetime | None) -> dict[str, object]:
        return {"cycle_key": key, "system": "salesforce", "task_id": f"00T{key}", "created_at": t,
                "run_id": 1, "status": status, "closed_at": closed_at}

    insert(store, s.call_tasks, [
        task("K1", "Completed", t + timedelta(days=3)),  # completed
        task("K2", "In Progress", None),  # called, still open
        task("K3", "(deleted)", None),  # deleted in Salesforce: called, never completed
        task("K4", None, None),  # not read back yet
        task("K5", "Closed - No Answer", t + timedelta(days=1)),  # a custom closed status: completed
        task("K6", "Completed", t + timedelta(days=2)),  # completed, but its cycle is before --since
    ])
    insert(store, s.recycle_cycles, [
        cycle("a", "high", "Price", "K1"), cycle("b", "high", "Price", "K2"),
        cycle("c", "high", "Timing", "K3"), cycle("d", "low", "Timing", "K4"),
        cycle("e", "low", "Price", "K5"), cycle("f", "low", "Price", None),
        cycle("g", "high", "Price", "K6", at=t - timedelta(days=40)),
    ])
    # by group, all cycles: high a, b, c, g -> called 4 (K1, K2, K3, K6), completed 2 (K1, K6);
    #   low d, e, f -> called 2 (K4, K5), completed 1 (K5)
    # by reason: Price a, b, e, f, g -> called 4, completed 3 (K1, K5, K6);
    #   Timing c, d -> called 2, completed 0
    rows = {(p.by, p.value): (p.recycled, p.called, p.completed) for p in stage_kpis(store, mapping).pipeline}
    assert rows["group", "high"] == (4, 4, 2) and rows["group", "low"] == (3, 2, 1)
    assert rows["reason", "Price"] == (5, 4, 3) and rows["reason", "Timing"] == (2, 2, 0)
    assert rows["phase", "purchase"] == (7, 6, 3)
    # from Feb 1: g (entered Dec 23) is out -> high: a, b, c -> called 3, completed 1
    since = {(p.by, p.value): (p.recycled, p.called, p.completed)
             for p in stage_kpis(store, mapping, since=t).pipeline}
    assert since["group", "high"] == (3, 3, 1) and since["group", "low"] == (3, 2, 1)
