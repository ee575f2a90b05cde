"""The lost date is the day a deal entered closed-lost (OpportunityHistory), not its CloseDate: the
waiting period, the call task and its cycle key follow it, and a task recorded under the CloseDate
key by an earlier leadsync is not created a second time. Real clients over HTTP, a real state file."""

from __future__ import annotations

from datetime import UTC, timedelta

from mappings.recycle import cycle_key
from tests.sync.run.conftest import World


def test_a_stale_close_date_does_not_skip_the_waiting_period(world: World) -> None:
    """Due 50 days ago, marked lost yesterday: it waits (the CloseDate would have made it high now)."""
    world.person("stale@example.com", lost_stage="Negotiation/Review", lost_days_ago=1,
                 close_date_days_ago=50)
    world.sync()
    assert world.sf_contact("stale@example.com")["Recycle_Group__c"] == "waiting"
    assert world.tasks_for("stale@example.com") == []
    explanation = world.sf_contact("stale@example.com")["Leadsync_Explanation__c"]
    lost_on = (world.now - timedelta(days=1)).astimezone(UTC).date()  # CreatedDate's UTC day
    assert f"was lost on {lost_on} (entered closed-lost, from stage history)" in explanation


def test_a_future_close_date_does_not_make_a_lost_deal_wait(world: World) -> None:
    world.person("future@example.com", lost_stage="Negotiation/Review", lost_days_ago=40,
                 close_date_days_ago=-20)
    world.sync()
    assert world.sf_contact("future@example.com")["Recycle_Group__c"] == "high"
    assert len(world.tasks_for("future@example.com")) == 1


def test_a_task_recorded_under_the_close_date_key_is_not_made_again(world: World) -> None:
    """An earlier leadsync keyed the cycle by the CloseDate; the same loss keeps its one task."""
    seeded = world.person("known@example.com", lost_stage="Negotiation/Review", lost_days_ago=40,
                          close_date_days_ago=45)
    close_date = (world.now - timedelta(days=45)).date()
    old_key = cycle_key("known@example.com", seeded.opportunity_id or "", close_date)
    world.ctx.store.record_tasks("salesforce", [(old_key, "00T000000000001AAA")], run_id=None,
                                 at=world.now - timedelta(days=10))  # after the loss: this loss's task
    world.sync()
    assert world.sf_contact("known@example.com")["Recycle_Group__c"] == "high"
    assert world.tasks_for("known@example.com") == []


def test_a_task_under_the_close_date_key_from_an_earlier_loss_does_not_block_a_new_one(world: World) -> None:
    seeded = world.person("again@example.com", lost_stage="Negotiation/Review", lost_days_ago=40,
                          close_date_days_ago=45)
    close_date = (world.now - timedelta(days=45)).date()
    old_key = cycle_key("again@example.com", seeded.opportunity_id or "", close_date)
    world.ctx.store.record_tasks("salesforce", [(old_key, "00T000000000001AAA")], run_id=None,
                                 at=world.now - timedelta(days=100))  # before this loss: an earlier one
    world.sync()
    assert len(world.tasks_for("again@example.com")) == 1
