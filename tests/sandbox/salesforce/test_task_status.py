"""Task status as the org keeps it, through the real client: TaskStatus is the org's status table
(queryable, read-only), a Task's IsClosed comes from its status's TaskStatus row, and CompletedDateTime
is set by the org when a save closes the task (read-only, cleared when it is reopened)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest

from sandbox.salesforce import SalesforceEmulator

T1, T2, T3 = (datetime(2026, 3, d, 9, tzinfo=UTC) for d in (1, 2, 3))


def test_task_status_is_the_orgs_status_table(sf: Salesforce) -> None:
    rows = sf.query_all("SELECT MasterLabel, ApiName, IsClosed, IsDefault, SortOrder FROM TaskStatus "
                        "ORDER BY SortOrder")["records"]
    assert [(r["MasterLabel"], r["IsClosed"], r["IsDefault"]) for r in rows] == [
        ("Not Started", False, True), ("In Progress", False, False), ("Completed", True, False),
        ("Waiting on someone else", False, False), ("Deferred", False, False)]
    picklist = next(f for f in sf.Task.describe()["fields"] if f["name"] == "Status")
    assert [v["value"] for v in picklist["picklistValues"]] == [r["MasterLabel"] for r in rows]
    with pytest.raises(SalesforceMalformedRequest):
        sf.TaskStatus.create({"MasterLabel": "Mine", "ApiName": "Mine"})


def test_closing_a_task_sets_is_closed_and_completed_date_time(sf: Salesforce,
                                                                emu: SalesforceEmulator) -> None:
    store = emu.store
    rid = store.create("Task", {"Subject": "Call", "Leadsync_Cycle_Key__c": "k1"}, at=T1)
    opened = sf.Task.get(rid)
    assert (opened["Status"], opened["IsClosed"], opened["CompletedDateTime"]) == ("Not Started", False, None)
    store.update("Task", rid, {"Status": "Completed"}, at=T2)
    done = sf.Task.get(rid)
    assert done["IsClosed"] is True and done["CompletedDateTime"].startswith("2026-03-02T09:00:00")
    store.update("Task", rid, {"Description": "called, left a message"}, at=T3)  # stays closed: same time
    assert sf.Task.get(rid)["CompletedDateTime"] == done["CompletedDateTime"]
    assert sf.Task.get(rid)["SystemModstamp"].startswith("2026-03-03")
    store.update("Task", rid, {"Status": "In Progress"})  # reopened: no completion time any more
    again = sf.Task.get(rid)
    assert (again["IsClosed"], again["CompletedDateTime"]) == (False, None)
    closed = sf.Task.create({"Subject": "done already", "Status": "Completed"})["id"]  # closed on create
    assert sf.Task.get(closed)["CompletedDateTime"] is not None


def test_is_closed_follows_the_task_status_row_not_the_name(sf: Salesforce, emu: SalesforceEmulator) -> None:
    """An org may add closed statuses ("Multiple task status values can represent a closed task")."""
    store = emu.store
    store.insert_system_row("TaskStatus", {"MasterLabel": "Closed - No Answer", "ApiName": "Closed_No_Answer",
                                           "IsClosed": True, "IsDefault": False, "SortOrder": 6,
                                           "LastModifiedDate": T1, "LastModifiedById": store.user_id},
                            at=T1, user_id=store.user_id)
    rid = sf.Task.create({"Subject": "Call", "Status": "Closed - No Answer"})["id"]
    task = sf.Task.get(rid)
    assert task["IsClosed"] is True and task["CompletedDateTime"] is not None
    rows = sf.query("SELECT Id FROM Task WHERE IsClosed = true AND CompletedDateTime != null")["records"]
    assert [r["Id"] for r in rows] == [rid]


@pytest.mark.parametrize("field, value", [("CompletedDateTime", "2026-03-01T00:00:00.000+0000"),
                                          ("IsClosed", True)])
def test_the_org_sets_them_not_the_client(sf: Salesforce, field: str, value: object) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Task.create({"Subject": "Call", field: value})
    assert info.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
