"""Lookups made once per run, not once per write batch: which call tasks exist (task_index) and which
campaigns exist (campaigns.CampaignIndex). Queries are counted by object on the real client's session."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

import pytest
import requests

from connectors.base import FieldUpdate, ListChange
from connectors.salesforce.client import id18
from sandbox.salesforce import SalesforceEmulator
from sandbox.salesforce.ids import make_id
from sandbox.salesforce.query import CHILD_INLINE

from .conftest import T0, Org, Run, soql_by_object
from .test_writes import _owned_deal, _user, task

SINCE = T0 - timedelta(days=1)

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


# --------------------------------------------------------------------------- what the deal read carries


def test_current_contact_values_come_with_the_deals(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    """`contact_fields` names the mapped Contact fields: the roles subquery reads them as relationship
    fields, and `read_current` answers for those people without a Contact query, until leadsync
    writes to one of them (then it is read again)."""
    people = [org.contact() for _ in range(30)]
    emu.store.update("Contact", people[0], {"Lead_Score__c": 42})
    for i in range(10):
        org.deal(["Prospecting", "Closed Lost"], contacts=people[3 * i: 3 * i + 3],
                 start=T0 + timedelta(seconds=i))
    stranger = org.contact()
    run = make()
    seen = soql_by_object(run)
    deals = list(run.connector.iter_deals(SINCE, contact_fields=["Lead_Score__c", "Recycle_Group__c"]))
    assert len(deals) == 10 and "Contact" not in seen
    current = run.connector.read_current(people, ["Lead_Score__c", "Recycle_Group__c"])
    assert current[people[0]] == {"Lead_Score__c": 42, "Recycle_Group__c": None}
    assert set(current) == set(people) and "Contact" not in seen
    run.connector.read_current([*people, stranger], ["Lead_Score__c"])  # one unknown: one query
    assert seen["Contact"] == 1
    run.connector.update_fields([FieldUpdate("Contact", people[1], {"Lead_Score__c": 7})])
    assert run.connector.read_current([people[1]], ["Lead_Score__c"]) == {people[1]: {"Lead_Score__c": 7}}
    assert seen["Contact"] == 2


def test_task_owners_come_with_the_deals(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    """Owner.IsActive, Account.OwnerId and Account.Owner.IsActive are read with the deals: tasks for
    the deals read this run need no User or Opportunity lookup, a deal not read this run does."""
    active, left = _user(emu, "rep", active=True), _user(emu, "left", active=False)
    mine = [_owned_deal(org, emu, left, active) for _ in range(3)]
    run = make()
    seen = soql_by_object(run)
    list(run.connector.iter_deals(SINCE))
    older = _owned_deal(org, emu, left, active)  # not read by this run
    results = run.connector.create_tasks([task(f"k{i}", c, o, left) for i, (c, o) in enumerate(mine)])
    assert all(r.ok for r in results)
    assert {r["OwnerId"] for r in emu.store.all("Task")} == {active}
    assert seen["User"] == 0 and seen["Opportunity"] == 1  # the deal read only
    assert run.connector.create_tasks([task("k9", *older, left)])[0].ok
    assert seen["Opportunity"] == 2  # the account owner of the deal not read this run


def test_a_deal_with_more_roles_than_answered_inline_gets_them_all(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    people = [org.contact() for _ in range(CHILD_INLINE + 5)]
    opp = org.deal(["Prospecting", "Closed Lost"], contacts=people)
    run = make()
    deal = next(run.connector.iter_deals(SINCE))
    assert deal.opportunity_id == opp and {c.contact_id for c in deal.contacts} == set(people)
    assert run.calls()["salesforce.query_more"] == 1  # the child result's nextRecordsUrl


def test_a_deal_changed_between_the_two_streams_keeps_its_history(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    """The history stream is ordered by the deals' SystemModstamp when it is queried: a deal edited
    after the deal query is elsewhere in it, so its history is read by id instead."""
    opps = [org.deal(["Prospecting", "Value Proposition", "Closed Lost"],
                     start=T0 + timedelta(seconds=i)) for i in range(5)]
    run = make()
    seen = soql_by_object(run)

    def edit_after_the_deal_query(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "OpportunityContactRoles" in unquote_plus(response.request.url or "") and not seen["edited"]:
            seen["edited"] += 1
            emu.store.update("Opportunity", opps[2], {"Amount": 1.0}, at=T0 + timedelta(days=30))

    run.connector.client.session.hooks["response"].append(edit_after_the_deal_query)
    deals = list(run.connector.iter_deals(SINCE))
    assert seen["edited"] == 1 and len(deals) == 5
    assert all(d.stage_at_loss == "Value Proposition" and d.lost_date_source == "history" for d in deals)
    assert seen["OpportunityHistory"] == 2  # the stream, then the moved deal by id


def test_prepared_campaigns_are_created_in_one_call(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    """prepare_lists creates every missing campaign in one POST; the per-campaign batches after it
    create none (without it, each batch meeting a new name POSTs its own)."""
    existing = emu.store.create("Campaign", {"Name": "Nurture - Events", "IsActive": True})
    names = ["Nurture - Events", "Nurture - Call/DM", "Nurture - Newsletter", "Recycle - Sales Follow-up"]
    contact = org.contact()
    run = make()
    seen = soql_by_object(run)
    found = run.connector.prepare_lists(names)
    assert found["Nurture - Events"] == existing and set(found) == set(names)
    assert run.calls()["salesforce.collections"] == 1 and seen == {"Campaign": 1}
    for name in names:
        assert run.connector.change_lists([ListChange(name, contact, "add")])[0].ok
    assert run.calls()["salesforce.collections"] == 1 + len(names)  # the members only
    assert len(emu.store.all("Campaign")) == len(names) and seen == {"Campaign": 1}


@pytest.mark.parametrize(("auth", "queries"), [("password", 0), ("jwt", 0), ("client_credentials", 0),
                                               ("session", 1)])
def test_the_org_id_comes_with_the_login_answer(
    make: Callable[..., Run], emu: SalesforceEmulator, auth: str, queries: int
) -> None:
    """The token response's identity URL and SOAP login()'s organizationId name the org: no
    `SELECT Id FROM Organization` unless no login answered (auth = 'session')."""
    emu.reset(org_id=make_id("00D", 7))
    run = make(auth=auth)
    run.connector.connect()
    seen = soql_by_object(run)
    assert run.connector.account_id() == make_id("00D", 7)
    assert seen["Organization"] == queries


def test_a_15_character_org_id_is_made_18() -> None:
    org = make_id("00D", 12345)
    assert id18(org[:15]) == org and id18(org) == org
