"""Reading back the call tasks leadsync created (`SalesforceConnector.iter_task_states`), with the real
client against the emulator: only keyed tasks, deleted ones too, when each was closed, and what it costs
(one query call per 2,000 changed tasks; one call when none changed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sandbox.salesforce import SalesforceEmulator

from .conftest import T0, Run, soql_by_object

KEY = "Leadsync_Cycle_Key__c"


def test_only_leadsync_tasks_are_read_with_their_status_deleted_ones_too(
    make: Callable[..., Run], emu: SalesforceEmulator
) -> None:
    store = emu.store
    open_id = store.create("Task", {"Subject": "Call", KEY: "k-open"}, at=T0)
    done_id = store.create("Task", {"Subject": "Call", KEY: "k-done"}, at=T0)
    gone_id = store.create("Task", {"Subject": "Call", KEY: "k-gone"}, at=T0)
    store.create("Task", {"Subject": "a task a person made", "Status": "Completed"}, at=T0)  # no key
    store.update("Task", done_id, {"Status": "Completed"}, at=T0 + timedelta(hours=2))
    store.delete("Task", gone_id, at=T0 + timedelta(hours=3))
    run = make()
    seen = soql_by_object(run)
    states = {s.cycle_key: s for s in run.connector.iter_task_states(None)}
    assert set(states) == {"k-open", "k-done", "k-gone"}  # never the task leadsync did not create
    assert (states["k-open"].task_id, states["k-open"].status, states["k-open"].is_closed,
            states["k-open"].closed_at) == (open_id, "Not Started", False, None)
    done = states["k-done"]
    assert done.is_closed and done.status == "Completed" and done.closed_at == T0 + timedelta(hours=2)
    assert states["k-gone"].is_deleted and states["k-gone"].modified_at == T0 + timedelta(hours=3)
    assert [s.cycle_key for s in run.connector.iter_task_states(None)] == ["k-open", "k-done", "k-gone"]
    assert seen == {"Task": 2}  # one query per read: the three fit on a page

    later = [s.cycle_key for s in run.connector.iter_task_states(T0 + timedelta(hours=2))]
    assert later == ["k-done", "k-gone"]  # changed at or after `since`, oldest change first


def test_a_read_costs_one_query_call_per_2000_changed_tasks(
    make: Callable[..., Run], emu: SalesforceEmulator
) -> None:
    store = emu.store
    for i in range(2001):
        store.create("Task", {"Subject": "Call", KEY: f"k{i:05d}"}, at=T0 + timedelta(seconds=i))
    run = make()
    assert len(list(run.connector.iter_task_states(None))) == 2001
    assert (run.calls().get("salesforce.query"), run.calls().get("salesforce.query_more")) == (1, 1)

    quiet = make()  # nothing changed since the newest task: the one query that answers nothing
    assert list(quiet.connector.iter_task_states(T0 + timedelta(seconds=2001))) == []
    assert quiet.calls().get("salesforce.query") == 1 and "salesforce.query_more" not in quiet.calls()

    few = make()  # 2,000 changed: one page, one call
    assert len(list(few.connector.iter_task_states(T0 + timedelta(seconds=1)))) == 2000
    assert few.calls().get("salesforce.query") == 1 and "salesforce.query_more" not in few.calls()
