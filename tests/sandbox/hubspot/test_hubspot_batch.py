"""Batch endpoints through the real client: 200/201 vs 207 multi-status, idProperty, limits."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicObjectWithErrors,
    BatchResponseSimplePublicUpsertObject,
)

from sandbox.hubspot import HubSpotEmulator

from .conftest import Sandbox, StepClock
from .people import seed_people


def _stage(hs: Sandbox, contact_id: str) -> str | None:
    contact = hs.emu.store.get_contact(contact_id)
    assert contact is not None
    return contact["properties"].get("lifecyclestage")


def test_batch_update_with_partial_failures_answers_207(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 5)
    response = hs.client().crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[
                {"id": people[0].id, "properties": {"lifecyclestage": "customer"}},
                {"id": "987654", "properties": {"lifecyclestage": "customer"}},
                {"id": people[1].id, "properties": {"lifecyclestage": "bogus"}},
                {"id": people[2].id, "properties": {"no_such_property": "x"}},
                {"id": people[3].id, "properties": {"hs_email_open": "40"}},
            ]
        )
    )
    assert isinstance(response, BatchResponseSimplePublicObjectWithErrors)
    assert response.num_errors == 4
    assert [r.id for r in response.results] == [people[0].id]
    assert response.results[0].properties["lifecyclestage"] == "customer"
    by_category: dict[str, list[Any]] = {}
    for error in response.errors:
        by_category.setdefault(error.category, []).append(error)
    assert by_category["OBJECT_NOT_FOUND"][0].context == {"ids": ["987654"]}
    codes = {
        e.context["ids"][0]: json.loads(e.message.split(": ", 1)[1])[0]["error"]
        for e in by_category["VALIDATION_ERROR"]
    }
    assert codes == {
        people[1].id: "INVALID_OPTION",
        people[2].id: "PROPERTY_DOESNT_EXIST",
        people[3].id: "READ_ONLY_VALUE",
    }
    assert _stage(hs, people[0].id) == "customer"
    assert _stage(hs, people[1].id) == people[1].stage


def test_batch_update_all_good_answers_200_and_bumps_lastmodifieddate(make_sandbox: Any) -> None:
    clock = StepClock()
    hs = make_sandbox(clock=clock)
    people = seed_people(hs.emu, 3, base=clock.now)
    clock.advance(3600)
    response = hs.client().crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": p.id, "properties": {"hs_lead_status": "OPEN"}} for p in people]
        )
    )
    assert isinstance(response, BatchResponseSimplePublicObject)
    assert {r.properties["hs_lead_status"] for r in response.results} == {"OPEN"}
    assert {r.properties["lastmodifieddate"] for r in response.results} == {"2025-03-03T10:00:00.000Z"}


def test_injected_record_failure_fails_only_that_input(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 3)
    hs.emu.faults.add("hubspot.batch_update", "record", 1.0, count=1, arg="CONFLICT")
    response = hs.client().crm.contacts.batch_api.update(
        BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": p.id, "properties": {"lifecyclestage": "opportunity"}} for p in people]
        )
    )
    assert isinstance(response, BatchResponseSimplePublicObjectWithErrors)
    assert [(e.category, e.context["ids"]) for e in response.errors] == [("CONFLICT", [people[0].id])]
    assert [r.id for r in response.results] == [people[1].id, people[2].id]
    assert _stage(hs, people[0].id) == people[0].stage


def test_batch_read_by_email_reports_missing_ones(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 4)
    response = hs.client().crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[
                {"id": people[2].email.upper()},
                {"id": "nobody@nowhere.example"},
                {"id": people[0].email},
            ],
            id_property="email",
            properties=["email", "lifecyclestage"],
            properties_with_history=[],
        )
    )
    assert isinstance(response, BatchResponseSimplePublicObjectWithErrors)
    assert [r.id for r in response.results] == [people[2].id, people[0].id]
    assert response.results[0].properties["lifecyclestage"] == people[2].stage
    assert [(e.category, e.context) for e in response.errors] == [
        ("OBJECT_NOT_FOUND", {"ids": ["nobody@nowhere.example"]})
    ]


def test_batch_read_returns_property_history(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 2)
    batch_api = hs.client().crm.contacts.batch_api
    for stage in ("marketingqualifiedlead", "salesqualifiedlead"):
        batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[{"id": people[1].id, "properties": {"lifecyclestage": stage}}]
            )
        )
    response = batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[{"id": people[1].id}], properties=[], properties_with_history=["lifecyclestage"]
        )
    )
    assert isinstance(response, BatchResponseSimplePublicObject)
    history = response.results[0].properties_with_history["lifecyclestage"]
    assert [h.value for h in history] == ["salesqualifiedlead", "marketingqualifiedlead", people[1].stage]
    too_many = hs.raw(
        "POST",
        "/crm/v3/objects/contacts/batch/read",
        {"inputs": [{"id": str(i)} for i in range(51)], "properties": [], "propertiesWithHistory": ["email"]},
    )
    assert too_many.status == 400
    assert "for property histories is 50" in too_many.json()["message"]


def test_batch_upsert_by_email_creates_and_updates(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 2)
    response = hs.client().crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {"id": people[1].email, "idProperty": "email", "properties": {"firstname": "Renamed"}},
                {
                    "id": "new.person@initech.example",
                    "idProperty": "email",
                    "properties": {"firstname": "New"},
                },
            ]
        )
    )
    assert isinstance(response, BatchResponseSimplePublicUpsertObject)
    assert [(r.properties["firstname"], r.new) for r in response.results] == [
        ("Renamed", False),
        ("New", True),
    ]
    created = hs.emu.store.get_contact(response.results[1].id)
    assert created is not None and created["properties"]["email"] == "new.person@initech.example"


def test_batch_create_201_then_duplicate_email_207(hs: Sandbox) -> None:
    batch_api = hs.client().crm.contacts.batch_api
    first = batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                {"properties": {"email": "a@acme.example", "inquiry_type": "pricing"}, "associations": []},
                {"properties": {"email": "b@acme.example"}, "associations": []},
            ]
        )
    )
    assert isinstance(first, BatchResponseSimplePublicObject)
    assert [r.properties["email"] for r in first.results] == ["a@acme.example", "b@acme.example"]
    second = batch_api.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                {"properties": {"email": "A@ACME.example"}, "associations": []},
                {"properties": {"email": "c@acme.example"}, "associations": []},
            ]
        )
    )
    assert isinstance(second, BatchResponseSimplePublicObjectWithErrors)
    assert [e.category for e in second.errors] == ["CONFLICT"]
    assert second.errors[0].message == f"Contact already exists. Existing ID: {first.results[0].id}"
    assert len(hs.emu.store.contacts()) == 3


def test_batch_archive_then_archived_listing(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 4)
    client = hs.client()
    result = client.crm.contacts.batch_api.archive(
        BatchInputSimplePublicObjectId(
            inputs=[{"id": people[0].id}, {"id": people[2].id}, {"id": "123456789"}]
        )
    )
    assert result is None
    archived = client.crm.contacts.basic_api.get_page(archived=True, limit=10)
    assert [(r.id, r.archived) for r in archived.results] == [(people[0].id, True), (people[2].id, True)]
    active = client.crm.contacts.basic_api.get_page(limit=10)
    assert [r.id for r in active.results] == [people[1].id, people[3].id]


@pytest.mark.parametrize("operation", ["read", "update", "upsert", "create", "archive"])
def test_more_than_100_inputs_are_refused(hs: Sandbox, operation: str) -> None:
    inputs = [{"id": str(i), "properties": {}} for i in range(101)]
    response = hs.raw(
        "POST",
        f"/crm/v3/objects/contacts/batch/{operation}",
        {"inputs": inputs, "properties": [], "propertiesWithHistory": []},
    )
    assert response.status == 400
    assert response.json()["message"] == (
        "The maximum number of inputs supported in a batch is 100. "
        "Please reduce the number of items and try again"
    )


def test_duplicate_ids_in_one_batch_update_are_refused(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 1)
    response = hs.raw(
        "POST",
        "/crm/v3/objects/contacts/batch/update",
        {
            "inputs": [
                {"id": people[0].id, "properties": {"firstname": "A"}},
                {"id": people[0].id, "properties": {"firstname": "B"}},
            ]
        },
    )
    assert response.status == 400
    assert "Duplicate IDs" in response.json()["message"]
    assert response.json()["context"] == {"ids": [people[0].id]}


def test_whole_batch_mode_refuses_the_batch_and_applies_nothing(make_sandbox: Any) -> None:
    hs = make_sandbox(batch_errors="whole_batch")
    people = seed_people(hs.emu, 3)
    path = "/crm/v3/objects/contacts/batch/update"
    good = {"id": people[0].id, "properties": {"lifecyclestage": "customer"}}
    missing = hs.raw("POST", path, {"inputs": [good, {"id": "987654", "properties": {"firstname": "x"}}]})
    assert missing.status == 400
    assert missing.json()["category"] == "OBJECT_NOT_FOUND" and "[987654]" in missing.json()["message"]
    invalid = hs.raw("POST", path, {"inputs": [good, {"id": people[1].id,
                                                      "properties": {"lifecyclestage": "bogus"}}]})
    assert invalid.status == 400
    assert invalid.json()["category"] == "VALIDATION_ERROR" and people[1].id not in invalid.json()["message"]
    assert _stage(hs, people[0].id) == people[0].stage  # nothing applied
    assert hs.raw("POST", path, {"inputs": [good]}).status == 200
    assert _stage(hs, people[0].id) == "customer"


def test_batch_errors_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="batch_errors"):
        HubSpotEmulator(batch_errors="sometimes")
