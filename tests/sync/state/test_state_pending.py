"""Write intents in a real SQLite file: recorded before a batch, cleared on an answer, left by a crash."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from connectors.base import FieldUpdate, ListChange
from sync.state.store import StateStore


def test_intents_round_trip_and_are_cleared(tmp_path: Path) -> None:
    store = StateStore.open(f"sqlite:///{tmp_path}/state.db")
    ups = [FieldUpdate("Contact", "003A", {"Recycle_Group__c": "high", "Lead_Score__c": 42})]
    changes = [ListChange("Nurture - Events", "003A", "add"),
               ListChange("Nurture - Call/DM", "003B", "remove")]
    store.add_pending("salesforce", updates=ups, changes=changes, run_id=7)
    keys = [("salesforce", "Contact", "003A", "Recycle_Group__c"),
            ("salesforce", "Contact", "003A", "Lead_Score__c"),
            ("salesforce", "Contact", "003B", "Recycle_Group__c")]
    assert store.pending_fields(keys) == {keys[0]: "high", keys[1]: 42}
    assert store.pending_lists("salesforce", ["003A", "003B", "003C"]) == {
        ("salesforce", "Nurture - Events", "003A"), ("salesforce", "Nurture - Call/DM", "003B")}
    assert store.pending_lists("hubspot", ["003A"]) == set()

    # the checkpoint forgets the intents the system answered for, in its own transaction
    store.record_writes("salesforce", ups, run_id=7, mapping_version=1, answered=ups)
    store.record_list_changes("salesforce", changes[:1], run_id=7, answered=changes[:1])
    assert store.pending_fields(keys) == {}
    assert store.count_pending() == 1
    assert store.clear_pending_before(7) == 0  # the current run's own intents stay
    assert store.clear_pending_before(8) == 1
    assert store.count_pending() == 0


def test_intents_survive_a_reopen(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    StateStore.open(url).add_pending("hubspot", updates=[FieldUpdate("contacts", "101", {"x": "y"})],
                                     run_id=1)
    reopened = StateStore.open(url)  # as the next run after a crash would
    key = ("hubspot", "contacts", "101", "x")
    assert reopened.pending_fields([key]) == {key: "y"}


def test_reading_intents_costs_one_query_when_there_are_none(tmp_path: Path) -> None:
    """After a clean run there are no intents: the planner's per-chunk look-up is one query per
    system, not one per 500 ids; an intent that exists is still found."""
    store = StateStore.open(f"sqlite:///{tmp_path}/state.db")
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute",
                    lambda _c, _cur, stmt, *_a: statements.append(stmt))
    keys = [("hubspot", "contacts", str(i), "f") for i in range(2_000)]
    assert store.pending_fields(keys) == {}
    assert store.pending_lists("hubspot", [str(i) for i in range(2_000)]) == set()
    assert len(statements) == 2
    store.add_pending("hubspot", updates=[FieldUpdate("contacts", "1999", {"f": "x"})],
                      changes=[ListChange("L", "7", "add")], run_id=1)
    assert store.pending_fields(keys) == {keys[1999]: "x"}
    assert store.pending_lists("hubspot", [str(i) for i in range(2_000)]) == {("hubspot", "L", "7")}
