"""Lookups made once per run, not once per write batch: which call tasks exist (task_index) and which
campaigns exist (campaigns.CampaignIndex). Queries are counted by object on the real client's session."""

from __future__ import annotations

from collections.abc import Callable

from connectors.base import ListChange
from sandbox.salesforce import SalesforceEmulator

from .conftest import Org, Run, soql_by_object
from .test_writes import task

BATCH = 200  # the writer hands create_tasks / change_lists batches of this size


def _old_tasks(emu: SalesforceEmulator, n: int) -> list[str]:
    return [emu.store.create("Task", {"Subject": "old", "Leadsync_Cycle_Key__c": f"old-{i:05d}"})
            for i in range(n)]


def test_task_existence_is_read_once_per_run(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    contacts = [org.contact() for _ in range(10)]
    deleted = _old_tasks(emu, 3)
    emu.store.delete("Task", deleted[0])  # in the recycle bin: still a task for that key (queryAll)
    tasks = [task(f"k{i:04d}", contacts[i % 10], None, None) for i in range(1000)]
    tasks.append(task("old-00000", contacts[0], None, None))
    run = make()
    seen = soql_by_object(run)
    results = [r for start in range(0, len(tasks), BATCH)
               for r in run.connector.create_tasks(tasks[start:start + BATCH])]
    assert all(r.ok for r in results)
    assert seen["Task"] == 1  # one read of the org's keyed tasks for six batches (was one per batch)
    assert results[-1].created_id == deleted[0] and "already exists" in (results[-1].message or "")
    assert len([r for r in emu.store.all("Task") if r["Leadsync_Cycle_Key__c"].startswith("k")]) == 1000

    # the next run: the 1,000 tasks are known from one page, none is written again
    again = make()
    seen = soql_by_object(again)
    second = [r for start in range(0, len(tasks), BATCH)
              for r in again.connector.create_tasks(tasks[start:start + BATCH])]
    assert [r.created_id for r in second] == [r.created_id for r in results]
    assert seen["Task"] == 1 and "salesforce.collections" not in again.calls()


def test_task_index_of_a_large_org_rents_then_buys(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    """More keyed tasks than one page: the run asks by IN list until that has cost as many queries as
    the rest of the org's tasks would, then reads the rest once and asks nothing more."""
    contact = org.contact()
    old = _old_tasks(emu, 2500)  # 2 pages: the first read holds 2,000
    run = make()
    seen = soql_by_object(run)
    first = [task(f"{contact}:2024-06-30:{i:016x}", contact, None, None) for i in range(BATCH)]
    assert all(r.ok for r in run.connector.create_tasks(first))
    assert seen == {"Task": 2}  # the first page, then this batch's keys by IN list
    second = [task(f"new-{i}", contact, None, None) for i in range(BATCH)]
    assert all(r.ok for r in run.connector.create_tasks(second))
    assert seen == {"Task": 3}  # 1 IN query spent = 1 page left: the rest is read (Id > the last read)
    last = sorted(old)[-1]
    third = [task(f"more-{i}", contact, None, None) for i in range(BATCH - 1)]
    key_of_last = emu.store.get("Task", last)["Leadsync_Cycle_Key__c"]
    third.append(task(key_of_last, contact, None, None))
    results = run.connector.create_tasks(third)
    assert results[-1].created_id == last  # an old task from the second page: known, not written
    assert seen == {"Task": 3}
    assert sum(1 for r in emu.store.all("Task") if r["Leadsync_Cycle_Key__c"] == key_of_last) == 1


def test_a_task_whose_write_failed_is_asked_about_again(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    contact = org.contact()
    run = make(max_attempts=1)
    seen = soql_by_object(run)
    emu.faults.add("salesforce.collections", "record", 1.0, 1, "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert not run.connector.create_tasks([task("k1", contact, None, None)])[0].ok
    emu.faults.clear()
    assert run.connector.create_tasks([task("k1", contact, None, None)])[0].ok
    assert seen == {"Task": 2}  # the index, then k1 again by IN list before the second attempt
    assert len(emu.store.all("Task")) == 1


def test_campaigns_are_read_once_per_run(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    existing = emu.store.create("Campaign", {"Name": "Nurture - Events", "IsActive": True})
    ids = [org.contact() for _ in range(3)]
    run = make()
    seen = soql_by_object(run)
    # the writer sends each list's adds and removes as their own batches
    for name in ("Nurture - Events", "Nurture - Webinars", "Recycle - High"):
        assert all(r.ok for r in run.connector.change_lists([ListChange(name, i, "add") for i in ids]))
    assert all(r.ok for r in run.connector.change_lists([ListChange("Gone", ids[0], "remove")]))
    assert seen["Campaign"] == 1  # was one per list name, and one more before each creation
    campaigns = {r["Name"]: r["Id"] for r in emu.store.all("Campaign")}
    assert campaigns["Nurture - Events"] == existing and len(campaigns) == 3


def test_an_org_with_more_campaigns_than_a_page_looks_names_up(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    for i in range(2001):
        emu.store.create("Campaign", {"Name": f"Other {i:05d}", "IsActive": True})
    tricky = "Events' OR Name != '\\ \"x\""  # quotes, a backslash, a SOQL fragment: stays a literal
    newest = emu.store.create("Campaign", {"Name": tricky, "IsActive": True})
    contact = org.contact()
    run = make()
    seen = soql_by_object(run)
    assert run.connector.change_lists([ListChange(tricky, contact, "add")])[0].ok
    assert seen["Campaign"] == 2  # the first page did not hold it: looked up by name, not created
    assert {r["Id"] for r in emu.store.all("Campaign") if r["Name"] == tricky} == {newest}
    assert len(emu.store.all("Campaign")) == 2002
