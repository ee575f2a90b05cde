"""The sandbox as a test bench: search index lag (`search_lag`) and the private endpoint that sets
engagement properties (read-only through the real API)."""

from __future__ import annotations

from datetime import timedelta

from hubspot.crm.contacts import SimplePublicObjectInput

from .conftest import Sandbox, StepClock


def _emails(hs: Sandbox, **filters: str) -> dict[str, str | None]:
    """email -> hs_email_open of what search returns (optionally: one EQ filter)."""
    groups = [{"filters": [{"propertyName": k, "operator": "EQ", "value": v} for k, v in filters.items()]}]
    page = hs.client().crm.contacts.search_api.do_search(
        public_object_search_request={
            "filterGroups": groups if filters else [],
            "properties": ["email", "hs_email_open"],
            "limit": 100,
        }
    )
    return {r.properties["email"]: r.properties["hs_email_open"] for r in page.results}


def test_search_lags_writes_by_search_lag(make_sandbox) -> None:
    clock = StepClock()
    hs = make_sandbox(clock=clock, search_lag=5)
    old = hs.emu.store.create_contact({"email": "old@x.example", "hs_email_open": "1"})
    assert _emails(hs) == {}  # even seeded contacts take the lag
    clock.advance(5)
    assert _emails(hs) == {"old@x.example": "1"}

    api = hs.client().crm.contacts.basic_api
    new = api.create(simple_public_object_input_for_create={"properties": {"email": "new@x.example"}})
    api.update(old, SimplePublicObjectInput(properties={"lifecyclestage": "customer"}))
    hs.emu.store.update_contact(old, {"hs_email_open": "7"})
    # reads by id see the writes at once; search sees the old state and not the new contact
    assert api.get_by_id(old, properties=["hs_email_open"]).properties["hs_email_open"] == "7"
    assert api.get_by_id(new.id).id == new.id
    clock.advance(4.9)
    assert _emails(hs) == {"old@x.example": "1"}
    assert _emails(hs, lifecyclestage="customer") == {}
    clock.advance(0.1)
    assert _emails(hs) == {"old@x.example": "7", "new@x.example": None}
    assert _emails(hs, lifecyclestage="customer") == {"old@x.example": "7"}


def test_lag_runs_from_the_latest_write(make_sandbox) -> None:
    clock = StepClock()
    hs = make_sandbox(clock=clock, search_lag=5)
    cid = hs.emu.store.create_contact({"email": "a@x.example", "hs_email_open": "1"})
    clock.advance(5)
    hs.emu.store.update_contact(cid, {"hs_email_open": "2"})
    clock.advance(3)
    hs.emu.store.update_contact(cid, {"hs_email_open": "3"})
    clock.advance(3)  # 6 s after the first write, 3 after the latest
    assert _emails(hs) == {"a@x.example": "1"}
    clock.advance(2)
    assert _emails(hs) == {"a@x.example": "3"}


def test_archived_contacts_leave_search_after_the_lag(make_sandbox) -> None:
    clock = StepClock()
    hs = make_sandbox(clock=clock, search_lag=5)
    cid = hs.emu.store.create_contact({"email": "gone@x.example"})
    clock.advance(5)
    hs.client().crm.contacts.basic_api.archive(cid)
    assert _emails(hs) == {"gone@x.example": None}
    clock.advance(5)
    assert _emails(hs) == {}


def test_no_lag_by_default(hs: Sandbox) -> None:
    hs.emu.store.create_contact({"email": "now@x.example", "hs_email_open": "2"})
    assert _emails(hs) == {"now@x.example": "2"}


def test_private_endpoint_sets_engagement_and_bumps_lastmodifieddate(make_sandbox) -> None:
    clock = StepClock()
    hs = make_sandbox(clock=clock)
    cid = hs.emu.store.create_contact({"email": "back@x.example", "hs_email_open": "0"}, at=clock.now)
    clock.advance(60)
    reply = hs.raw(
        "PATCH",
        f"/_sandbox/contacts/{cid}/engagement",
        {"properties": {"hs_email_open": "4", "hs_email_last_open_date": clock.now.isoformat()}},
        token=None,
    )
    assert reply.status == 200, reply.data
    props = reply.json()["properties"]
    assert props["hs_email_open"] == "4"
    assert props["lastmodifieddate"] == clock.now.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert _emails(hs) == {"back@x.example": "4"}
    # `at` backdates the event
    earlier = clock.now - timedelta(days=1)
    reply = hs.raw(
        "PATCH",
        f"/_sandbox/contacts/{cid}/engagement",
        {"properties": {"hs_email_click": "1"}, "at": earlier.isoformat()},
        token=None,
    )
    assert reply.json()["properties"]["hs_email_click"] == "1"


def test_private_endpoint_refuses_what_the_api_can_set_and_unknown_contacts(hs: Sandbox) -> None:
    cid = hs.emu.store.create_contact({"email": "x@x.example"})
    path = f"/_sandbox/contacts/{cid}/engagement"
    reply = hs.raw("PATCH", path, {"properties": {"lifecyclestage": "customer", "hs_email_open": "1"}})
    assert reply.status == 400
    assert "lifecyclestage" in reply.json()["message"]
    assert hs.emu.store.get_contact(cid)["properties"].get("hs_email_open") is None
    assert hs.raw("PATCH", path, {"properties": {"hs_email_open": "many"}}).status == 400
    assert hs.raw("PATCH", path, {"properties": {}}).status == 400
    assert (
        hs.raw("PATCH", "/_sandbox/contacts/999999/engagement", {"properties": {"hs_email_open": "1"}}).status
        == 404
    )
    # the real API still refuses them
    refused = hs.raw("PATCH", f"/crm/v3/objects/contacts/{cid}", {"properties": {"hs_email_open": "1"}})
    assert refused.status == 400 and "READ_ONLY_VALUE" in refused.json()["message"]
