"""The recycle method end to end: real clients, real HTTP to both emulators, a real SQLite state file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sandbox.launcher import Sandbox
from sync.run.context import open_context
from sync.run.runner import RunOptions, run
from sync.settings import load_settings
from tests.sync.run.conftest import World

LOW_LIST = "Recycle - Email Nurture"


def test_lost_late_goes_to_high_group_with_a_call_task_for_the_owner(world: World) -> None:
    world.person("late@example.com", lost_stage="Negotiation/Review", lost_days_ago=40, reason="予算不足")
    world.sync()

    assert world.sf_contact("late@example.com")["Recycle_Group__c"] == "high"
    assert world.sf_contact("late@example.com")["Lead_Stage__c"] == "recycle"
    assert world.hs_props("late@example.com")["leadsync_recycle_group"] == "high"
    tasks = world.tasks_for("late@example.com")
    assert len(tasks) == 1
    task = tasks[0]
    assert task["OwnerId"] == world.owner
    assert task["WhatId"] == world.people["late@example.com"].opportunity_id
    assert "予算不足" in task["Description"] and "Negotiation/Review" in task["Description"]


def test_lost_early_goes_to_low_group_and_the_email_list_then_a_click_promotes(world: World) -> None:
    world.person("early@example.com", lost_stage="Prospecting", lost_days_ago=45,
                 hubspot={"hs_email_open": "1"})
    world.sync()
    assert world.sf_contact("early@example.com")["Recycle_Group__c"] == "low"
    assert world.hs_props("early@example.com")["leadsync_recycle_group"] == "low"
    assert world.hubspot_lists_of("early@example.com") == {LOW_LIST}
    assert world.campaigns_of("early@example.com") == {LOW_LIST}
    assert world.tasks_for("early@example.com") == []

    # they click an email after the loss: promoted to high on the next run, list left, task created
    clicked = (world.now - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    world.box.hubspot.store.update_contact(world.people["early@example.com"].hubspot_id or "",
                                           {"hs_email_click": "1", "hs_email_last_click_date": clicked})
    world.sync()
    assert world.sf_contact("early@example.com")["Recycle_Group__c"] == "high"
    assert world.hs_props("early@example.com")["leadsync_recycle_group"] == "high"
    assert LOW_LIST not in world.hubspot_lists_of("early@example.com")
    assert LOW_LIST not in world.campaigns_of("early@example.com")
    assert len(world.tasks_for("early@example.com")) == 1


def test_waiting_period_then_assigned_with_no_new_source_data(world: World) -> None:
    world.person("recent@example.com", lost_stage="Proposal/Price Quote", lost_days_ago=10)
    world.sync()
    assert world.sf_contact("recent@example.com")["Recycle_Group__c"] == "waiting"
    assert world.tasks_for("recent@example.com") == []

    later = world.now + timedelta(days=25)  # 35 days after the loss; nothing changed in either system
    world.sync(now=later)
    assert world.sf_contact("recent@example.com")["Recycle_Group__c"] == "high"
    assert world.hs_props("recent@example.com")["leadsync_recycle_group"] == "high"
    assert len(world.tasks_for("recent@example.com")) == 1


def test_opted_out_people_are_on_no_email_list(world: World) -> None:
    world.person("optout@example.com", lost_stage="Qualification", lost_days_ago=60,
                 hubspot={"hs_email_optout": "true"})
    world.person("sfoptout@example.com", lost_stage="Qualification", lost_days_ago=60, sf_opted_out=True)
    world.sync()
    for email in ("optout@example.com", "sfoptout@example.com"):
        assert world.sf_contact(email)["Recycle_Group__c"] == "low"
        assert world.hubspot_lists_of(email) == set()
        assert world.campaigns_of(email) == set()


def test_a_won_deal_takes_the_person_out_of_recycling(world: World) -> None:
    p = world.person("won@example.com", lost_stage="Negotiation/Review", lost_days_ago=90)
    world.sync()
    assert world.sf_contact("won@example.com")["Recycle_Group__c"] == "high"

    assert p.contact_id is not None
    world.deal(p.contact_id, "Proposal/Price Quote", 1, None, outcome="Closed Won")
    world.sync()
    assert world.sf_contact("won@example.com")["Recycle_Group__c"] in (None, "")
    assert world.hs_props("won@example.com").get("leadsync_recycle_group") in (None, "")  # cleared
    assert world.sf_contact("won@example.com")["Lead_Stage__c"] != "recycle"
    # the contact snapshot the second run read (recycled values) is stale once it wrote: a later run
    # must not take it for what the contact holds, and so writes nothing
    before = world.emulator_writes()
    world.sync()
    assert world.emulator_writes() == before


def test_a_deal_won_long_before_the_loss_does_not_stop_recycling(world: World) -> None:
    """Rule 4: only a deal won on or after the loss date takes the person out; a customer whose later
    deal (say an expansion) was lost is recycled. The won deal's CloseDate is its close day."""
    p = world.person("customer@example.com", lost_stage="Negotiation/Review", lost_days_ago=40)
    assert p.contact_id is not None
    world.deal(p.contact_id, "Proposal/Price Quote", 400, None, outcome="Closed Won")
    world.sync()
    assert world.sf_contact("customer@example.com")["Recycle_Group__c"] == "high"
    assert len(world.tasks_for("customer@example.com")) == 1


def test_list_move_removes_the_old_membership(world: World) -> None:
    world.person("mover@example.com", in_hubspot=True, hubspot={"hs_email_open": "1"})
    world.sync()
    assert world.hubspot_lists_of("mover@example.com") == {"Nurture - Newsletter"}

    hot = {"hs_email_open": "5", "hs_email_click": "5", "num_conversion_events": "3",
           "hs_email_last_open_date": world.now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
           "hs_email_last_click_date": world.now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
           "recent_conversion_date": world.now.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    world.box.hubspot.store.update_contact(world.people["mover@example.com"].hubspot_id or "", hot)
    world.sync()
    assert world.hs_props("mover@example.com")["leadsync_rank"] == "hot"
    assert world.hubspot_lists_of("mover@example.com") == {"Nurture - Events"}


def test_second_run_with_no_change_writes_nothing(world: World) -> None:
    world.person("a@example.com", lost_stage="Negotiation/Review", lost_days_ago=40)
    world.person("b@example.com", lost_stage="Prospecting", lost_days_ago=40)
    world.person("c@example.com", hubspot={"hs_email_open": "3"})
    first = world.sync()
    assert first.counts.get("salesforce.fields_written", 0) > 0
    writes_after_first = world.emulator_writes()
    second = world.sync()
    assert world.emulator_writes() == writes_after_first  # not one write call
    assert second.plan["counts"] == {}
    for system in ("salesforce", "hubspot"):
        assert not any(e in second.api_calls.get(system, {}) for e in
                       ("salesforce.collections", "batch_update", "memberships"))


def test_keep_manual_value_changed_by_hand_is_left_and_reported(world: World) -> None:
    p = world.person("manual@example.com", lost_stage="Negotiation/Review", lost_days_ago=10)
    world.sync()
    assert world.sf_contact("manual@example.com")["Recycle_Group__c"] == "waiting"
    assert p.contact_id is not None and p.hubspot_id is not None
    # sales decides by hand in Salesforce; marketing by hand in HubSpot
    world.box.salesforce.store.update("Contact", p.contact_id, {"Recycle_Group__c": "excluded"})
    world.box.hubspot.store.update_contact(p.hubspot_id, {"leadsync_recycle_group": "low"})

    result = world.sync(now=world.now + timedelta(days=25))  # leadsync now wants "high"
    assert world.sf_contact("manual@example.com")["Recycle_Group__c"] == "excluded"
    assert world.hs_props("manual@example.com")["leadsync_recycle_group"] == "low"
    reasons = {s["system"]: s["reason"] for s in result.plan["skipped"]
               if s["record_id"] in (p.contact_id, p.hubspot_id)}
    assert set(reasons) == {"salesforce", "hubspot"}
    assert all("changed by hand" in r for r in reasons.values())
    assert world.sf_contact("manual@example.com")["Lead_Score__c"] is not None  # other fields still written


def test_hand_edit_is_seen_even_when_leadsync_wants_the_same_value_as_before(world: World) -> None:
    p = world.person("edited@example.com", lost_stage="Negotiation/Review", lost_days_ago=40)
    world.sync()
    assert p.contact_id is not None
    world.box.salesforce.store.update("Contact", p.contact_id, {"Recycle_Group__c": "low"})  # by hand
    result = world.sync()  # the same inputs: leadsync still wants "high"
    assert world.sf_contact("edited@example.com")["Recycle_Group__c"] == "low"
    assert result.counts["salesforce_managed_contacts_read"] >= 1  # found by the changed-contacts read
    reasons = [s["reason"] for s in result.plan["skipped"] if s["record_id"] == p.contact_id]
    assert reasons and "changed by hand" in reasons[0]


def test_dry_run_leaves_both_systems_untouched(world: World) -> None:
    world.person("dry@example.com", lost_stage="Negotiation/Review", lost_days_ago=40)
    before_sf = world.sf_contact("dry@example.com")
    before_hs = world.hs_props("dry@example.com")
    result = world.sync(dry_run=True)
    assert result.plan["counts"]["salesforce"]["tasks"] == 1
    assert result.plan["counts"]["hubspot"]["fields"] > 0
    assert world.emulator_writes() == 0
    assert world.sf_contact("dry@example.com") == before_sf
    assert world.hs_props("dry@example.com") == before_hs
    assert world.tasks_for("dry@example.com") == []


def test_missing_hubspot_properties_stop_the_run_before_any_write(empty_sandbox: Sandbox,
                                                                  tmp_path: Path) -> None:
    box = empty_sandbox
    box.hubspot.store.create_contact({"email": "x@example.com", "hs_email_open": "2"})
    path = box.write_settings(tmp_path / "settings.toml", state_url=f"sqlite:///{tmp_path}/state.db")
    ctx = open_context(load_settings(path))  # no `leadsync setup`: the leadsync_* properties do not exist
    try:
        result = run(ctx, RunOptions())
    finally:
        ctx.close()
    assert (result.status, result.exit_code) == ("failed", 2)
    assert "leadsync_stage" in (result.error or "") and "leadsync setup" in (result.error or "")
    assert box.hubspot.calls.snapshot().get("hubspot.batch_update", 0) == 0


def test_backfill_of_an_old_window_rereads_it_and_never_moves_watermarks_back(world: World) -> None:
    world.person("old@example.com", lost_stage="Negotiation/Review", lost_days_ago=200)
    world.person("new@example.com", lost_stage="Prospecting", lost_days_ago=40)
    world.sync()
    marks = world.ctx.store.watermarks()
    assert marks  # every stream read has one

    window_end = world.now - timedelta(days=100)  # only the old deal changed in this window
    result = run(world.ctx, RunOptions(kind="backfill", since=world.now - timedelta(days=400),
                                       until=window_end, now=world.now))
    assert result.status == "ok"
    assert result.counts["deals_read"] == 1
    after = world.ctx.store.watermarks()
    assert {stream: after[stream] for stream in marks} == marks  # none moved back to the old window
