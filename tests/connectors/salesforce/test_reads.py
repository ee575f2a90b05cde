"""Reading deals and contacts from the emulator with the real simple-salesforce client."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from connectors.base import BudgetExhausted
from connectors.salesforce.read import MAX_IN_IDS
from connectors.salesforce.settings import SalesforceSettings
from sandbox.salesforce import SalesforceEmulator

from .conftest import T0, Org, Run, emulator_calls

SINCE = T0 - timedelta(days=1)


def test_a_lost_deal_with_everything_on_it(make: Callable[..., Run], org: Org) -> None:
    acc = org.account("Globex", employees=1200, industry="Energy")
    first, primary = org.contact(account_id=acc), org.contact(account_id=acc, opted_out=True)
    opp = org.deal(
        ["Prospecting", "Needs Analysis", "Proposal/Price Quote", "Closed Lost"],
        account_id=acc,
        contacts=[first, primary],
        primary=primary,
        reason="Competitor",
        amount=12000.5,
    )
    (deal,) = make().connector.iter_deals(SINCE)
    assert deal.opportunity_id == opp and deal.state == "lost" and deal.stage_name == "Closed Lost"
    assert deal.stage_at_loss == "Proposal/Price Quote"
    assert (deal.loss_reason, deal.amount) == ("Competitor", 12000.5)
    # lost the day it entered Closed Lost (the 4th stage, 3 days after T0), not on its CloseDate
    assert (deal.lost_date, deal.lost_date_source, deal.close_date) == (
        (T0 + timedelta(days=3)).date(), "history", date(2024, 6, 30))
    assert (deal.account_id, deal.account_name, deal.account_employees, deal.account_industry) == (
        acc,
        "Globex",
        1200,
        "Energy",
    )
    assert [c.contact_id for c in deal.contacts] == [primary, first]  # primary first
    assert deal.contacts[0].is_primary and deal.contacts[0].opted_out and not deal.contacts[1].opted_out
    assert deal.contacts[1].email and deal.contacts[1].role == "Influencer"
    assert deal.modified_at == T0 + timedelta(days=3) and deal.modified_at.tzinfo is not None
    assert deal.owner_id and not deal.is_deleted


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        (["Prospecting", "Closed Lost"], "Prospecting"),
        (["Closed Lost"], None),  # created lost: no open stage ever
        (
            ["Qualification", "Negotiation/Review", "Closed Lost", "Value Proposition", "Closed Lost"],
            "Value Proposition",
        ),  # re-opened and lost again: the latest loss counts
        (["Qualification", "Closed Won", "Perception Analysis", "Closed Lost"], "Perception Analysis"),
    ],
)
def test_stage_at_loss_from_history(
    make: Callable[..., Run], org: Org, stages: list[str], expected: str | None
) -> None:
    org.deal(stages)
    (deal,) = make().connector.iter_deals(SINCE)
    assert deal.state == "lost" and deal.stage_at_loss == expected


DAY = timedelta(days=1)


def test_a_deal_lost_in_the_orgs_own_closed_lost_stage(make: Callable[..., Run], org: Org) -> None:
    """"Lost - No Budget" is a custom stage with IsClosed and not IsWon in the org's OpportunityStage:
    a loss like "Closed Lost", dated the day the deal entered it."""
    opp = org.deal(["Prospecting", "Needs Analysis", "Lost - No Budget"], reason="No Budget", step=5 * DAY)
    (deal,) = make().connector.iter_deals(SINCE)
    assert (deal.opportunity_id, deal.state, deal.stage_name) == (opp, "lost", "Lost - No Budget")
    assert (deal.stage_at_loss, deal.loss_reason) == ("Needs Analysis", "No Budget")
    assert (deal.lost_date, deal.lost_date_source) == ((T0 + 10 * DAY).date(), "history")


def test_moving_from_a_custom_lost_stage_to_closed_lost_is_not_a_new_loss(
    make: Callable[..., Run], org: Org
) -> None:
    """Only the org's OpportunityStage says "Lost - No Budget" is closed-lost when no deal is in it any
    more: without it the later move to "Closed Lost" would look like the loss (date and stage)."""
    org.deal(["Prospecting", "Value Proposition", "Lost - No Budget", "Closed Lost"], step=10 * DAY)
    run = make()
    (deal,) = run.connector.iter_deals(SINCE)
    assert (deal.state, deal.stage_name, deal.stage_at_loss) == ("lost", "Closed Lost", "Value Proposition")
    assert (deal.lost_date, deal.lost_date_source) == ((T0 + 20 * DAY).date(), "history")



def test_lost_date_is_the_last_entry_into_closed_lost_not_the_close_date(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    """Reopened and lost again: the second entry counts; edits after the loss (CloseDate, Amount) add
    closed-lost history rows that are not entries; a CloseDate in the future does not matter."""
    opp = org.deal(["Prospecting", "Closed Lost", "Value Proposition", "Closed Lost"], step=10 * DAY)
    emu.store.update("Opportunity", opp, {"CloseDate": date(2030, 1, 1)}, at=T0 + 40 * DAY)
    emu.store.update("Opportunity", opp, {"Amount": 9.0}, at=T0 + 41 * DAY)
    (deal,) = make().connector.iter_deals(SINCE)
    assert (deal.lost_date, deal.lost_date_source) == ((T0 + 30 * DAY).date(), "history")
    assert deal.close_date == date(2030, 1, 1) and deal.stage_at_loss == "Value Proposition"


def test_a_deal_created_closed_lost_falls_back_to_its_close_date(make: Callable[..., Run], org: Org) -> None:
    """Created already lost (an import): its only history row is the day of the import, not a move
    into closed-lost, so the CloseDate is the best date there is, and the deal says so."""
    org.deal(["Closed Lost"])
    (deal,) = make().connector.iter_deals(SINCE)
    assert (deal.lost_date, deal.lost_date_source) == (date(2024, 6, 30), "close_date")


def test_all_states_and_deleted_deals_are_read_and_lost_only_filters(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    lost = org.deal(["Prospecting", "Closed Lost"], name="lost")
    won = org.deal(["Prospecting", "Closed Won"], name="won")
    open_ = org.deal(["Prospecting", "Qualification"], name="open")
    gone = org.deal(["Prospecting", "Value Proposition", "Closed Lost"], name="gone")
    emu.store.delete("Opportunity", gone, at=T0 + timedelta(days=5))
    conn = make().connector
    by_id = {d.opportunity_id: d for d in conn.iter_deals(SINCE)}
    assert {i: (d.state, d.is_deleted) for i, d in by_id.items()} == {
        lost: ("lost", False),
        won: ("won", False),
        open_: ("open", False),
        gone: ("lost", True),
    }
    assert by_id[won].stage_at_loss is None and by_id[won].lost_date is None
    assert by_id[gone].stage_at_loss == "Value Proposition"
    assert {d.opportunity_id for d in conn.iter_deals(SINCE, lost_only=True)} == {lost, gone}


def test_window_and_order(make: Callable[..., Run], org: Org) -> None:
    ids = [
        org.deal(["Prospecting", "Closed Lost"], start=T0 + timedelta(hours=i), step=timedelta(minutes=1))
        for i in range(6)
    ]
    conn = make().connector
    deals = list(conn.iter_deals(T0 + timedelta(hours=2, minutes=1), T0 + timedelta(hours=5, minutes=1)))
    assert [d.opportunity_id for d in deals] == ids[2:5]  # >= since, < until, by SystemModstamp
    assert [d.modified_at for d in deals] == sorted(d.modified_at for d in deals)


def test_reads_start_exactly_at_since_and_the_lookback_is_only_declared(
    make: Callable[..., Run], org: Org
) -> None:
    """The runner subtracts the lookback (sync.run.streams); the connector reads from `since` as given."""
    org.deal(["Prospecting", "Closed Lost"], start=T0, step=timedelta(minutes=1))
    watermark = T0 + timedelta(minutes=5)
    run = make(lookback_minutes=10)
    assert run.connector.lookback == timedelta(minutes=10)
    assert list(run.connector.iter_deals(watermark)) == []
    assert len(list(run.connector.iter_deals(watermark - run.connector.lookback))) == 1
    assert make(lookback_minutes=0).connector.lookback == timedelta(0)


def test_reads_are_batched_never_one_query_per_deal(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    contacts = [org.contact() for _ in range(21)]
    n, page = 450, 200
    for i in range(n):
        org.deal(
            ["Prospecting", "Value Proposition", "Closed Lost"],
            contacts=contacts[i % 20 : i % 20 + 2],
            primary=contacts[i % 20],
            start=T0 + timedelta(seconds=i),
            step=timedelta(hours=1),
        )
    run = make()
    deals = list(run.connector.iter_deals(SINCE, page_size=page))
    assert len(deals) == n == len({d.opportunity_id for d in deals})
    assert all(d.stage_at_loss == "Value Proposition" and len(d.contacts) == 2 for d in deals)
    # two streams: the deals with their roles inline (child rows count toward the page: 1 + 2 rows a
    # deal), the lost deals' history (3 rows a deal, one 2,000-row page); OpportunityStage once
    deals_per_page = page // 3
    assert run.calls() == {
        "salesforce.login": 1,
        "salesforce.query": 3,
        "salesforce.query_more": math.ceil(n / deals_per_page) - 1,
    }
    assert run.calls() == emulator_calls(emu)


def test_bulk_api_above_the_threshold_streams_pages(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    ids = {
        org.deal(["Prospecting", "Needs Analysis", "Closed Lost"], start=T0 + timedelta(seconds=i))
        for i in range(250)
    }
    gone = sorted(ids)[0]
    emu.store.delete("Opportunity", gone, at=T0 + timedelta(days=9))
    run = make(bulk_read_threshold=100)
    deals = list(run.connector.iter_deals(SINCE, page_size=200))
    assert {d.opportunity_id for d in deals} == ids and len(deals) == 250
    assert all(d.stage_at_loss == "Needs Analysis" and d.loss_reason == "Price" for d in deals)
    assert next(d for d in deals if d.opportunity_id == gone).is_deleted
    calls = run.calls()
    # create job, poll until complete, then 2 result pages of 200 / 50
    assert calls["salesforce.bulk"] >= 4 and calls == emulator_calls(emu)


def test_the_bulk_read_is_off_by_default_and_zero_means_never(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    """REST with the roles subquery costs ceil((deals + roles) / page) calls at any size; Bulk API 2.0
    takes no subqueries (roles and history by IN list per page: more calls), so it is opt-in."""
    assert SalesforceSettings.model_fields["bulk_read_threshold"].default == 0
    contact = org.contact()
    ids = {org.deal(["Prospecting", "Closed Lost"], contacts=[contact], start=T0 + timedelta(seconds=i))
           for i in range(250)}
    run = make(bulk_read_threshold=0)
    deals = list(run.connector.iter_deals(SINCE, page_size=200))
    assert {d.opportunity_id for d in deals} == ids
    assert all([c.contact_id for c in d.contacts] == [contact] for d in deals)  # from the subquery
    calls = run.calls()
    assert "salesforce.bulk" not in calls and calls == emulator_calls(emu)
    # 250 deals + 250 roles in pages of 200 rows: 3 pages; the lost deals' history (500 rows): one
    # stream page of 2,000; the closed stage names: one query
    assert calls["salesforce.query"] + calls.get("salesforce.query_more", 0) == math.ceil(500 / 200) + 1 + 1


# (endpoint glob, kind, probability, count, arg): a sure count-limited burst, then random ones
FAULTS = {
    "concurrent-limit bursts": [  # 403 REQUEST_LIMIT_EXCEEDED: Salesforce sends no 429
        ("salesforce.query*", "concurrent", 1.0, 3, None),
        ("salesforce.query*", "concurrent", 0.2, None, None),
    ],
    "5xx": [("salesforce.query_more", "503", 1.0, 2, None), ("salesforce.query*", "500", 0.2, None, None)],
    "dropped connections": [
        ("salesforce.query", "drop", 1.0, 1, None),
        ("salesforce.query*", "drop", 0.2, None, None),
    ],
    "session expiry": [
        ("salesforce.query", "expire", 1.0, 1, None),
        ("salesforce.query_more", "expire", 1.0, 1, None),
    ],
}


@pytest.mark.parametrize("faults", list(FAULTS.values()), ids=list(FAULTS))
def test_reads_under_faults_lose_nothing_and_count_every_call(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator, faults: list
) -> None:
    contact = org.contact()
    expected = {
        org.deal(["Prospecting", "Closed Lost"], contacts=[contact], start=T0 + timedelta(seconds=i))
        for i in range(300)
    }
    for rule in faults:
        emu.faults.add(*rule)
    run = make(max_attempts=8)
    deals = list(run.connector.iter_deals(SINCE, page_size=200))
    assert [d.opportunity_id for d in deals] == sorted(
        expected, key=lambda i: (next(d.modified_at for d in deals if d.opportunity_id == i), i)
    )
    assert {d.opportunity_id for d in deals} == expected and len(deals) == 300
    assert all(d.contacts and d.contacts[0].contact_id == contact for d in deals)
    assert sum(emu.faults.injected.values()) > 0
    assert run.calls() == emulator_calls(emu)


def test_budget_stops_before_the_next_page(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    for i in range(450):
        org.deal(["Prospecting", "Closed Lost"], start=T0 + timedelta(seconds=i))
    emu.daily_limit = 1_000
    emu.api_used = 990  # 10 calls left, reserve 8: page 1 (query, history stream, stages) leaves 7
    run = make(daily_reserve=8)
    seen = []
    with pytest.raises(BudgetExhausted):
        for deal in run.connector.iter_deals(SINCE, page_size=200):
            seen.append(deal)
    assert len(seen) == 200
    assert run.connector.budget() == (emu.api_used, 1_000)
    assert emu.api_used == 993


def test_read_contacts_in_batches(make: Callable[..., Run], org: Org, emu: SalesforceEmulator) -> None:
    ids = [org.contact(email=f"c{i}@example.com") for i in range(620)]
    run = make()
    rows = list(run.connector.read_contacts(ids, ["Email", "HasOptedOutOfEmail"]))
    assert sorted(r["Id"] for r in rows) == sorted(ids)
    assert {r["Email"] for r in rows} == {f"c{i}@example.com" for i in range(620)}
    assert run.calls()["salesforce.query"] == math.ceil(620 / MAX_IN_IDS)


def test_read_current_maps_ids_to_field_values(make: Callable[..., Run], org: Org) -> None:
    ids = [org.contact(email=f"c{i}@example.com") for i in range(3)]
    run = make()
    current = run.connector.read_current([*ids, "003000000000000AAA"], ["Email", "HasOptedOutOfEmail"])
    assert current == {cid: {"Email": f"c{i}@example.com", "HasOptedOutOfEmail": False}
                       for i, cid in enumerate(ids)}
    assert run.connector.read_current(ids[:1], []) == {ids[0]: {}}


def test_values_with_quotes_are_escaped_in_queries(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator
) -> None:
    tricky = "x' OR Name != '"
    contact = org.contact(last="O'Brien", email="ob@example.com")
    org.deal(["Prospecting", "Closed Lost"], reason=None, contacts=[contact], name=tricky)
    opp = emu.store.all("Opportunity")[0]["Id"]
    emu.store.update("Opportunity", opp, {"Description": tricky}, at=T0 + timedelta(days=3))
    (deal,) = make().connector.iter_deals(SINCE)
    assert deal.name == tricky and deal.contacts[0].last_name.startswith("O'Brien")


@pytest.mark.parametrize("deleted_children", [True, False])
def test_a_deleted_deal_keeps_its_people_whatever_queryall_does_with_subqueries(
    make: Callable[..., Run], org: Org, emu: SalesforceEmulator, deleted_children: bool
) -> None:
    """Whether a queryAll subquery returns a deleted parent's (deleted) children is unverified: when it
    answers none, the deleted deal's roles are read by id, so its people still leave their groups."""
    person, other = org.contact(), org.contact()
    gone = org.deal(["Prospecting", "Closed Lost"], contacts=[person], name="gone")
    kept = org.deal(["Prospecting", "Closed Lost"], contacts=[other], name="kept")
    emu.store.delete("Opportunity", gone, at=T0 + timedelta(days=5))
    emu.engine.subquery_deleted_children = deleted_children
    run = make()
    by_id = {d.opportunity_id: d for d in run.connector.iter_deals(SINCE)}
    assert by_id[gone].is_deleted and [c.contact_id for c in by_id[gone].contacts] == [person]
    assert [c.contact_id for c in by_id[kept].contacts] == [other]
    # deals, history stream, stages; without deleted children also the deleted deal's roles by id;
    # the deleted deal's history always by id (a semi-join's inner query does not see it)
    assert run.calls()["salesforce.query"] == 4 + (not deleted_children)
