"""The snapshot report's counts in the database (`sync.views.report_sql.stored_counts`) and the second
pipeline's single grouped pass (`sync.views.kpis`), on SQLite and PostgreSQL, over a hand-built store
whose expected numbers are worked out here by hand; and, on SQLite, that the report's passes read the
indexes of migration 8 instead of the tables (their query plans: no timing)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.base import DealContact, LostDeal
from sync.inputs import load_mapping_file
from sync.state import schema as s
from sync.state.store import StateStore
from sync.views.kpis import stage_kpis
from sync.views.report_sql import stored_counts

AT = datetime(2026, 2, 1, tzinfo=UTC)


def _deal(opp: str, stage: str | None, reason: str | None, amount: float | None, *, state: str = "lost",
          deleted: bool = False, people: tuple[str, ...] = ()) -> LostDeal:
    return LostDeal(opportunity_id=opp, name=opp, state=state, stage_name="Closed Lost",  # type: ignore[arg-type]
                    stage_at_loss=stage, loss_reason=reason, lost_date=date(2026, 1, 5), amount=amount,
                    owner_id=None, account_id=None, account_name=None, account_employees=None,
                    account_industry=None, modified_at=AT, is_deleted=deleted,
                    contacts=tuple(DealContact(f"003{p}", p, None, None, False, False) for p in people))


def _person(key: str, stage: str, rank: str, group: str | None = None, deal: str | None = None,
            nurture: str | None = None, sf: int = 0, hs: int = 1,
            reengaged: date | None = None) -> dict[str, Any]:
    return {"person_key": key, "stage": stage, "rank": rank, "recycle_group": group, "deal_id": deal,
            "nurture_list": nurture, "score": 1, "salesforce_records": sf, "hubspot_records": hs,
            "reengaged_on": reengaged, "facts_digest": "f", "mapping_digest": "m", "mapping_version": 1,
            "changed_at": AT, "run_id": 1}


def _contact(i: int, key: str, *, archived: bool = False, merged_into: str | None = None) -> dict[str, Any]:
    return {"system": "hubspot", "contact_id": str(i), "email": key, "email_norm": key, "properties": "{}",
            "modified_at": AT, "archived": archived, "merged_into": merged_into, "stored_at": AT,
            "person_key": key}


def _seed(store: StateStore) -> None:
    store.upsert_deals([
        _deal("D1", "Proposal", "Price", 1000.0),
        _deal("D2", "Proposal", "Price", 500.0, people=("c@x.com",)),  # c is on no HubSpot contact
        _deal("D3", "Proposal", "Timing", 70.0, deleted=True),
        _deal("D4", None, None, None),  # no stage at loss, reason or amount
        _deal("D5", None, None, 9.0, state="won"),
    ], at=AT)
    with store.engine.begin() as conn:
        conn.execute(s.contacts.insert(), [
            _contact(1, "a@x.com"), _contact(2, "b@x.com"), _contact(4, "d@x.com"), _contact(5, "e@x.com"),
            _contact(6, "f@x.com", archived=True), _contact(7, "g@x.com", merged_into="2"),
            _contact(8, "h@x.com")])
        conn.execute(s.assignments.insert(), [
            _person("a@x.com", "mql", "hot", nurture="hot"),
            _person("b@x.com", "recycle", "warm", "high", "D1", "recycle_high", sf=1,
                    reengaged=date(2026, 1, 9)),
            _person("c@x.com", "recycle", "warm", "high", "D2", "recycle_high", sf=2, hs=0),
            _person("d@x.com", "recycle", "cold", "low", "D3", "recycle_low"),  # its deal was deleted
            _person("e@x.com", "recycle", "cold", "low", "D4", "recycle_low", reengaged=date(2026, 1, 9)),
            _person("f@x.com", "mql", "hot", nurture="hot"),  # archived in HubSpot, on no deal: gone
            _person("g@x.com", "mql", "hot", nurture="hot"),  # merged into another contact: gone
            _person("h@x.com", "recycle", "warm", "high", "D5", "recycle_high", sf=1),  # D5 is not lost
        ])


def test_stored_counts_of_a_hand_built_store(store: StateStore) -> None:
    _seed(store)
    got = stored_counts(store)
    # f and g are no longer in the store; c is there through the deal D2 only
    assert sorted(got.standings, key=str) == sorted([
        ("mql", "hot", None, 1), ("recycle", "warm", "high", 3), ("recycle", "cold", "low", 2)], key=str)
    # high: b (D1 1000, re-engaged) and c (D2 500); h's D5 is won and d's D3 deleted: not counted;
    # e's D4 has no stage, reason or amount: a group of its own, amount 0, its re-engagement counted
    assert sorted(got.grouped_deals, key=str) == sorted([
        ("high", "Proposal", "Price", 2, 1500.0, 1), ("low", None, None, 1, 0.0, 1)], key=str)
    # per list key: SF people, SF records, HubSpot people, HubSpot records
    assert sorted(got.lists) == [("hot", 0, 0, 1, 1), ("recycle_high", 3, 4, 2, 2),
                                 ("recycle_low", 0, 0, 2, 2)]
    assert sorted(got.lost_deals, key=str) == sorted([("Proposal", "Price", 2, 1500.0), (None, None, 1, 0.0)],
                                                     key=str)


def _cycle(key: str, group: str, reason: str | None, phase: str, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "person_key": key, "deal_id": f"D{key}", "lost_on": date(2026, 1, 5), "loss_reason": reason,
        "phase": phase, "lost_amount": 1.0, "first_group": group, "entered_at": AT, "group_now": group,
        "promoted_at": None, "left_at": None, "reengaged_at": None, "task_cycle_key": None,
        "new_deal_id": None, "new_deal_opened_on": None, "new_deal_amount": None, "new_deal_stage": None,
        "new_deal_state": None, "new_deal_closed_on": None, "run_id": 1}
    row.update(extra)
    return row


def test_second_pipeline_sums_each_dimension_across_the_others(store: StateStore) -> None:
    """Groups, reasons and phases cross: each dimension's row sums every cycle with that value."""
    with store.engine.begin() as conn:
        conn.execute(s.call_tasks.insert(), [{"cycle_key": "K1", "system": "salesforce", "task_id": "00T1",
                                              "created_at": AT, "run_id": 1}])
        conn.execute(s.recycle_cycles.insert(), [
            _cycle("a", "high", "Price", "purchase", task_cycle_key="K1", new_deal_id="N1",
                   new_deal_amount=300.0, new_deal_state="won"),
            _cycle("b", "low", "Price", "awareness", reengaged_at=AT, new_deal_id="N2", new_deal_amount=20.0,
                   new_deal_state="lost"),
            _cycle("c", "high", "Timing", "awareness", promoted_at=AT, task_cycle_key="K9"),  # K9: no task
            _cycle("d", "low", None, "purchase", new_deal_id="N4", new_deal_amount=5.0,
                   new_deal_state="open"),
            _cycle("e", "low", "  ", "purchase"),  # a blank reason: "(none)", a row apart from NULL
            _cycle("f", "low", "  ", "awareness"),
        ])
    pipeline = stage_kpis(store, load_mapping_file(None)).pipeline
    rows = [(p.by, p.value, p.recycled, p.reengaged, p.promoted, p.called, p.new_deals, p.new_amount,
             p.won_deals, p.won_amount, p.lost_again) for p in pipeline]
    assert rows == [
        # by group, most cycles first: low = b, d, e, f; high = a, c
        ("group", "low", 4, 1, 0, 0, 2, 25.0, 0, 0.0, 1),
        ("group", "high", 2, 0, 1, 1, 1, 300.0, 1, 300.0, 0),
        # by reason: blank = e, f; Price = a, b; no reason (NULL) = d; Timing = c
        ("reason", "(none)", 2, 0, 0, 0, 0, 0.0, 0, 0.0, 0),
        ("reason", "Price", 2, 1, 0, 1, 2, 320.0, 1, 300.0, 1),
        ("reason", "(none)", 1, 0, 0, 0, 1, 5.0, 0, 0.0, 0),
        ("reason", "Timing", 1, 0, 1, 0, 0, 0.0, 0, 0.0, 0),
        # by phase: awareness = b, c, f; purchase = a, d, e
        ("phase", "awareness", 3, 1, 1, 0, 1, 20.0, 0, 0.0, 1),
        ("phase", "purchase", 3, 0, 0, 1, 2, 305.0, 1, 300.0, 0),
        # every cycle: a-f, the three new deals N1, N2, N4 once each
        ("total", "all", 6, 1, 1, 1, 3, 325.0, 1, 300.0, 1),
    ]


def _plans(store: StateStore, action: Any) -> list[str]:
    """EXPLAIN QUERY PLAN of every SELECT `action` runs, one text per statement."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    with store.engine.connect() as conn:
        return ["\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {q}", p))
                for q, p in seen]


def test_the_report_reads_indexes_not_tables_on_sqlite(store: StateStore) -> None:
    """The pass over everyone scans `ix_assignments_standing` in group order (no sort, no table row) and
    decides each person's liveness from `ix_contacts_live` alone; the lost deals come from
    `ix_deals_lost`, which also serves the recycled people's join to their lost deal; the second pipeline
    reads `ix_recycle_cycles_pipeline` in group order. Without migration 8 each would read the tables
    (and sort a million rows)."""
    if store.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's plans; PostgreSQL chooses its own (hash aggregates, parallel scans)")
    _seed(store)
    plans = _plans(store, lambda: stored_counts(store))
    everyone = next(p for p in plans if "assignments" in p and "deals" not in p)
    assert "SCAN assignments USING COVERING INDEX ix_assignments_standing" in everyone, everyone
    assert "TEMP B-TREE" not in everyone, everyone
    assert "COVERING INDEX ix_contacts_live" in everyone, everyone
    grouped = next(p for p in plans if "assignments" in p and "deals" in p)
    assert "COVERING INDEX ix_deals_lost (opportunity_id=?" in grouped, grouped
    assert "COVERING INDEX ix_contacts_live" in grouped, grouped
    lost_only = [p for p in plans if "deals" in p and "assignments" not in p]
    assert lost_only and all("COVERING INDEX ix_deals_lost" in p for p in lost_only), lost_only
    kpi_plans = _plans(store, lambda: stage_kpis(store, load_mapping_file(None)))
    losses = [p for p in kpi_plans if "deals" in p]
    assert losses and all("COVERING INDEX ix_deals_lost" in p for p in losses), losses
    pipeline = next(p for p in kpi_plans if "recycle_cycles" in p)
    assert "SCAN recycle_cycles USING COVERING INDEX ix_recycle_cycles_pipeline" in pipeline, pipeline
    assert "TEMP B-TREE" not in pipeline, pipeline


def test_report_settings_last_for_the_report_only_on_postgresql(store: StateStore) -> None:
    """The report's statements run without JIT and with a work_mem that holds the liveness hash tables;
    the pooled connection is back to the server's settings afterwards (SET LOCAL: this transaction)."""
    if store.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL settings")
    default = _settings(store)
    assert default != ("off", "64MB")
    seen: list[tuple[Any, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and not seen:
            with conn.connection.dbapi_connection.cursor() as cur:  # the same session, mid-transaction
                cur.execute("SHOW jit")
                jit = cur.fetchone()[0]
                cur.execute("SHOW work_mem")
                seen.append((jit, cur.fetchone()[0]))

    _seed(store)
    sa.event.listen(store.engine, "before_cursor_execute", record)
    try:
        assert stored_counts(store).standings
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", record)
    assert seen == [("off", "64MB")]
    assert _settings(store) == default


def _settings(store: StateStore) -> tuple[Any, Any]:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql("SHOW jit").scalar(), conn.exec_driver_sql("SHOW work_mem").scalar()
