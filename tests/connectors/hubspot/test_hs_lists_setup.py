"""MANUAL lists (find/create, chunked adds and removes, missing records) and the property setup."""

from __future__ import annotations

import math

import pytest

from connectors.base import AuthenticationError, ConfigurationError, FieldSpec, FieldUpdate, ListChange
from connectors.hubspot.write import MEMBERSHIP_CHUNK

from .conftest import SEEDED, Hub

SPECS = [
    FieldSpec("leadsync_stage", "Stage", "enumeration", ("inquiry", "mql", "sql")),
    FieldSpec("leadsync_score", "Score", "number"),
    FieldSpec("recycle_group", "Recycle group", "enumeration", ("high", "low")),
]


def contacts(hub: Hub, n: int) -> list[str]:
    return [hub.emu.store.create_contact({"email": f"l{i}@example.com"}, at=SEEDED) for i in range(n)]


FAULTS = (("429", 1.0, 2, "1"), ("500", 0.3, None, None), ("drop", 0.2, None, None))


@pytest.mark.parametrize("faults", [(), FAULTS], ids=["clean", "faults"])
def test_list_changes_in_chunks(hub: Hub, faults: tuple) -> None:
    ids = contacts(hub, 1_300)
    conn = hub.connector()
    assert conn.ensure_lists(["Nurture - Events"], create_missing=True) == {"Nurture - Events": "1"}
    for kind, probability, count, arg in faults:
        hub.emu.faults.add("hubspot.memberships", kind, probability, count, arg)
    hub.reset_counts()
    added = conn.change_lists([ListChange("Nurture - Events", c, "add") for c in ids[:1_200]])
    assert all(r.ok for r in added)
    removed = conn.change_lists([ListChange("Nurture - Events", c, "remove") for c in ids[:300]])
    assert all(r.ok for r in removed)
    assert hub.emu.store.list_members("Nurture - Events") == set(ids[300:1_200])
    assert hub.counted()["memberships"] >= math.ceil(1_200 / MEMBERSHIP_CHUNK) + 1
    if not faults:
        assert hub.counted() == {"memberships": math.ceil(1_200 / MEMBERSHIP_CHUNK) + 1}
    assert hub.counted() == hub.calls()


@pytest.mark.parametrize("chunk", [100, 500])
def test_membership_chunk_follows_the_setting_and_the_emulator_cap(make_hub, chunk: int) -> None:  # noqa: ANN001
    hub: Hub = make_hub(membership_max_ids=chunk)
    ids = contacts(hub, 1_050)
    conn = hub.connector(membership_chunk=chunk)
    assert conn.write_sizes.list_members == chunk
    conn.ensure_lists(["Nurture - Events"], create_missing=True)
    hub.reset_counts()
    assert all(r.ok for r in conn.change_lists([ListChange("Nurture - Events", c, "add") for c in ids]))
    assert hub.counted() == {"memberships": math.ceil(1_050 / chunk)} == hub.calls()
    too_big = hub.connector(membership_chunk=chunk + 1)
    refused = too_big.change_lists([ListChange("Nurture - Events", c, "remove") for c in ids[:chunk + 11]])
    assert refused[0].error_code == "VALIDATION_ERROR" and "maximum" in (refused[0].message or "")
    assert all(r.ok for r in refused[chunk + 1:])  # the last, smaller chunk is accepted
    assert not any(r.ok for r in refused[:chunk + 1])


def test_missing_records_and_lists_are_failures(hub: Hub) -> None:
    ids = contacts(hub, 10)
    store = hub.emu.store
    store.merge_contacts(ids[0], ids[1])
    store.archive_contact(ids[2])
    conn = hub.connector()
    conn.ensure_lists(["Nurture - Newsletter"], create_missing=True)
    changes = [ListChange("Nurture - Newsletter", c, "add") for c in ids]
    changes += [ListChange("Nurture - Gone", ids[3], "add"),
                ListChange("Nurture - Newsletter", ids[4], "remove")]  # supersedes the add of ids[4]
    results = conn.change_lists(changes)
    assert len(results) == len(changes)
    by_input = list(zip(changes, results, strict=True))
    missing = {ch.record_id for ch, r in by_input if r.error_code == "RECORD_MISSING"}
    assert missing == {ids[1], ids[2]}
    assert [r.error_code for ch, r in by_input if ch.list_name == "Nurture - Gone"] == ["LIST_NOT_FOUND"]
    others = [r for ch, r in by_input
              if ch.record_id not in (ids[1], ids[2]) and ch.list_name != "Nurture - Gone"]
    assert others and all(r.ok for r in others)
    assert store.list_members("Nurture - Newsletter") == {ids[0], *ids[3:4], *ids[5:]}


def test_lists_are_found_by_search_and_addressed_by_id(hub: Hub) -> None:
    lists_api = hub.connector().transport.client.crm.lists.lists_api
    # all match the search query; the wanted list comes last, on the second page
    for name in [f"Nurture - Call/DM {i}" for i in range(150)] + ["Nurture - Call/DM"]:
        lists_api.create({"name": name, "objectTypeId": "0-1", "processingType": "MANUAL"})
    ids = contacts(hub, 3)
    hub.reset_counts()
    conn = hub.connector()
    results = conn.change_lists([ListChange("NURTURE - CALL/DM", c, "add") for c in ids])
    assert all(r.ok for r in results)
    assert hub.emu.store.list_members("Nurture - Call/DM") == set(ids)
    assert hub.calls() == {"lists": 2, "memberships": 1}  # two search pages, then by id
    assert conn.ensure_lists(["Nurture - Call/DM"], create_missing=False) == {"Nurture - Call/DM": "151"}


def test_lists_are_found_case_insensitively_and_dynamic_ones_refused(hub: Hub) -> None:
    conn = hub.connector()
    created = conn.ensure_lists(["Nurture - Call/DM"], create_missing=True)
    assert conn.ensure_lists(["nurture - call/dm"], create_missing=False) == {"nurture - call/dm":
                                                                             created["Nurture - Call/DM"]}
    assert conn.ensure_lists(["Not there"], create_missing=False) == {}
    lists_api = conn.transport.client.crm.lists.lists_api
    lists_api.create({"name": "Hot leads", "objectTypeId": "0-1", "processingType": "DYNAMIC",
                      "filterBranch": {"filterBranchType": "OR", "filterBranches": [], "filters": []}})
    with pytest.raises(ConfigurationError, match="DYNAMIC"):
        conn.ensure_lists(["Hot leads"], create_missing=True)


def test_setup_creates_properties_once_then_only_checks(hub: Hub) -> None:
    conn = hub.connector()
    assert len(conn.ensure_properties(SPECS, create_missing=False)) == 3  # all missing: reported only
    assert hub.emu.store.schema.get("leadsync_stage") is None
    assert conn.ensure_properties(SPECS, create_missing=True) == []
    stage = hub.emu.store.schema.get("leadsync_stage")
    assert stage.group_name == "leadsync" and [o.value for o in stage.options] == ["inquiry", "mql", "sql"]
    hub.reset_counts()
    assert conn.ensure_properties(SPECS, create_missing=True) == []
    assert hub.counted() == {"properties": 1} == hub.calls()  # a second setup only reads


def test_setup_adds_missing_options_and_reports_wrong_types(hub: Hub) -> None:
    conn = hub.connector()
    conn.ensure_properties(SPECS, create_missing=True)
    stages = ("inquiry", "mql", "sql", "recycle")
    wider = [FieldSpec("leadsync_stage", "Stage", "enumeration", stages),
             FieldSpec("leadsync_score", "Score", "text")]
    problems = conn.ensure_properties(wider, create_missing=False)
    assert any("recycle" in p for p in problems) and any("leadsync_score" in p for p in problems)
    problems = conn.ensure_properties(wider, create_missing=True)
    assert problems == [p for p in problems if "leadsync_score" in p] and len(problems) == 1
    assert [o.value for o in hub.emu.store.schema.get("leadsync_stage").options][-1] == "recycle"
    assert hub.emu.store.schema.get("leadsync_score").type == "number"  # never altered


def test_new_options_are_usable_by_the_next_write(hub: Hub) -> None:
    (cid,) = contacts(hub, 1)
    conn = hub.connector()
    conn.ensure_properties(SPECS[:1], create_missing=True)
    assert conn.update_fields([FieldUpdate("contacts", cid, {"leadsync_stage": "recycle"})])[0].error_code \
        == "INVALID_OPTION"
    conn.ensure_properties([FieldSpec("leadsync_stage", "Stage", "enumeration", ("recycle",))],
                           create_missing=True)
    assert conn.update_fields([FieldUpdate("contacts", cid, {"leadsync_stage": "recycle"})])[0].ok


def test_a_refused_token_fails_at_once_with_a_clear_error(hub: Hub) -> None:
    conn = hub.connector(access_token="not-the-token")
    with pytest.raises(AuthenticationError, match="401"):
        conn.ensure_lists(["Any"], create_missing=False)
    assert hub.counted() == {"lists": 1} == hub.calls()  # never retried


def test_known_list_ids_need_no_lookup_and_a_gone_id_is_found_again(hub: Hub) -> None:
    """Ids kept from an earlier run are used as they are (no search); when HubSpot answers 404 for one
    (the list was deleted and made again), the id is reported gone, the name is looked up again, the
    new id reported, and the chunk is sent to it."""
    ids = contacts(hub, 5)
    conn = hub.connector()
    first = conn.ensure_lists(["Nurture - Call/DM", "Nurture - Events"], create_missing=True)
    heard: list[tuple[str, str | None]] = []
    later = hub.connector()
    later.remember_list_ids(first, lambda name, list_id: heard.append((name, list_id)))
    hub.reset_counts()
    assert all(r.ok for r in later.change_lists([ListChange("Nurture - Call/DM", ids[0], "add")]))
    assert hub.counted() == {"memberships": 1} and heard == []

    lists = hub.emu.store.lists
    lists.delete(first["Nurture - Call/DM"])
    again = lists.create({"name": "Nurture - Call/DM", "objectTypeId": "0-1", "processingType": "MANUAL"})
    hub.reset_counts()
    results = later.change_lists([ListChange("Nurture - Call/DM", c, "add") for c in ids[1:]])
    assert all(r.ok for r in results)
    assert heard == [("Nurture - Call/DM", None), ("Nurture - Call/DM", str(again.list_id))]
    assert hub.emu.store.list_members("Nurture - Call/DM") == set(ids[1:])
    assert hub.counted() == {"memberships": 2, "lists": 1} == hub.calls()

    lists.delete(str(again.list_id))
    heard.clear()
    gone = later.change_lists([ListChange("Nurture - Call/DM", ids[0], "remove")])
    assert [r.error_code for r in gone] == ["LIST_NOT_FOUND"]
    assert heard == [("Nurture - Call/DM", None)]
