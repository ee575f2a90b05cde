"""Lists v3 through the real client: create, find by name, memberships, recordIdsMissing."""

from __future__ import annotations

import pytest
from hubspot.crm.lists import ApiException, ListCreateRequest, MembershipChangeRequest

from .conftest import Sandbox
from .people import seed_people

NAME = "Nurture - Call/DM"


def _create(hs: Sandbox, name: str = NAME, processing: str = "MANUAL") -> str:
    created = hs.client().crm.lists.lists_api.create(
        ListCreateRequest(name=name, object_type_id="0-1", processing_type=processing)
    )
    return created.list.list_id


def test_create_and_find_by_name_case_insensitively(hs: Sandbox) -> None:
    list_id = _create(hs)
    lists_api = hs.client().crm.lists.lists_api
    found = lists_api.get_by_name(NAME.upper(), "0-1")
    assert (found.list.list_id, found.list.name, found.list.processing_type) == (list_id, NAME, "MANUAL")
    assert lists_api.get_by_id(list_id).list.name == NAME
    with pytest.raises(ApiException) as absent:
        lists_api.get_by_name("Nurture - Events", "0-1")
    assert absent.value.status == 404


def test_create_without_trailing_slash_as_the_spec_says(hs: Sandbox) -> None:
    response = hs.raw(
        "POST", "/crm/v3/lists", {"name": "Spec path", "objectTypeId": "0-1", "processingType": "MANUAL"}
    )
    assert response.status == 200
    assert response.json()["list"]["name"] == "Spec path"
    again = hs.raw(
        "POST", "/crm/v3/lists/", {"name": "spec PATH", "objectTypeId": "0-1", "processingType": "MANUAL"}
    )
    assert again.status == 409


def test_membership_add_remove_and_missing_records(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 6)
    hs.emu.store.merge_contacts(people[0].id, people[1].id)
    hs.emu.store.archive_contact(people[2].id)
    list_id = _create(hs)
    memberships = hs.client().crm.lists.memberships_api
    added = memberships.add(list_id, [people[0].id, people[1].id, people[2].id, people[3].id, "424242"])
    assert added.records_ids_added == [people[0].id, people[3].id]
    assert added.record_ids_missing == [people[1].id, people[2].id, "424242"]
    assert added.record_ids_removed == []
    again = memberships.add(list_id, [people[0].id])
    assert again.records_ids_added == [] and again.record_ids_missing == []

    removed = memberships.remove(list_id, [people[0].id, people[4].id, people[1].id])
    assert removed.record_ids_removed == [people[0].id]
    assert removed.record_ids_missing == [people[1].id]
    both = memberships.add_and_remove(
        list_id,
        MembershipChangeRequest(
            record_ids_to_add=[people[4].id, people[5].id], record_ids_to_remove=[people[3].id]
        ),
    )
    assert (both.records_ids_added, both.record_ids_removed) == ([people[4].id, people[5].id], [people[3].id])
    assert hs.emu.store.list_members(NAME.lower()) == {people[4].id, people[5].id}


def test_membership_pages(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 5)
    list_id = _create(hs)
    memberships = hs.client().crm.lists.memberships_api
    memberships.add(list_id, [p.id for p in people])
    seen: list[str] = []
    after = None
    while True:
        page = (
            memberships.get_page(list_id, after=after, limit=2)
            if after
            else memberships.get_page(list_id, limit=2)
        )
        seen += [r.record_id for r in page.results]
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == [p.id for p in people]
    assert hs.raw("GET", f"/crm/v3/lists/{list_id}/memberships?limit=251").status == 400


def test_dynamic_lists_refuse_manual_membership_changes(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 1)
    body = {
        "name": "Hot leads",
        "objectTypeId": "0-1",
        "processingType": "DYNAMIC",
        "filterBranch": {
            "filterBranchType": "OR",
            "filterBranchOperator": "OR",
            "filters": [],
            "filterBranches": [],
        },
    }
    created = hs.raw("POST", "/crm/v3/lists/", body)
    assert created.status == 200
    list_id = created.json()["list"]["listId"]
    with pytest.raises(ApiException) as refused:
        hs.client().crm.lists.memberships_api.add(list_id, [people[0].id])
    assert refused.value.status == 400


def test_archiving_a_contact_removes_it_from_lists(hs: Sandbox) -> None:
    people = seed_people(hs.emu, 2)
    list_id = _create(hs)
    hs.client().crm.lists.memberships_api.add(list_id, [people[0].id, people[1].id])
    hs.client().crm.contacts.basic_api.archive(people[0].id)
    assert hs.emu.store.list_members(NAME) == {people[1].id}
