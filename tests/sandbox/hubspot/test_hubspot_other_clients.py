"""What other people's clients send, through the real hubspot-api-client: a top-level `filters` list in
search, the contacts object addressed as `0-1` (or `contact`), and property reads of standard objects
the emulator does not hold."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput
from hubspot.crm.properties import ApiException as PropertiesApiException

from .conftest import Sandbox
from .people import BASE, ms, seed_people


def _search(hs: Sandbox, body: dict) -> tuple[int, list[str]]:
    page = hs.client().crm.contacts.search_api.do_search(public_object_search_request=body)
    return page.total, [r.id for r in page.results]


def test_top_level_filters_alone_are_anded(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 60)
    since = BASE + timedelta(minutes=30)
    body = {
        "filters": [
            {"propertyName": "lastmodifieddate", "operator": "GTE", "value": ms(since)},
            {"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"},
        ],
        "limit": 100,
    }
    total, ids = _search(hs, body)
    expected = [p.id for p in people if p.modified >= since and p.stage == "lead"]
    assert expected and len(expected) < len(people)
    assert (total, ids) == (len(expected), expected)


def test_top_level_filters_are_anded_with_every_filter_group(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 60)
    since = BASE + timedelta(minutes=20)
    body = {
        "filters": [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": ms(since)}],
        "filterGroups": [
            {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "lead"}]},
            {"filters": [{"propertyName": "lifecyclestage", "operator": "EQ", "value": "customer"}]},
        ],
        "limit": 100,
    }
    total, ids = _search(hs, body)
    expected = [p.id for p in people if p.modified >= since and p.stage in ("lead", "customer")]
    assert (total, ids) == (len(expected), expected)


def test_watermark_client_on_top_level_filters_finishes(hs: Sandbox) -> None:
    """A client that pages on a top-level `lastmodifieddate` filter and moves its watermark: with the
    filter ignored it would get the whole portal back on every restart and never finish."""
    people = seed_people(hs.emu, 45)
    watermark, seen, calls = "0", [], 0
    while calls < 20:
        calls += 1
        body = {
            "filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": watermark}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["lastmodifieddate"],
            "limit": 10,
        }
        page = hs.client().crm.contacts.search_api.do_search(public_object_search_request=body)
        if not page.results:
            break
        seen += [r.id for r in page.results]
        watermark = str(int(page.results[-1].updated_at.timestamp() * 1000))
    assert seen == [p.id for p in people]
    assert calls == 6  # 5 pages of 10, then an empty one


def test_top_level_filters_count_toward_the_limits(hs: Sandbox) -> None:
    flt = {"propertyName": "email", "operator": "HAS_PROPERTY"}
    status = hs.raw("POST", "/crm/v3/objects/contacts/search", {"filters": [flt] * 7}).status
    assert status == 400
    body = {
        "filters": [flt] * 6,
        "filterGroups": [{"filters": [flt] * 6}, {"filters": [flt] * 6}, {"filters": [flt]}],
    }
    assert hs.raw("POST", "/crm/v3/objects/contacts/search", body).status == 400
    assert hs.raw("POST", "/crm/v3/objects/contacts/search", {"filters": {"a": 1}}).status == 400


@pytest.mark.parametrize("object_type", ["0-1", "contacts", "contact"])
def test_contacts_by_object_type_id_and_names(hs: Sandbox, object_type: str) -> None:
    people = seed_people(hs.emu, 5)
    objects = hs.client().crm.objects
    page = objects.basic_api.get_page(object_type=object_type, limit=10, properties=["email"])
    assert [r.properties["email"] for r in page.results] == [p.email for p in people]
    one = objects.basic_api.get_by_id(object_type=object_type, object_id=people[1].id)
    assert one.id == people[1].id
    found = objects.search_api.do_search(
        object_type=object_type,
        public_object_search_request={
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": people[2].email}]}
            ]
        },
    )
    assert [r.id for r in found.results] == [people[2].id]
    updated = objects.batch_api.update(
        object_type=object_type,
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[{"id": people[3].id, "properties": {"lifecyclestage": "customer"}}]
        ),
    )
    assert updated.status == "COMPLETE"
    assert hs.emu.store.get_contact(people[3].id)["properties"]["lifecyclestage"] == "customer"


@pytest.mark.parametrize(
    ("object_type", "scopes"),
    [
        ("companies", ["crm.objects.companies.read", "crm.schemas.companies.read"]),
        ("0-3", ["crm.objects.deals.read", "crm.schemas.deals.read"]),
        ("deal", ["crm.objects.deals.read", "crm.schemas.deals.read"]),
        # standard objects meltano-tap-hubspot reads the properties of at discovery
        ("communications", ["crm.objects.communications.read", "crm.schemas.communications.read"]),
        ("postal_mail", ["crm.objects.postal_mail.read", "crm.schemas.postal_mail.read"]),
        ("0-136", ["crm.objects.leads.read", "crm.schemas.leads.read"]),
        ("goal_targets", ["crm.objects.goal_targets.read", "crm.schemas.goal_targets.read"]),
    ],
)
def test_properties_of_standard_objects_not_held_answer_missing_scopes(
    hs: Sandbox, object_type: str, scopes: list[str]
) -> None:
    with pytest.raises(PropertiesApiException) as caught:
        hs.client().crm.properties.core_api.get_all(object_type=object_type)
    assert caught.value.status == 403
    body = json.loads(caught.value.body)
    assert body["category"] == "MISSING_SCOPES"
    assert body["message"].startswith("This app hasn't been granted all required scopes")
    assert body["errors"][0]["context"]["requiredGranularScopes"] == scopes
    assert body["links"] == {"scopes": "https://developers.hubspot.com/scopes"}


def test_property_writes_on_standard_objects_not_held_name_the_schema_scope(hs: Sandbox) -> None:
    definition = {
        "name": "x1",
        "label": "X",
        "type": "string",
        "fieldType": "text",
        "groupName": "companyinformation",
    }
    reply = hs.raw("POST", "/crm/v3/properties/companies", definition)
    assert reply.status == 403
    assert reply.json()["errors"][0]["context"]["requiredGranularScopes"] == ["crm.schemas.companies.write"]


def test_properties_of_unknown_object_types_are_a_400(hs: Sandbox) -> None:
    with pytest.raises(PropertiesApiException) as caught:
        hs.client().crm.properties.core_api.get_all(object_type="widgets")
    assert caught.value.status == 400
    assert json.loads(caught.value.body)["message"] == "Unable to infer object type from: widgets"
