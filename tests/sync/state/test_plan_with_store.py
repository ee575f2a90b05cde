"""Planner + state store together: plan, record what was confirmed, read the state back, plan again."""

from __future__ import annotations

from datetime import date

from connectors.base import CallTask, FieldUpdate
from sync.run.plan import FieldTarget, ListTarget, PersonDesired, PlanState, TaskTarget, WritePlan, plan
from sync.state.records import TaskCycle
from sync.state.store import StateStore


def plan_state(store: StateStore, people: list[PersonDesired]) -> PlanState:
    """What the runner reads from the store for one chunk of people: one `plan_state` call."""
    records: dict[str, set[str]] = {}
    for p in people:
        for system, rid in p.touched():
            records.setdefault(system, set()).add(rid)
    return store.plan_state((t.key for p in people for t in p.fields), records,
                            (TaskCycle(tt.task.cycle_key, tt.former_key, tt.lost_on)
                             for p in people for tt in p.tasks))


def record(store: StateStore, p: WritePlan, run_id: int) -> None:
    """The runner's checkpoints, as if every write was confirmed."""
    for (system, _obj), ups in p.field_updates.items():
        store.record_writes(system, list(ups), run_id=run_id, mapping_version=3)
    for t in p.adopted:
        store.record_writes(
            t.system,
            [FieldUpdate(t.object, t.record_id, {t.field: t.value})],
            run_id=run_id,
            mapping_version=3,
        )
    for system, changes in p.list_changes.items():
        store.record_list_changes(system, list(changes), run_id=run_id)
    for system, tasks in p.tasks.items():
        store.record_tasks(system, [(t.cycle_key, f"00T{i}") for i, t in enumerate(tasks)], run_id=run_id)


def people(rank_list: str) -> list[PersonDesired]:
    task = CallTask(
        "a@x.com|006A|2024-04-01",
        "003A",
        "005OWNER",
        "Recycle",
        "Lost at Negotiation/Review",
        date(2024, 5, 4),
        "006A",
    )
    return [
        PersonDesired(
            "a@x.com",
            fields=(
                FieldTarget("salesforce", "Contact", "003A", "Lead_Score__c", 55),
                FieldTarget("salesforce", "Contact", "003A", "Recycle_Group__c", "high", "keep_manual"),
                FieldTarget("hubspot", "contacts", "101", "leadsync_score", 55),
                FieldTarget(
                    "hubspot", "contacts", "101", "nurture_list", "warm", "overwrite", current="warm"
                ),
            ),
            lists=(ListTarget("hubspot", rank_list, "101"), ListTarget("salesforce", rank_list, "003A")),
            tasks=(TaskTarget("salesforce", task),),
        )
    ]


def test_second_plan_after_recording_is_empty_and_a_list_move_is_one_add_one_remove(
    store: StateStore,
) -> None:
    run = store.start_run(mapping_version=3)
    first = plan(people("Nurture - Call/DM"), plan_state(store, people("Nurture - Call/DM")))
    assert first.counts()["salesforce"] == {
        "records": 1,
        "fields": 2,
        "list_adds": 1,
        "list_removes": 0,
        "tasks": 1,
        "skipped": 0,
        "adopted": 0,
    }
    assert len(first.adopted) == 1  # nurture_list already right in HubSpot: recorded, not written
    record(store, first, run)

    again = plan(people("Nurture - Call/DM"), plan_state(store, people("Nurture - Call/DM")))
    assert again.is_empty

    moved = plan(people("Nurture - Events"), plan_state(store, people("Nurture - Events")))
    assert moved.field_updates == {} and moved.tasks == {}
    assert {s: [(c.list_name, c.op) for c in ch] for s, ch in moved.list_changes.items()} == {
        "hubspot": [("Nurture - Events", "add"), ("Nurture - Call/DM", "remove")],
        "salesforce": [("Nurture - Events", "add"), ("Nurture - Call/DM", "remove")],
    }
    record(store, moved, run)
    assert {(m.list_name, m.record_id) for m in store.get_memberships("hubspot")} == {
        ("Nurture - Events", "101")
    }
    assert plan(people("Nurture - Events"), plan_state(store, people("Nurture - Events"))).is_empty
