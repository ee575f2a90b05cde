"""Lists v3 through the real client: create, find by name, memberships, recordIdsMissing."""

from __future__ import annotations

import pytest
from hubspot.crm.lists import ApiException, ListCreateRequest, ListSearchRequest, MembershipChangeRequest

from .conftest import Sandbox
from .people import seed_people

NAME = "Nurture - Call/DM"


def _create(hs: Sandbox, name: str = NAME, processing: str = "MANUAL") -> str:
    created = hs.client().crm.lists.lists_api.create(
        ListCreateRequest(name=name, object_type_id="0-1", processing_type=processing)
    )
    return created.list.list_id


def test_create_and_find_by_name_case_insensitively(hs: Sandbox) -> None:
    list_id = _create(hs, "Nurture - Events")
    lists_api = hs.client().crm.lists.lists_api
    found = lists_api.get_by_name("NURTURE - EVENTS", "0-1")
    assert (found.list.list_id, found.list.name, found.list.processing_type) == (
        list_id, "Nurture - Events", "MANUAL")
    assert lists_api.get_by_id(list_id).list.name == "Nurture - Events"
    with pytest.raises(ApiException) as absent:
        lists_api.get_by_name("Nurture - Webinars", "0-1")
    assert absent.value.status == 404


def test_lists_by_ids_in_one_call_leave_unknown_ids_out(hs: Sandbox) -> None:
    first, second = _create(hs, "Nurture - Events"), _create(hs)
    lists_api = hs.client().crm.lists.lists_api
    lists_api.remove(second)
    found = lists_api.get_all(list_ids=[second, first, "999", "not-a-number"])
    assert [(x.list_id, x.name) for x in found.lists] == [(first, "Nurture - Events")]


def test_a_slash_in_a_path_segment_is_refused_encoded_or_not(hs: Sandbox) -> None:
    list_id = _create(hs)
    with pytest.raises(ApiException) as encoded:  # the client sends "Nurture%20-%20Call%2FDM"
        hs.client().crm.lists.lists_api.get_by_name(NAME, "0-1")
    assert encoded.value.status == 404
    literal = "/crm/v3/lists/object-type-id/0-1/name/Nurture - Call/DM"
    # a path the spec does not have (urllib3 sends the spaces as %20): nothing to check it against
    hs.recorder.unchecked.add(literal.replace(" ", "%20"))
    assert hs.raw("GET", literal).status == 404
    assert hs.raw("GET", "/crm/v3/lists/object-type-id/0-1/name/Nurture%20-%20Call%2fDM").status == 404
    assert hs.raw("GET", f"/crm/v3/lists/{list_id}").json()["list"]["name"] == NAME


def test_search_pages_by_offset_and_matches_names_case_insensitively(hs: Sandbox) -> None:
    ids = [_create(hs, f"{NAME} {i}") for i in range(5)] + [_create(hs, "Other")]
    lists_api = hs.client().crm.lists.lists_api
    first = lists_api.do_search(ListSearchRequest(query="call/dm", offset=0, count=3,
                                                  additional_properties=[]))
    assert (first.total, first.has_more, first.offset) == (5, True, 3)
    second = lists_api.do_search(ListSearchRequest(query="call/dm", offset=3, count=3,
                                                   additional_properties=[]))
    assert (second.has_more, second.offset) == (False, 5)
    assert [x.list_id for x in first.lists + second.lists] == ids[:5]
    assert second.lists[0].name == f"{NAME} 3" and second.lists[0].object_type_id == "0-1"
    everything = lists_api.do_search(ListSearchRequest(query="", offset=0, additional_properties=[]))
    assert everything.total == 6
    assert hs.raw("POST", "/crm/v3/lists/search", {"query": "x"}).status == 400  # offset is required
    too_many = hs.raw("POST", "/crm/v3/lists/search",
                      {"offset": 0, "count": 501, "additionalProperties": []})
    assert too_many.status == 400


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
