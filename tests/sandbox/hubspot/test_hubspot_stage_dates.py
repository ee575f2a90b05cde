"""Lifecycle-stage dates ("Became a ... Date", hs_lifecyclestage_<stage>_date) through the real client:
set by the portal when the stage changes, refused on write, listed by the properties API, and the
forward-only rule for lifecycle stages written through the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hubspot.crm.contacts import ApiException, SimplePublicObjectInput

from sandbox.clock import SandboxClock

from .conftest import Sandbox

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
T1 = datetime(2025, 4, 15, 10, 30, tzinfo=UTC)
T2 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
DATES = ["hs_lifecyclestage_lead_date", "hs_lifecyclestage_marketingqualifiedlead_date",
         "hs_lifecyclestage_customer_date", "hs_lifecyclestage_subscriber_date"]


@pytest.fixture
def clocked(make_sandbox: Callable[..., Sandbox]) -> tuple[Sandbox, SandboxClock]:
    clock = SandboxClock()
    return make_sandbox(clock=clock), clock


# the sandbox clock moves on from where it was put: compare to the second
def _read(box: Sandbox, contact_id: str) -> dict[str, str | None]:
    return box.client().crm.contacts.basic_api.get_by_id(
        contact_id, properties=["lifecyclestage", *DATES]).properties


def test_entering_a_stage_sets_its_date_and_skipped_stages_get_none(
        clocked: tuple[Sandbox, SandboxClock]) -> None:
    box, clock = clocked
    api = box.client().crm.contacts.basic_api
    clock.move_to(T0)
    created = api.create(SimplePublicObjectInput(properties={"email": "a@x.test", "lifecyclestage": "lead"}))
    clock.move_to(T1)
    api.update(created.id, SimplePublicObjectInput(properties={"lifecyclestage": "customer"}))
    props = _read(box, created.id)
    assert props["lifecyclestage"] == "customer"
    assert (props["hs_lifecyclestage_lead_date"] or "")[:19] == "2025-03-01T09:00:00"
    assert (props["hs_lifecyclestage_customer_date"] or "")[:19] == "2025-04-15T10:30:00"
    assert props["hs_lifecyclestage_marketingqualifiedlead_date"] is None  # skipped
    assert props["hs_lifecyclestage_subscriber_date"] is None


def test_an_earlier_stage_through_the_api_is_ignored_until_the_stage_is_cleared(
        clocked: tuple[Sandbox, SandboxClock]) -> None:
    box, clock = clocked
    api = box.client().crm.contacts.basic_api
    clock.move_to(T0)
    created = api.create(SimplePublicObjectInput(properties={"email": "b@x.test",
                                                             "lifecyclestage": "customer"}))
    clock.move_to(T1)
    api.update(created.id, SimplePublicObjectInput(properties={"lifecyclestage": "lead"}))  # 200, no change
    props = _read(box, created.id)
    assert props["lifecyclestage"] == "customer"
    assert props["hs_lifecyclestage_lead_date"] is None
    api.update(created.id, SimplePublicObjectInput(properties={"lifecyclestage": ""}))
    clock.move_to(T2)
    api.update(created.id, SimplePublicObjectInput(properties={"lifecyclestage": "lead"}))
    props = _read(box, created.id)
    assert props["lifecyclestage"] == "lead"
    assert (props["hs_lifecyclestage_lead_date"] or "")[:19] == "2025-06-02T08:00:00"
    assert (props["hs_lifecyclestage_customer_date"] or "")[:19] == "2025-03-01T09:00:00"  # kept


def test_a_stage_date_is_read_only_for_writes(hs: Sandbox) -> None:
    api = hs.client().crm.contacts.basic_api
    created = api.create(SimplePublicObjectInput(properties={"email": "c@x.test", "lifecyclestage": "lead"}))
    with pytest.raises(ApiException) as caught:
        api.update(created.id, SimplePublicObjectInput(properties={
            "hs_lifecyclestage_lead_date": "2020-01-01T00:00:00.000Z"}))
    assert caught.value.status == 400
    assert "READ_ONLY_VALUE" in json.loads(caught.value.body)["message"]
    with pytest.raises(ApiException):
        api.create(SimplePublicObjectInput(properties={
            "email": "d@x.test", "hs_lifecyclestage_customer_date": "2020-01-01T00:00:00.000Z"}))


def test_the_properties_api_lists_the_dates_as_read_only_datetimes(hs: Sandbox) -> None:
    prop = hs.client().crm.properties.core_api.get_by_name(
        "contacts", "hs_lifecyclestage_marketingqualifiedlead_date")
    assert (prop.type, prop.field_type, prop.label) == (
        "datetime", "date", "Became a Marketing Qualified Lead Date")
    assert prop.modification_metadata.read_only_value is True
