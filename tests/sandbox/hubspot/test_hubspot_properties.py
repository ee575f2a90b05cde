"""Properties API and property-value validation through the real client."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import PropertyCreate, PropertyUpdate

from sandbox.hubspot.errors import ApiError, PropertyValidationError

from .conftest import Sandbox
from .people import seed_people

RECYCLE_GROUP = {
    "name": "recycle_group",
    "label": "Recycle group",
    "type": "enumeration",
    "fieldType": "select",
    "groupName": "contactinformation",
    "options": [
        {"label": "High", "value": "high", "hidden": False},
        {"label": "Low", "value": "low", "hidden": False},
    ],
}


def _problem_codes(body: str) -> list[str]:
    message = json.loads(body)["message"]
    return [p["error"] for p in json.loads(message.split(": ", 1)[1])]


def test_create_property_then_write_valid_and_invalid_options(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 1)
    client = hs.client()
    created = client.crm.properties.core_api.create(
        "contacts",
        PropertyCreate(
            **{
                "name": RECYCLE_GROUP["name"],
                "label": RECYCLE_GROUP["label"],
                "type": "enumeration",
                "field_type": "select",
                "group_name": "contactinformation",
                "options": RECYCLE_GROUP["options"],
            }
        ),
    )
    assert (created.name, created.type, created.field_type) == ("recycle_group", "enumeration", "select")
    assert [o.value for o in created.options] == ["high", "low"]
    fetched = client.crm.properties.core_api.get_by_name("contacts", "recycle_group")
    assert fetched.label == "Recycle group"
    assert "recycle_group" in {p.name for p in client.crm.properties.core_api.get_all("contacts").results}

    updated = client.crm.contacts.basic_api.update(
        people[0].id, SimplePublicObjectInput(properties={"recycle_group": "high"})
    )
    assert updated.properties["recycle_group"] == "high"
    with pytest.raises(ContactsApiException) as bad_option:
        client.crm.contacts.basic_api.update(
            people[0].id, SimplePublicObjectInput(properties={"recycle_group": "medium"})
        )
    assert bad_option.value.status == 400
    assert _problem_codes(bad_option.value.body) == ["INVALID_OPTION"]
    assert "medium was not one of the allowed options: [high, low]" in bad_option.value.body
    with pytest.raises(ContactsApiException) as unknown:
        client.crm.contacts.basic_api.update(
            people[0].id, SimplePublicObjectInput(properties={"nurture": "x"})
        )
    assert _problem_codes(unknown.value.body) == ["PROPERTY_DOESNT_EXIST"]
    assert hs.emu.store.get_contact(people[0].id)["properties"]["recycle_group"] == "high"  # type: ignore[index]


def test_update_options_then_archive_property(hs: Sandbox) -> None:
    hs.emu.store.create_property("contacts", RECYCLE_GROUP)
    core = hs.client().crm.properties.core_api
    options = [*RECYCLE_GROUP["options"], {"label": "Nurture", "value": "nurture", "hidden": False}]
    updated = core.update("contacts", "recycle_group", PropertyUpdate(options=options))
    assert [o.value for o in updated.options] == ["high", "low", "nurture"]
    hs.emu.store.create_contact({"email": "x@acme.example", "recycle_group": "nurture"})
    assert core.archive("contacts", "recycle_group") is None
    with pytest.raises(PropertiesApiException) as gone:
        core.get_by_name("contacts", "recycle_group")
    assert gone.value.status == 404


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"type": "string", "fieldType": "select"}, 400),
        ({"type": "enumeration", "fieldType": "text"}, 400),
        ({"options": []}, 400),
        ({"groupName": "no_such_group"}, 400),
        ({"name": "Bad Name"}, 400),
        ({"type": "number", "fieldType": "number", "options": []}, 201),
        ({"type": "datetime", "fieldType": "date", "options": []}, 201),
        ({"name": "lifecyclestage"}, 409),
    ],
    ids=[
        "string-select",
        "enum-text",
        "enum-no-options",
        "unknown-group",
        "bad-name",
        "number",
        "datetime",
        "existing-name",
    ],
)
def test_property_definitions_are_validated(hs: Sandbox, change: dict[str, Any], status: int) -> None:
    response = hs.raw("POST", "/crm/v3/properties/contacts", {**RECYCLE_GROUP, **change})
    assert response.status == status
    if status != 201:
        assert response.json()["category"] in ("VALIDATION_ERROR", "OBJECT_ALREADY_EXISTS")


def test_python_handle_uses_the_same_validation(hs: Sandbox) -> None:
    with pytest.raises(ApiError) as refused:
        hs.emu.store.create_property("contacts", {**RECYCLE_GROUP, "fieldType": "text"})
    assert refused.value.status == 400
    with pytest.raises(PropertyValidationError) as invalid:
        hs.emu.store.create_contact({"email": "y@acme.example", "inquiry_type": "brochure"})
    assert [p.error for p in invalid.value.problems] == ["INVALID_OPTION"]


@pytest.mark.parametrize(
    ("prop", "value", "stored"),
    [
        ("hs_email_optout", "TRUE", "true"),
        ("numemployees", "100-500", "100-500"),
        ("recent_conversion_date", "1735689600000", "2025-01-01T00:00:00.000Z"),
        ("recent_conversion_date", "2025-01-01T09:30:00+09:00", "2025-01-01T00:30:00.000Z"),
        ("inquiry_type", "demo_request", "demo_request"),
    ],
)
def test_values_are_normalized_strings(hs: Sandbox, prop: str, value: str, stored: str) -> None:
    contact_id = hs.emu.store.create_contact({"email": "z@acme.example", prop: value})
    got = hs.client().crm.contacts.basic_api.get_by_id(contact_id, properties=[prop])
    assert got.properties[prop] == stored


@pytest.mark.parametrize(
    ("prop", "value", "code"),
    [
        ("seats", "many", "INVALID_LONG"),
        ("numemployees", "250", "INVALID_OPTION"),
        ("hs_email_optout", "maybe", "INVALID_BOOLEAN"),
        ("lastmodifieddate", "1735689600000", "READ_ONLY_VALUE"),
        ("hs_email_click", "3", "READ_ONLY_VALUE"),
    ],
)
def test_invalid_values_fail_like_the_real_api(hs: Sandbox, prop: str, value: str, code: str) -> None:
    hs.emu.store.create_property(
        "contacts",
        {
            "name": "seats",
            "label": "Seats",
            "type": "number",
            "fieldType": "number",
            "groupName": "contactinformation",
        },
    )
    response = hs.raw(
        "POST", "/crm/v3/objects/contacts", {"properties": {"email": "q@acme.example", prop: value}}
    )
    assert response.status == 400
    assert _problem_codes(response.data.decode()) == [code]


def test_property_groups(hs: Sandbox) -> None:
    groups = hs.client().crm.properties.groups_api
    created = groups.create("contacts", {"name": "leadsync", "label": "leadsync"})
    assert (created.name, created.archived) == ("leadsync", False)
    assert "leadsync" in {g.name for g in groups.get_all("contacts").results}
    assert groups.get_by_name("contacts", "leadsync").label == "leadsync"
    assert hs.raw("GET", "/crm/v3/properties/widgets").status == 400
