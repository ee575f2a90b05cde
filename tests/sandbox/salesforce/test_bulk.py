"""Bulk API 2.0 through simple-salesforce's bulk2 module (wait=0: the emulator finishes jobs at once)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from sandbox.salesforce import SalesforceEmulator


def _rows(pages: list[str]) -> list[dict[str, str]]:
    return [row for page in pages for row in csv.DictReader(io.StringIO(page))]


@pytest.fixture
def contacts(emu: SalesforceEmulator) -> list[str]:
    account = emu.store.create("Account", {"Name": "Acme, Inc."})
    return [
        emu.store.create(
            "Contact",
            {
                "LastName": f"C{i}",
                "Email": f"c{i}@example.com",
                "AccountId": account,
                "HasOptedOutOfEmail": i == 0,
            },
        )
        for i in range(5)
    ]


def test_bulk2_query_pages_by_locator(sf: Salesforce, emu: SalesforceEmulator, contacts: list[str]) -> None:
    pages = list(
        sf.bulk2.Contact.query(
            "SELECT Id, Email, HasOptedOutOfEmail, Account.Name FROM Contact ORDER BY LastName",
            max_records=2,
            wait=0,
        )
    )
    assert len(pages) == 3
    rows = _rows(pages)
    assert [r["Id"] for r in rows] == contacts
    assert rows[0] == {
        "Id": contacts[0],
        "Email": "c0@example.com",
        "HasOptedOutOfEmail": "true",
        "Account.Name": "Acme, Inc.",
    }
    assert pages[0].splitlines()[0] == '"Id","Email","HasOptedOutOfEmail","Account.Name"'


def test_bulk2_query_all_includes_deleted(
    sf: Salesforce, emu: SalesforceEmulator, contacts: list[str]
) -> None:
    emu.store.delete("Contact", contacts[1])
    live = _rows(list(sf.bulk2.Contact.query("SELECT Id FROM Contact", wait=0)))
    everyone = _rows(list(sf.bulk2.Contact.query_all("SELECT Id, IsDeleted FROM Contact", wait=0)))
    assert len(live) == 4
    assert [r["IsDeleted"] for r in everyone] == ["false", "true", "false", "false", "false"]


def test_bulk2_update_reports_successes_and_failures(
    sf: Salesforce, emu: SalesforceEmulator, contacts: list[str], check: Callable[..., None]
) -> None:
    result = sf.bulk2.Contact.update(
        records=[
            {"Id": contacts[0], "Lead_Stage__c": "recycle", "Recycle_Group__c": "high"},
            {"Id": contacts[1], "Lead_Stage__c": "nonsense", "Recycle_Group__c": "low"},
            {"Id": contacts[2], "Lead_Stage__c": "mql", "Recycle_Group__c": "#N/A"},
        ],
        wait=0,
    )
    assert result[0]["numberRecordsProcessed"] == 3
    assert result[0]["numberRecordsFailed"] == 1
    job_id = result[0]["job_id"]
    check("bulk_job", sf.restful(f"jobs/ingest/{job_id}"))
    ok = list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_successful_records(job_id))))
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Contact.get_failed_records(job_id))))
    assert [(r["sf__Id"], r["sf__Created"]) for r in ok] == [(contacts[0], "false"), (contacts[2], "false")]
    assert failed[0]["sf__Id"] == contacts[1]
    assert failed[0]["sf__Error"].startswith("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:")
    assert failed[0]["Lead_Stage__c"] == "nonsense"
    assert emu.store.get("Contact", contacts[0])["Recycle_Group__c"] == "high"
    assert emu.store.get("Contact", contacts[2])["Lead_Stage__c"] == "mql"


def test_bulk2_insert_and_upsert(sf: Salesforce, emu: SalesforceEmulator, contacts: list[str]) -> None:
    inserted = sf.bulk2.Task.insert(
        records=[{"Subject": "Call", "WhoId": contacts[0], "Leadsync_Cycle_Key__c": "a"}], wait=0
    )
    assert inserted[0]["numberRecordsFailed"] == 0
    upserted = sf.bulk2.Task.upsert(
        records=[
            {"Subject": "Call again", "Leadsync_Cycle_Key__c": "a"},
            {"Subject": "New", "Leadsync_Cycle_Key__c": "b"},
        ],
        external_id_field="Leadsync_Cycle_Key__c",
        wait=0,
    )
    ok = list(csv.DictReader(io.StringIO(sf.bulk2.Task.get_successful_records(upserted[0]["job_id"]))))
    assert [r["sf__Created"] for r in ok] == ["false", "true"]
    assert sorted(t["Subject"] for t in emu.store.all("Task")) == ["Call again", "New"]


def test_bulk2_delete(sf: Salesforce, emu: SalesforceEmulator, contacts: list[str]) -> None:
    sf.bulk2.Contact.delete(records=[{"Id": contacts[0]}, {"Id": contacts[1]}], wait=0)
    assert len(emu.store.all("Contact")) == 3


def test_bulk2_unknown_column_fails_the_job(sf: Salesforce, contacts: list[str]) -> None:
    with pytest.raises(SalesforceOperationError, match="Field name not found"):
        sf.bulk2.Contact.update(records=[{"Id": contacts[0], "Nope__c": "x"}], wait=0)


def test_bulk2_injected_record_failures(sf: Salesforce, emu: SalesforceEmulator, contacts: list[str]) -> None:
    emu.faults.add("salesforce.bulk", "record", count=1, arg="UNABLE_TO_LOCK_ROW")
    result = sf.bulk2.Contact.update(records=[{"Id": c, "Lead_Rank__c": "cold"} for c in contacts], wait=0)
    assert result[0]["numberRecordsFailed"] == 1
    failed = sf.bulk2.Contact.get_failed_records(result[0]["job_id"])
    assert "UNABLE_TO_LOCK_ROW" in failed
