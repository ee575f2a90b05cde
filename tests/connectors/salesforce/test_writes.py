"""Field updates, campaign membership and call tasks against the emulator, with faults switched on."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from datetime import date

import pytest

from connectors.base import BudgetExhausted, CallTask, FieldUpdate, ListChange
from connectors.salesforce.task_index import existing_tasks
from sandbox.salesforce import SalesforceEmulator

from .conftest import Org, Run, emulator_calls


def updates_for(ids: list[str], score: int = 42) -> list[FieldUpdate]:
    return [
        FieldUpdate("Contact", cid, {"Lead_Score__c": score + i, "Lead_Stage__c": "recycle"})
        for i, cid in enumerate(ids)
    ]


def scores(emu: SalesforceEmulator) -> dict[str, float | None]:
    return {r["Id"]: r["Lead_Score__c"] for r in emu.store.all("Contact")}


def test_updates_go_in_full_batches_of_200(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    ids = [org.contact() for _ in range(450)]
    run = make()
    results = run.connector.update_fields(updates_for(ids))
    assert [r.record_id for r in results] == ids and all(r.ok for r in results)
    assert run.calls()["salesforce.collections"] == 3  # 200 + 200 + 50: never one record per call
    assert scores(emu) == {cid: 42 + i for i, cid in enumerate(ids)}
    assert {r["Lead_Stage__c"] for r in emu.store.all("Contact")} == {"recycle"}


def test_per_record_failures_are_reported_not_fatal(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    good, also_good = org.contact(), org.contact()
    updates = [
        FieldUpdate("Contact", good, {"Lead_Score__c": 1}),
        FieldUpdate("Contact", good[:-3] + "ZZZ", {"Lead_Score__c": 2}),
        FieldUpdate("Contact", also_good, {"Lead_Stage__c": "not-a-stage"}),
        FieldUpdate("Contact", also_good, {"Lead_Score__c": 3}),
    ]
    results = make().connector.update_fields(updates)
    assert [r.ok for r in results] == [True, False, False, True]
    assert results[2].error_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" and not results[2].retryable
    assert results[1].error_code and not results[1].retryable
    assert scores(emu)[good] == 1 and scores(emu)[also_good] == 3


WRITE_FAULTS = {
    "lock rows": [("salesforce.collections", "record", 0.15, None, "UNABLE_TO_LOCK_ROW")],
    "concurrent-limit bursts": [  # 403 REQUEST_LIMIT_EXCEEDED: Salesforce sends no 429
        ("salesforce.collections", "concurrent", 1.0, 2, None),
        ("salesforce.collections", "concurrent", 0.2, None, None),
    ],
    "5xx": [
        ("salesforce.collections", "503", 1.0, 1, None),
        ("salesforce.collections", "500", 0.2, None, None),
    ],
    "dropped connections": [
        ("salesforce.collections", "drop", 1.0, 1, None),
        ("salesforce.collections", "drop", 0.2, None, None),
    ],
    "session expiry": [("salesforce.collections", "expire", 1.0, 1, None)],
}


@pytest.mark.parametrize("faults", list(WRITE_FAULTS.values()), ids=list(WRITE_FAULTS))
def test_updates_under_faults_lose_nothing(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator, faults: list
) -> None:
    ids = [org.contact() for _ in range(450)]
    for rule in faults:
        emu.faults.add(*rule)
    run = make(max_attempts=10)
    results = run.connector.update_fields(updates_for(ids))
    assert all(r.ok for r in results) and [r.record_id for r in results] == ids
    assert scores(emu) == {cid: 42 + i for i, cid in enumerate(ids)}
    assert sum(emu.faults.injected.values()) > 0
    assert run.calls() == emulator_calls(emu)
    assert run.calls()["salesforce.collections"] >= 3


def test_lock_row_retries_resubmit_only_the_failed_records(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    ids = [org.contact() for _ in range(200)]
    emu.faults.add("salesforce.collections", "record", 1.0, 5, "UNABLE_TO_LOCK_ROW")
    run = make()
    results = run.connector.update_fields(updates_for(ids))
    assert all(r.ok for r in results)
    assert run.calls()["salesforce.collections"] == 2  # the batch, then the 5 locked rows together
    assert run.sleeps and max(run.sleeps) <= 0.05


def test_bulk_ingest_above_the_threshold(make: Callable[..., Run], org: Org, emu: SalesforceEmulator) -> None:
    ids = [org.contact() for _ in range(260)]
    emu.faults.add("salesforce.bulk", "record", 1.0, 3, "UNABLE_TO_LOCK_ROW")
    run = make(bulk_write_threshold=100)
    updates = updates_for(ids)
    updates[5] = FieldUpdate("Contact", ids[5], {"Lead_Score__c": None})  # null through the bulk CSV (#N/A)
    results = run.connector.update_fields(updates)
    assert [r.record_id for r in results] == ids and all(r.ok for r in results)
    expected = {cid: 42 + i for i, cid in enumerate(ids)}
    expected[ids[5]] = None
    assert scores(emu) == expected
    calls = run.calls()
    assert calls.get("salesforce.collections") == 1  # the 3 locked rows, resubmitted through Collections
    assert calls["salesforce.bulk"] >= 5 and calls == emulator_calls(emu)


def test_budget_is_checked_before_each_batch(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    ids = [org.contact() for _ in range(450)]
    run = make(daily_reserve=6)
    emu.daily_limit = 1_000
    emu.api_used = 993
    list(run.connector.read_contacts(ids[:1], []))  # one call: 994 used, 6 left
    assert run.connector.budget() == (994, 1_000)
    with pytest.raises(BudgetExhausted):
        run.connector.update_fields(updates_for(ids))
    written = [cid for cid, score in scores(emu).items() if score is not None]
    assert len(written) == 200  # batch 1 ran (6 left >= 6), then 5 left: batch 2 was never started
    assert run.calls()["salesforce.collections"] == 1


def test_request_limit_exceeded_from_the_org_stops_cleanly(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    ids = [org.contact() for _ in range(10)]
    emu.daily_limit = 0
    with pytest.raises(BudgetExhausted):
        make(auth="session").connector.update_fields(updates_for(ids))
    assert emu.calls.snapshot()["salesforce.collections"] == 1


# --------------------------------------------------------------------------- campaigns


def members(emu: SalesforceEmulator) -> Counter[tuple[str, str]]:
    names = {r["Id"]: r["Name"] for r in emu.store.all("Campaign")}
    return Counter((names[r["CampaignId"]], r["ContactId"]) for r in emu.store.all("CampaignMember"))


def test_campaign_membership_add_remove_idempotent(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    existing = emu.store.create("Campaign", {"Name": "Nurture - Events", "IsActive": True})
    ids = [org.contact() for _ in range(250)]
    adds = [
        ListChange("Nurture - Events" if i % 2 else "nurture - call/dm", cid, "add")
        for i, cid in enumerate(ids)
    ]
    run = make()
    results = run.connector.change_lists(adds)
    assert all(r.ok for r in results) and [r.record_id for r in results] == ids
    campaigns = {r["Name"]: r["Id"] for r in emu.store.all("Campaign")}
    assert campaigns["Nurture - Events"] == existing and set(campaigns) == {
        "Nurture - Events",
        "nurture - call/dm",
    }
    assert sum(members(emu).values()) == 250 and max(members(emu).values()) == 1
    # collections: 1 campaign create + ceil(250 / 200) member creates
    assert run.calls()["salesforce.collections"] == 1 + math.ceil(250 / 200)

    again = make().connector.change_lists(adds[:10])  # already members: DUPLICATE_VALUE is success
    assert all(r.ok for r in again) and sum(members(emu).values()) == 250

    removes = [ListChange(c.list_name, c.record_id, "remove") for c in adds[:120]]
    removes.append(ListChange("No Such Campaign", ids[0], "remove"))
    removes.append(ListChange("Nurture - Events", ids[0], "remove"))  # ids[0] is on the other campaign
    run = make()
    results = run.connector.change_lists(removes)
    assert all(r.ok for r in results) and len(results) == 122
    assert sum(members(emu).values()) == 130
    assert run.calls()["salesforce.collections"] == 1  # 120 deletes in one call


@pytest.mark.parametrize("kind", ["drop", "503"])
def test_faults_never_duplicate_campaigns_or_members(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator, kind: str
) -> None:
    ids = [org.contact() for _ in range(30)]
    emu.faults.add("salesforce.collections", kind, 0.5, None, None)
    emu.faults.add("salesforce.collections", "record", 0.1, None, "UNABLE_TO_LOCK_ROW")
    run = make(max_attempts=12)
    results = run.connector.change_lists([ListChange("Recycle", cid, "add") for cid in ids])
    assert all(r.ok for r in results)
    assert [r["Name"] for r in emu.store.all("Campaign")] == ["Recycle"]
    assert members(emu) == Counter({("Recycle", cid): 1 for cid in ids})
    assert run.calls() == emulator_calls(emu)


def test_campaign_names_with_quotes_are_escaped(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    emu.store.create("Campaign", {"Name": "Other"})
    tricky = "x' OR Name != '"
    cid = org.contact()
    (result,) = make().connector.change_lists([ListChange(tricky, cid, "add")])
    assert result.ok
    assert sorted(r["Name"] for r in emu.store.all("Campaign")) == ["Other", tricky]
    assert members(emu) == Counter({(tricky, cid): 1})


# --------------------------------------------------------------------------- tasks


def task(key: str, contact: str, opp: str | None, owner: str | None) -> CallTask:
    return CallTask(
        cycle_key=key,
        contact_id=contact,
        owner_id=owner,
        subject="Recycle: check in",
        description="Lost at Proposal/Price Quote (purchase) for Price on 2024-06-30, 5000.0",
        due_date=date(2024, 7, 3),
        what_id=opp,
    )


def test_tasks_are_created_once_per_cycle_key(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    contacts = [org.contact() for _ in range(250)]
    opp = org.deal(["Prospecting", "Closed Lost"], contacts=contacts[:1])
    owner = emu.store.user_id
    tasks = [task(f"cycle-{i}", cid, opp, owner) for i, cid in enumerate(contacts)]
    run = make()
    results = run.connector.create_tasks(tasks)
    assert all(r.ok and r.created_id for r in results) and [r.record_id for r in results] == [
        t.cycle_key for t in tasks
    ]
    rows = emu.store.all("Task")
    assert len(rows) == 250
    first = next(r for r in rows if r["Leadsync_Cycle_Key__c"] == "cycle-0")
    assert (first["Status"], first["WhoId"], first["WhatId"], first["OwnerId"]) == (
        "Not Started",
        contacts[0],
        opp,
        owner,
    )
    assert str(first["ActivityDate"]) == "2024-07-03"
    assert run.calls()["salesforce.collections"] == 2  # 200 + 50 upserts

    emu.store.update("Task", first["Id"], {"Status": "Completed"})
    run = make()
    again = run.connector.create_tasks(tasks)
    assert [r.created_id for r in again] == [r.created_id for r in results]
    assert len(emu.store.all("Task")) == 250
    assert emu.store.get("Task", first["Id"])["Status"] == "Completed"  # never reopened
    assert "salesforce.collections" not in run.calls()


def test_task_upserts_under_dropped_connections_never_duplicate(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    contacts = [org.contact() for _ in range(40)]
    emu.faults.add("salesforce.collections", "drop", 1.0, 1, None)
    emu.faults.add("salesforce.collections", "drop", 0.4, None, None)
    emu.faults.add("salesforce.collections", "record", 0.1, None, "UNABLE_TO_LOCK_ROW")
    tasks = [task(f"k{i}", cid, None, None) for i, cid in enumerate(contacts)]
    results = make(max_attempts=12).connector.create_tasks(tasks + tasks[:5])  # duplicates in the input too
    assert all(r.ok for r in results) and len(results) == 45
    keys = Counter(r["Leadsync_Cycle_Key__c"] for r in emu.store.all("Task"))
    assert keys == Counter({f"k{i}": 1 for i in range(40)})


# --------------------------------------------------------------------------- describe


def test_check_fields(make: Callable[..., Run]) -> None:
    conn = make().connector
    ok = {
        "Contact": {
            "Lead_Stage__c": {"inquiry", "mql", "recycle"},
            "Lead_Score__c": {"12", "99.5"},
            "Recycle_Group__c": {"high", "low"},
            "Nurture_List__c": {"Nurture - Events"},
        }
    }
    assert conn.check_fields(ok) == []
    problems = conn.check_fields(
        {
            "Contact": {
                "Lead_Stage__c": {"inquiry", "hot-lead"},
                "Lead_Score__c": {"abc"},
                "Missing__c": None,
                "Name": None,
                "Nurture_List__c": {"x" * 81},
            },
            "NoSuchObject__c": {"Foo__c": None},
        }
    )
    text = "\n".join(problems)
    assert "Contact.Lead_Stage__c: value 'hot-lead' is not in the restricted picklist" in text
    assert "'inquiry'" not in text
    assert "Contact.Lead_Score__c: value 'abc' does not fit the field type double" in text
    assert "Contact.Missing__c: field missing" in text
    assert "Contact.Name: not updateable" in text
    assert "Contact.Nurture_List__c: value" in text and "longer than the field (80" in text
    assert "NoSuchObject__c: object not found" in text
    assert len(problems) == 6


def test_campaign_ids_are_looked_up_once_per_connector(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    emu.store.create("Campaign", {"Name": "Nurture - Events", "IsActive": True})
    ids = [org.contact() for _ in range(600)]
    run = make()
    for start in range(0, 600, 200):  # the writer sends a run's memberships in batches like these
        batch = [ListChange("Nurture - Events", cid, "add") for cid in ids[start:start + 200]]
        assert all(r.ok for r in run.connector.change_lists(batch))
    # one query finds the campaign for all three batches; no other query is needed to add members
    assert run.calls()["salesforce.query"] == 1
    assert run.calls()["salesforce.collections"] == 3
    assert sum(members(emu).values()) == 600


# --------------------------------------------------------------------------- inactive task owners


def _user(emu: SalesforceEmulator, name: str, *, active: bool) -> str:
    return emu.store.create(
        "User", {"Username": f"{name}@example.com", "Email": f"{name}@example.com", "LastName": name,
                 "IsActive": active},
    )


def _owned_deal(
    org: Org, emu: SalesforceEmulator, deal_owner: str, account_owner: str | None
) -> tuple[str, str]:
    account = org.account() if account_owner else None
    if account:
        emu.store.update("Account", account, {"OwnerId": account_owner})
    contact = org.contact(account_id=account)
    opp = org.deal(["Prospecting", "Closed Lost"], account_id=account, contacts=[contact])
    emu.store.update("Opportunity", opp, {"OwnerId": deal_owner})
    return contact, opp


def test_tasks_of_departed_owners_go_to_the_account_owner(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    active, left, also_left = (_user(emu, "rep", active=True), _user(emu, "left", active=False),
                               _user(emu, "gone", active=False))
    cases = [(left, active), (active, active), (left, also_left), (left, None)]
    tasks = [task(f"k{i}", *_owned_deal(org, emu, deal_owner, acc_owner), deal_owner)
             for i, (deal_owner, acc_owner) in enumerate(cases)]
    run = make()
    results = run.connector.create_tasks(tasks)
    assert [r.ok for r in results] == [True, True, False, False]
    owners = {r["Leadsync_Cycle_Key__c"]: r["OwnerId"] for r in emu.store.all("Task")}
    assert owners == {"k0": active, "k1": active}
    assert {r.error_code for r in results[2:]} == {"INACTIVE_OWNER_OR_USER"}
    assert "account owner" in results[2].message and "inactive too" in results[2].message
    assert "has no account" in results[3].message
    # existing tasks + the owners' IsActive + the account owners of the 3 tasks with a departed owner
    assert run.calls()["salesforce.query"] == 3
    again = run.connector.create_tasks([task("k9", tasks[1].contact_id, tasks[1].what_id, active)])
    # owners known, and existing tasks too (read once per run: connectors.salesforce.task_index)
    assert again[0].ok and run.calls()["salesforce.query"] == 3


def test_inactive_owner_skip_and_fixed_user(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    active, left = _user(emu, "rep", active=True), _user(emu, "left", active=False)
    contact, opp = _owned_deal(org, emu, left, active)
    skipped = make(inactive_owner="skip").connector.create_tasks([task("s", contact, opp, left)])
    assert not skipped[0].ok and skipped[0].error_code == "INACTIVE_OWNER_OR_USER"
    assert not skipped[0].retryable and "'skip'" in skipped[0].message
    assert emu.store.all("Task") == []
    fixed = make(inactive_owner=active).connector.create_tasks([task("f", contact, opp, left)])
    assert fixed[0].ok and emu.store.all("Task")[0]["OwnerId"] == active
    refused = make(inactive_owner=left).connector.create_tasks([task("g", contact, opp, left)])
    assert not refused[0].ok and "inactive too" in refused[0].message


# --------------------------------------------------------------------------- org automation errors

ORG_CODES = ["FIELD_CUSTOM_VALIDATION_EXCEPTION", "DUPLICATES_DETECTED", "CANNOT_EXECUTE_FLOW_TRIGGER",
             "ENTITY_IS_LOCKED", "INSUFFICIENT_ACCESS_OR_READONLY", "FIELD_INTEGRITY_EXCEPTION"]


@pytest.mark.parametrize("code", ORG_CODES)
def test_org_errors_fail_one_record_with_a_hint_and_are_never_retried(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator, code: str
) -> None:
    ids = [org.contact() for _ in range(3)]
    emu.faults.add("salesforce.collections", "record", 1.0, 1, code)
    run = make()
    results = run.connector.update_fields(updates_for(ids))
    assert [r.ok for r in results] == [False, True, True]
    failed = results[0]
    assert failed.error_code == code and not failed.retryable
    assert "(check: " in failed.message and "sandbox fault injection" not in failed.message
    assert run.calls()["salesforce.collections"] == 1  # not resubmitted
    assert scores(emu)[ids[0]] is None


def test_a_flow_failing_on_a_locked_row_is_retried(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    ids = [org.contact() for _ in range(3)]
    wrapped = "CANNOT_EXECUTE_FLOW_TRIGGER/UNABLE_TO_LOCK_ROW"
    emu.faults.add("salesforce.collections", "record", 1.0, 1, wrapped)
    run = make()
    results = run.connector.update_fields(updates_for(ids))
    assert all(r.ok for r in results)
    assert run.calls()["salesforce.collections"] == 2  # the batch, then the one record again


# --------------------------------------------------------------------------- URI + headers limit


def test_queries_stay_under_the_uri_and_header_limit(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    """The emulator refuses URI + headers over 16,384 bytes (414/431) like Salesforce; leadsync's largest
    IN-list queries (500 contact ids; cycle keys, 2.5x longer than ids) must stay under it."""
    contacts = [org.contact() for _ in range(500)]
    run = make()
    emu.app.largest = 0
    assert len(list(run.connector.read_contacts(contacts, ["Email", "Lead_Score__c"]))) == 500
    ids_query = emu.app.largest
    assert 13_000 < ids_query < 16_384
    # more keyed tasks than one page: the run looks its own keys up by IN list (task_index)
    for i in range(2001):
        emu.store.create("Task", {"Subject": "old", "Leadsync_Cycle_Key__c": f"old-{i}"})
    tasks = [task(f"{contacts[i % 500]}:2024-06-30:{i:016x}", contacts[i % 500], None, None)
             for i in range(600)]
    assert all(r.ok for r in run.connector.create_tasks(tasks))
    assert emu.app.largest < 16_384
    print(f"largest request: {ids_query} bytes (500 ids), {emu.app.largest} bytes (with cycle keys)")
    # contacts; existing tasks: a page of the org's keyed tasks, then 600 keys in 3 IN-list queries
    assert run.calls()["salesforce.query"] == 1 + 1 + 3


@pytest.mark.parametrize("n", [1, 200, 2_000])
def test_cycle_key_lookups_stay_under_the_uri_limit_at_any_batch_size(
    make: Callable[..., Run], emu: SalesforceEmulator, n: int
) -> None:
    """Keys of the field's full length (255) whose characters all percent-encode (3 bytes each): every
    IN-list query stays under 16,384 bytes of URI + headers (the emulator answers 414/431 past it), at
    any number of keys; a chunk is cut by its encoded size, not by a count."""
    keys = [f"{i:06d}" + "é:/" * 83 for i in range(n)]
    assert all(len(k) == 255 for k in keys)
    emu.store.create("Task", {"Subject": "old", "Leadsync_Cycle_Key__c": keys[-1]})
    run = make()
    emu.app.largest = 0
    found, queries = existing_tasks(run.connector.client, keys)
    assert list(found) == [keys[-1]]
    assert 0 < emu.app.largest < 16_384
    assert queries == run.calls()["salesforce.query"] >= n * 255 * 3 // 16_384
