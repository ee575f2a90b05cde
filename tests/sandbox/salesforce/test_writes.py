"""sObject CRUD, upsert by external id, sObject Collections and org-side rules through the real client."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from simple_salesforce import Salesforce, SalesforceMalformedRequest, SalesforceResourceNotFound

from sandbox.salesforce import RecordError, SalesforceEmulator


def _collection(sf: Salesforce, method: str, records: list[dict[str, Any]], all_or_none: bool = False) -> Any:
    return sf.restful(
        "composite/sobjects", method=method, json={"allOrNone": all_or_none, "records": records}
    )


def _contact(record_id: str, **fields: Any) -> dict[str, Any]:
    return {"attributes": {"type": "Contact"}, "id": record_id, **fields}


@pytest.fixture
def contacts(emu: SalesforceEmulator) -> list[str]:
    return [
        emu.store.create("Contact", {"LastName": f"C{i}", "Email": f"c{i}@example.com"}) for i in range(4)
    ]


def test_crud_round_trip(sf: Salesforce, emu: SalesforceEmulator, check: Callable[..., None]) -> None:
    created = sf.Contact.create({"LastName": "Sato", "FirstName": "Hana", "Lead_Stage__c": "inquiry"})
    check("save_result", created)
    rid = created["id"]
    assert rid.startswith("003") and len(rid) == 18
    assert sf.Contact.update(rid, {"Lead_Score__c": 42, "Nurture_List__c": "Nurture - Events"}) == 204
    got = sf.Contact.get(rid)
    assert (got["Name"], got["Lead_Score__c"], got["Nurture_List__c"]) == (
        "Hana Sato",
        42.0,
        "Nurture - Events",
    )
    assert got["SystemModstamp"] >= got["CreatedDate"]
    assert sf.Contact.delete(rid) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(rid)
    assert emu.store.get("Contact", rid)["IsDeleted"] is True


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"LastName": "x", "Lead_Stage__c": "hot"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"),
        ({"FirstName": "no last name"}, "REQUIRED_FIELD_MISSING"),
        ({"LastName": "x", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS"),
        ({"LastName": "x", "Nurture_List__c": "n" * 81}, "STRING_TOO_LONG"),
        ({"LastName": "x", "AccountId": "001xyz"}, "MALFORMED_ID"),
        ({"LastName": "x", "Unknown__c": 1}, "INVALID_FIELD"),
        ({"LastName": "x", "IsDeleted": True}, "INVALID_FIELD_FOR_INSERT_UPDATE"),
    ],
)
def test_create_validation_errors(
    sf: Salesforce, fields: dict[str, Any], code: str, check: Callable[..., None]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Contact.create(fields)
    check("error_list", info.value.content)
    assert info.value.content[0]["errorCode"] == code


def test_restricted_stage_name_and_derived_flags(sf: Salesforce) -> None:
    base = {"Name": "Deal", "CloseDate": "2026-03-31"}
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Opportunity.create({**base, "StageName": "Lost"})
    assert info.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    rid = sf.Opportunity.create({**base, "StageName": "Closed Won", "Loss_Reason__c": "Anything goes"})["id"]
    won = sf.Opportunity.get(rid)
    assert (won["IsClosed"], won["IsWon"], won["Probability"]) == (True, True, 100.0)


def test_opportunity_stage_is_the_orgs_stage_table(sf: Salesforce) -> None:
    """OpportunityStage is queryable and read-only; its rows are the StageName picklist and decide
    IsClosed / IsWon / Probability of a deal, custom closed-lost stage included."""
    rows = sf.query_all(
        "SELECT MasterLabel, ApiName, IsActive, IsClosed, IsWon, DefaultProbability, SortOrder "
        "FROM OpportunityStage ORDER BY SortOrder"
    )["records"]
    labels = [r["MasterLabel"] for r in rows]
    assert labels[0] == "Prospecting" and [r["SortOrder"] for r in rows] == list(range(1, len(rows) + 1))
    lost = [(r["MasterLabel"], r["ApiName"]) for r in rows if r["IsClosed"] and not r["IsWon"]]
    assert lost == [("Closed Lost", "Closed Lost"), ("Lost - No Budget", "Lost_No_Budget")]
    picklist = next(f for f in sf.Opportunity.describe()["fields"] if f["name"] == "StageName")
    active = [r["MasterLabel"] for r in rows if r["IsActive"]]
    assert [v["value"] for v in picklist["picklistValues"]] == active
    by_label = {r["MasterLabel"]: r for r in rows}
    for label in ("Lost - No Budget", "Negotiation/Review"):
        rid = sf.Opportunity.create({"Name": "Deal", "CloseDate": "2026-03-31", "StageName": label})["id"]
        deal = sf.Opportunity.get(rid)
        stage = by_label[label]
        assert (deal["IsClosed"], deal["IsWon"], deal["Probability"]) == (
            stage["IsClosed"], stage["IsWon"], stage["DefaultProbability"])
    with pytest.raises(SalesforceMalformedRequest):
        sf.OpportunityStage.create({"MasterLabel": "Mine", "ApiName": "Mine"})


def test_task_upsert_by_external_id_is_idempotent(
    sf: Salesforce, emu: SalesforceEmulator, contacts: list[str], check: Callable[..., None]
) -> None:
    body = {"Subject": "Recycle: check in on lost deal", "WhoId": contacts[0], "ActivityDate": "2026-02-03"}
    first = sf.Task.upsert("Leadsync_Cycle_Key__c/cycle-1", body, raw_response=True)
    second = sf.Task.upsert("Leadsync_Cycle_Key__c/cycle-1", body, raw_response=True)
    check("save_result", first.json())
    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (second.status_code, second.json()["created"]) == (200, False)
    assert first.json()["id"] == second.json()["id"]
    assert len(emu.store.all("Task")) == 1
    assert sf.Task.get_by_custom_id("Leadsync_Cycle_Key__c", "cycle-1")["Status"] == "Not Started"


def test_duplicate_external_id_on_create_is_rejected(sf: Salesforce) -> None:
    sf.Task.create({"Subject": "a", "Leadsync_Cycle_Key__c": "k"})
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.Task.create({"Subject": "b", "Leadsync_Cycle_Key__c": "K"})
    assert info.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_duplicate_campaign_member(sf: Salesforce, contacts: list[str]) -> None:
    campaign = sf.Campaign.create({"Name": "Nurture - Events", "IsActive": True, "Type": "Email"})["id"]
    member = {"CampaignId": campaign, "ContactId": contacts[0], "Status": "Sent"}
    assert sf.CampaignMember.create(member)["success"] is True
    with pytest.raises(SalesforceMalformedRequest) as info:
        sf.CampaignMember.create(member)
    assert info.value.content[0] == {
        "message": "Already a campaign member.",
        "errorCode": "DUPLICATE_VALUE",
        "fields": [],
    }
    results = _collection(
        sf,
        "POST",
        [
            {"attributes": {"type": "CampaignMember"}, **member},
            {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign, "ContactId": contacts[1]},
        ],
    )
    assert [r["success"] for r in results] == [False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"


def test_collection_update_with_partial_failure(
    sf: Salesforce, emu: SalesforceEmulator, contacts: list[str], check: Callable[..., None]
) -> None:
    emu.store.delete("Contact", contacts[3])
    results = _collection(
        sf,
        "PATCH",
        [
            _contact(contacts[0], Recycle_Group__c="high", Lead_Stage__c="recycle"),
            _contact(contacts[1], Lead_Stage__c="not-a-stage"),
            _contact("003xx", Lead_Stage__c="mql"),
            _contact(contacts[3], Lead_Stage__c="mql"),
            _contact(contacts[2], Lead_Rank__c="warm"),
        ],
    )
    check("collection_results", results)
    assert [r["success"] for r in results] == [True, False, False, False, True]
    assert [r["errors"][0]["statusCode"] for r in results if not r["success"]] == [
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "MALFORMED_ID",
        "ENTITY_IS_DELETED",
    ]
    assert [r.get("id") for r in results] == [contacts[0], contacts[1], None, contacts[3], contacts[2]]
    assert emu.store.get("Contact", contacts[0])["Recycle_Group__c"] == "high"
    assert emu.store.get("Contact", contacts[2])["Lead_Rank__c"] == "warm"


def test_collection_all_or_none_rolls_everything_back(
    sf: Salesforce, emu: SalesforceEmulator, contacts: list[str], check: Callable[..., None]
) -> None:
    results = _collection(
        sf,
        "PATCH",
        [_contact(contacts[0], Lead_Stage__c="mql"), _contact(contacts[1], Lead_Stage__c="bad")],
        all_or_none=True,
    )
    check("collection_results", results)
    assert [e["statusCode"] for r in results for e in r["errors"]] == [
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    ]
    assert emu.store.get("Contact", contacts[0])["Lead_Stage__c"] is None
    created = _collection(
        sf,
        "POST",
        [
            {"attributes": {"type": "Contact"}, "LastName": "ok"},
            {"attributes": {"type": "Contact"}, "FirstName": "no last"},
        ],
        all_or_none=True,
    )
    assert [r["success"] for r in created] == [False, False]
    assert "id" not in created[0]
    assert len(emu.store.all("Contact")) == 4


def test_collection_create_and_delete(
    sf: Salesforce, emu: SalesforceEmulator, check: Callable[..., None]
) -> None:
    created = _collection(
        sf, "POST", [{"attributes": {"type": "Account"}, "Name": f"A{i}"} for i in range(3)]
    )
    check("collection_results", created)
    ids = [r["id"] for r in created]
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"}
    )
    check("collection_results", deleted)
    assert all(r["success"] for r in deleted)
    assert emu.store.all("Account") == []
    again = sf.restful("composite/sobjects", method="DELETE", params={"ids": ids[0]})
    assert again[0]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_collection_upsert_by_external_id(
    sf: Salesforce, emu: SalesforceEmulator, check: Callable[..., None]
) -> None:
    def records(subject: str) -> list[dict[str, Any]]:
        return [
            {"attributes": {"type": "Task"}, "Leadsync_Cycle_Key__c": f"k{i}", "Subject": subject}
            for i in range(3)
        ]

    first = sf.restful(
        "composite/sobjects/Task/Leadsync_Cycle_Key__c",
        method="PATCH",
        json={"allOrNone": False, "records": records("one")},
    )
    second = sf.restful(
        "composite/sobjects/Task/Leadsync_Cycle_Key__c",
        method="PATCH",
        json={"allOrNone": False, "records": records("two")},
    )
    check("collection_results", first)
    assert [r["created"] for r in first] == [True] * 3
    assert [r["created"] for r in second] == [False] * 3
    assert sorted(t["Subject"] for t in emu.store.all("Task")) == ["two"] * 3


def test_more_than_200_records_is_refused(
    sf: Salesforce, contacts: list[str], check: Callable[..., None]
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        _collection(sf, "PATCH", [_contact(contacts[0], Lead_Rank__c="hot")] * 201)
    check("error_list", info.value.content)
    assert info.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_injected_lock_failures_hit_single_records(
    sf: Salesforce, emu: SalesforceEmulator, contacts: list[str]
) -> None:
    emu.faults.add("salesforce.collections", "record", count=2, arg="UNABLE_TO_LOCK_ROW")
    results = _collection(sf, "PATCH", [_contact(c, Lead_Rank__c="hot") for c in contacts[:3]])
    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    assert contacts[0] in results[0]["errors"][0]["message"]
    assert [c["Lead_Rank__c"] for c in emu.store.all("Contact")[:3]] == [None, None, "hot"]


def test_store_applies_api_validation(emu: SalesforceEmulator) -> None:
    with pytest.raises(RecordError) as info:
        emu.store.create("Contact", {"LastName": "x", "Recycle_Group__c": None, "Lead_Stage__c": "nope"})
    assert info.value.status_code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert emu.calls.snapshot() == {} and emu.api_used == 0


def test_describe_shapes(sf: Salesforce, check: Callable[..., None]) -> None:
    described = sf.Contact.describe()
    check("describe_sobject", described)
    fields = {f["name"]: f for f in described["fields"]}
    stage = fields["Lead_Stage__c"]
    assert stage["restrictedPicklist"] is True
    assert [p["value"] for p in stage["picklistValues"]] == [
        "inquiry",
        "mql",
        "tql",
        "sal",
        "sgl",
        "sql",
        "close",
        "recycle",
    ]
    assert (fields["Id"]["updateable"], fields["Email"]["updateable"]) == (False, True)
    assert fields["AccountId"]["referenceTo"] == ["Account"]
    assert sf.Task.describe()["keyPrefix"] == "00T"
    task_fields = {f["name"]: f for f in sf.Task.describe()["fields"]}
    assert task_fields["Leadsync_Cycle_Key__c"]["externalId"] is True
    names = {o["name"] for o in sf.describe()["sobjects"]}
    assert {
        "User",
        "Account",
        "Contact",
        "Lead",
        "Opportunity",
        "OpportunityHistory",
        "OpportunityContactRole",
        "Campaign",
        "CampaignMember",
        "Task",
    } <= names


def test_custom_fields_from_configuration() -> None:
    emulator = SalesforceEmulator(
        custom_fields={
            "Contact": {"Region__c": {"type": "picklist", "values": ["APAC", "EMEA"], "restricted": True}}
        }
    )
    rid = emulator.store.create("Contact", {"LastName": "x", "Region__c": "APAC"})
    assert emulator.store.get("Contact", rid)["Region__c"] == "APAC"
    with pytest.raises(RecordError):
        emulator.store.create("Contact", {"LastName": "x", "Region__c": "LATAM"})


def test_a_task_owned_by_an_inactive_user_is_refused(sf: Salesforce, emu: SalesforceEmulator) -> None:
    left = emu.store.create("User", {"Username": "left@example.com", "Email": "left@example.com",
                                     "LastName": "Left", "IsActive": False})
    task = {"attributes": {"type": "Task"}, "Subject": "Call", "Status": "Not Started"}
    answer = _collection(sf, "POST", [{**task, "OwnerId": left}, {**task, "OwnerId": emu.store.user_id}])
    assert answer[0] == {"success": False, "errors": [{"statusCode": "INACTIVE_OWNER_OR_USER",
                         "message": "operation performed with inactive user: []", "fields": []}]}
    assert answer[1]["success"] is True
    emu.store.allow_inactive_task_owners = True  # the per-org switch (unverified that any org allows it)
    try:
        assert _collection(sf, "POST", [{**task, "OwnerId": left}])[0]["success"] is True
    finally:
        emu.store.allow_inactive_task_owners = False
