"""HubSpot list ids kept in the state store: found once (setup), addressed by id in later runs with one
check per run, and a list deleted and made again behind leadsync's back gets its members back."""

from __future__ import annotations

from pathlib import Path

from sync.run.context import open_context
from sync.run.runner import RunOptions, run
from sync.settings import load_settings
from tests.sync.run.conftest import World

NEWSLETTER = "Nurture - Newsletter"


def emulator_list_ids(world: World) -> dict[str, str]:
    lists = world.box.hubspot.store.lists
    names = set(world.ctx.mapping.list_names("hubspot").values())
    return {x.name: str(x.list_id) for x in lists.by_ids([str(i) for i in range(1, 100)]) if x.name in names}


def fresh_run(world: World, tmp_path: Path) -> dict[str, int]:
    """One sync in a new context (as a new process would run it); its HubSpot calls by endpoint."""
    ctx = open_context(load_settings(tmp_path / "settings.toml"))
    try:
        result = run(ctx, RunOptions(now=world.now))
        assert result.status == "ok", result.error
        return result.api_calls.get("hubspot", {})
    finally:
        ctx.close()


def test_list_ids_are_kept_and_a_list_made_again_gets_its_members_back(world: World, tmp_path: Path) -> None:
    kept = world.ctx.store.list_ids("hubspot")
    names = set(world.ctx.mapping.list_names("hubspot").values())
    assert kept == emulator_list_ids(world) and set(kept) == names
    world.person("reader@example.com", hubspot={"hs_email_open": "1"})
    world.person("early@example.com", lost_stage="Prospecting", lost_days_ago=45)
    world.sync()
    assert world.hubspot_lists_of("reader@example.com") == {NEWSLETTER}

    calls = fresh_run(world, tmp_path)
    assert calls.get("lists") == 1  # one read of the kept ids, no search by name
    assert "memberships" not in calls

    lists = world.box.hubspot.store.lists
    lists.delete(kept[NEWSLETTER])
    again = lists.create({"name": NEWSLETTER, "objectTypeId": "0-1", "processingType": "MANUAL"})
    calls = fresh_run(world, tmp_path)
    assert calls.get("lists") == 2  # the read of the kept ids, then the search for the one gone
    assert world.ctx.store.list_ids("hubspot")[NEWSLETTER] == str(again.list_id)
    assert world.hubspot_lists_of("reader@example.com") == {NEWSLETTER}
    assert world.box.hubspot.store.list_members(NEWSLETTER) == {world.people["reader@example.com"].hubspot_id}
    assert "memberships" not in fresh_run(world, tmp_path)  # and then nothing more to do


def test_a_rebind_drops_the_old_portals_list_ids_before_they_can_name_another_list(
        world: World, tmp_path: Path) -> None:
    """After `--rebind` to another portal, a kept id may name some other list there: the ids are
    forgotten with the rest, so the lists are found by name again, never by an old id."""
    world.person("reader@example.com", hubspot={"hs_email_open": "1"})
    world.sync()
    kept = world.ctx.store.list_ids("hubspot")
    lists = world.box.hubspot.store.lists
    lists.reset()  # "another portal": the same contacts, lists made again in another order
    names = sorted(kept, key=lambda n: int(kept[n]))
    for name in names[1:] + names[:1]:  # each old id now names another list
        lists.create({"name": name, "objectTypeId": "0-1", "processingType": "MANUAL"})
    newsletter_now = emulator_list_ids(world)[NEWSLETTER]
    assert newsletter_now != kept[NEWSLETTER] and kept[NEWSLETTER] in emulator_list_ids(world).values()
    world.ctx.store.bind("hubspot", "the-portal-before", forget=False)
    ctx = open_context(load_settings(tmp_path / "settings.toml"))
    try:
        result = run(ctx, RunOptions(now=world.now, rebind=True))
    finally:
        ctx.close()
    assert result.status == "ok", result.error
    assert world.hubspot_lists_of("reader@example.com") == {NEWSLETTER}
    assert world.ctx.store.list_ids("hubspot")[NEWSLETTER] == newsletter_now


def test_a_list_check_that_meets_only_transient_errors_does_not_stop_the_run(
        world: World, tmp_path: Path) -> None:
    """The one-call check of the kept ids is a safety check, not a read the plan needs: when HubSpot
    answers it with 5xx after every retry, the run goes on with the kept ids."""
    world.person("reader@example.com", hubspot={"hs_email_open": "1"})
    world.sync()
    world.person("second@example.com", hubspot={"hs_email_open": "1"})
    world.box.hubspot.faults.add("hubspot.lists", "503", 1.0)
    try:
        calls = fresh_run(world, tmp_path)
    finally:
        world.box.hubspot.faults.clear()
    assert calls.get("lists", 0) >= 1 and calls.get("memberships") == 1
    assert world.hubspot_lists_of("second@example.com") == {NEWSLETTER}
