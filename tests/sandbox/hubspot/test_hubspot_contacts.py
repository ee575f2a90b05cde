"""Basic CRUD, list paging, merges and the Python handle."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from hubspot.crm.contacts import (
    ApiException,
    PublicMergeInput,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from openapi_core.validation.response.exceptions import InvalidData

from sandbox.hubspot.errors import ContactConflictError

from . import spec_check
from .conftest import Sandbox, StepClock
from .people import seed_people


def test_create_get_update_delete(hs: Sandbox) -> None:
    basic = hs.client().crm.contacts.basic_api
    created = basic.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "Mika.Sato@Example.jp", "firstname": "美香", "lifecyclestage": "lead"},
            associations=[],
        )
    )
    assert created.properties["email"] == "Mika.Sato@Example.jp"
    with pytest.raises(ApiException) as duplicate:
        basic.create(
            SimplePublicObjectInputForCreate(properties={"email": "mika.sato@example.jp"}, associations=[])
        )
    assert duplicate.value.status == 409
    assert f"Contact already exists. Existing ID: {created.id}" in duplicate.value.body

    by_email = basic.get_by_id("MIKA.SATO@example.jp", id_property="email", properties=["firstname"])
    assert (by_email.id, by_email.properties["firstname"]) == (created.id, "美香")
    updated = basic.update(created.id, SimplePublicObjectInput(properties={"lifecyclestage": "customer"}))
    assert updated.properties["lifecyclestage"] == "customer"
    assert basic.archive(created.id) is None
    with pytest.raises(ApiException) as gone:
        basic.get_by_id(created.id)
    assert gone.value.status == 404
    archived = basic.get_by_id(created.id, archived=True)
    assert archived.archived is True and archived.archived_at is not None


def test_list_paging_returns_every_contact_once(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 23)
    basic = hs.client().crm.contacts.basic_api
    seen: list[str] = []
    after = None
    while True:
        page = basic.get_page(limit=10, after=after, properties=["email", "lifecyclestage"])
        seen += [r.id for r in page.results]
        assert all(set(r.properties) >= {"email", "lifecyclestage", "hs_object_id"} for r in page.results)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == [p.id for p in people]


def test_merge_through_the_api(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 3)
    basic = hs.client().crm.contacts.basic_api
    merged = basic.merge(PublicMergeInput(primary_object_id=people[0].id, object_id_to_merge=people[2].id))
    assert merged.id == people[0].id
    primary = basic.get_by_id(people[0].id, properties=["hs_merged_object_ids"])
    assert primary.properties["hs_merged_object_ids"] == people[2].id
    assert basic.get_by_id(people[2].id).id == people[0].id  # an old id still resolves for reads
    assert hs.emu.store.get_contact(people[2].id) is None


def test_python_handle_history_and_timestamps(make_sandbox: Callable[..., Sandbox]) -> None:
    clock = StepClock()
    hs = make_sandbox(clock=clock)
    store = hs.emu.store
    created_at = clock.now - timedelta(days=400)
    contact_id = store.create_contact({"email": "old@acme.example", "hs_email_open": "3"}, at=created_at)
    store.update_contact(contact_id, {"hs_email_open": "4"}, at=created_at + timedelta(days=10))
    contact = store.get_contact(contact_id)
    assert contact is not None
    assert contact["properties"]["createdate"] == "2024-01-28T09:00:00.000Z"
    assert contact["properties"]["lastmodifieddate"] == "2024-02-07T09:00:00.000Z"
    assert contact["archived"] is False
    with pytest.raises(ContactConflictError):
        store.create_contact({"email": "OLD@acme.example"})
    other = store.create_contact({"email": "new@acme.example"})
    store.merge_contacts(contact_id, other)
    assert store.get_contact(contact_id)["properties"]["hs_merged_object_ids"] == other  # type: ignore[index]
    assert store.get_contact(contact_id)["properties"]["lastmodifieddate"] == "2025-03-03T09:00:00.000Z"  # type: ignore[index]
    store.archive_contact(contact_id)
    assert store.contacts() == []
    assert [c["id"] for c in store.contacts(include_archived=True)] == [contact_id]
    with pytest.raises(KeyError):
        store.update_contact(contact_id, {"firstname": "x"})


def test_seeding_through_the_inspection_api(hs: Sandbox) -> None:
    response = hs.raw(
        "POST",
        "/_sandbox/contacts",
        {"properties": {"email": "seed@acme.example", "hs_email_click": "2"}, "at": "2024-05-01T00:00:00Z"},
        token=None,
    )
    assert response.status == 201
    listed = hs.raw("GET", "/_sandbox/contacts", token=None).json()
    assert listed["total"] == 1
    assert listed["results"][0]["properties"]["hs_email_click"] == "2"
    assert listed["results"][0]["createdAt"] == "2024-05-01T00:00:00.000Z"
    assert hs.raw("POST", "/_sandbox/contacts", {"properties": {"nope": "1"}}, token=None).status == 400


SEARCH, ADD = "/crm/v3/objects/contacts/search", "/crm/v3/lists/7/memberships/add"
GOOD_ERROR = (
    b'{"status": "error", "message": "m", "category": "VALIDATION_ERROR", '
    b'"correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf"}'
)
GOOD_MEMBERSHIPS = b'{"recordsIdsAdded": [], "recordIdsRemoved": [], "recordIdsMissing": []}'


@pytest.mark.parametrize(
    ("method", "path", "status", "bad", "good"),
    [
        ("POST", SEARCH, 200, b'{"total": 1}', b'{"total": 0, "results": []}'),
        ("POST", SEARCH, 200, b'{"total": 1, "results": [{"id": "1"}]}', b'{"total": 0, "results": []}'),
        ("POST", SEARCH, 400, b'{"status": "error", "message": "no category, no correlationId"}', GOOD_ERROR),
        (
            "PUT",
            ADD,
            200,
            b'{"recordIdsAdded": [], "recordIdsRemoved": [], "recordIdsMissing": []}',
            GOOD_MEMBERSHIPS,
        ),
    ],
    ids=["no-results", "object-without-properties", "bad-error-body", "wrong-membership-keys"],
)
def test_the_spec_check_rejects_bodies_that_do_not_conform(
    method: str, path: str, status: int, bad: bytes, good: bytes
) -> None:
    with pytest.raises(InvalidData):
        spec_check.validate(method, path, status, bad)
    spec_check.validate(method, path, status, good)
