"""Recycle groups, nurture lists and call tasks under the default mapping (table-driven)."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta
from typing import Any

import pytest

from mappings import Mapping
from mappings.engine import _make_assignment, assign
from mappings.facts import Assignment, DealFacts, Reason, TaskSpec
from tests.mappings.mapping_helpers import NOW, TODAY, lost, person


def day(days_ago: int) -> date:
    return TODAY - timedelta(days=days_ago)


def iso(d: date, hour: int = 10) -> str:
    return f"{d.isoformat()}T{hour:02d}:00:00Z"


def deal(state: str, deal_id: str, closed_days_ago: int | None = None, **extra: Any) -> DealFacts:
    closed = day(closed_days_ago) if closed_days_ago is not None else None
    return DealFacts(
        deal_id=deal_id,
        state=state,
        stage_at_loss=None,
        loss_reason=None,
        lost_on=None,  # type: ignore[arg-type]
        closed_on=closed,
        **extra,
    )


@pytest.mark.parametrize(
    ("deals", "values", "group", "deal_id"),
    [
        pytest.param((), {}, None, None, id="no-deals"),
        pytest.param(
            (lost(30),), {}, "high", "006000000000001AAA", id="purchase-exactly-30-days-is-eligible"
        ),
        pytest.param((lost(29),), {}, "waiting", "006000000000001AAA", id="29-days-waits"),
        pytest.param((lost(0),), {}, "waiting", "006000000000001AAA", id="lost-today-waits"),
        pytest.param((lost(-3),), {}, "waiting", "006000000000001AAA", id="lost-date-in-the-future-waits"),
        pytest.param((lost(730),), {}, "high", "006000000000001AAA", id="exactly-max-age-still-recycled"),
        pytest.param((lost(731),), {}, None, None, id="older-than-max-age-not-recycled"),
        pytest.param(
            (lost(60, "Value Proposition"),), {}, "high", "006000000000001AAA", id="comparison-high"
        ),
        pytest.param((lost(60, "Id. Decision Makers"),), {}, "high", "006000000000001AAA", id="comparison-2"),
        pytest.param((lost(60, "Negotiation/Review"),), {}, "high", "006000000000001AAA", id="purchase-high"),
        pytest.param((lost(60, "Prospecting"),), {}, "low", "006000000000001AAA", id="awareness-low"),
        pytest.param((lost(60, "Qualification"),), {}, "low", "006000000000001AAA", id="interest-low"),
        pytest.param((lost(60, "Needs Analysis"),), {}, "low", "006000000000001AAA", id="info-gathering-low"),
        pytest.param(
            (lost(60, " Needs Analysis "),), {}, "low", "006000000000001AAA", id="stage-spaces-ignored"
        ),
        pytest.param((lost(60, reason="Duplicate"),), {}, "excluded", "006000000000001AAA", id="duplicate"),
        pytest.param((lost(60, reason="Spam"),), {}, "excluded", "006000000000001AAA", id="spam"),
        pytest.param(
            (lost(60, reason=" invalid contact "),),
            {},
            "excluded",
            "006000000000001AAA",
            id="exclusion-ignores-case-and-spaces",
        ),
        pytest.param(
            (lost(5, reason="Spam"),), {}, "excluded", "006000000000001AAA", id="excluded-even-while-waiting"
        ),
        pytest.param((lost(60, reason="予算不足"),), {}, "high", "006000000000001AAA", id="japanese-budget"),
        pytest.param(
            (lost(60, reason="競合採用"),), {}, "high", "006000000000001AAA", id="japanese-competitor"
        ),
        pytest.param((lost(60, reason="時期尚早"),), {}, "high", "006000000000001AAA", id="japanese-timing"),
        pytest.param((lost(60, reason=None),), {}, "high", "006000000000001AAA", id="no-loss-reason"),
        pytest.param((lost(60, "Legacy Stage"),), {}, "review", "006000000000001AAA", id="unmapped-stage"),
        pytest.param((lost(60, "提案"),), {}, "review", "006000000000001AAA", id="unmapped-japanese-stage"),
        pytest.param((lost(60, None),), {}, "review", "006000000000001AAA", id="unknown-stage-at-loss"),
        pytest.param(
            (lost(10, "Legacy Stage"),), {}, "review", "006000000000001AAA", id="review-before-waiting"
        ),
    ],
)
def test_recycle_group_of_one_lost_deal(
    default_mapping: Mapping,
    deals: tuple[DealFacts, ...],
    values: dict[str, Any],
    group: str | None,
    deal_id: str | None,
) -> None:
    assigned = assign(person(deals=deals, **values), default_mapping, NOW)
    assert (assigned.recycle_group, assigned.deal_id) == (group, deal_id)
    assert (assigned.stage == "recycle") == (group in ("high", "low", "waiting"))


@pytest.mark.parametrize(
    ("stage", "review"),
    [
        ("Legacy Stage", ("salesforce.opportunity_stage=Legacy Stage",)),
        ("提案", ("salesforce.opportunity_stage=提案",)),
        (None, ("salesforce.opportunity_stage=<unknown>",)),
    ],
)
def test_unmapped_stage_at_loss_is_counted_for_review(
    default_mapping: Mapping, stage: str | None, review: tuple[str, ...]
) -> None:
    assert assign(person(deals=(lost(60, stage),)), default_mapping, NOW).review == review


@pytest.mark.parametrize(
    ("event", "when", "group"),
    [
        pytest.param("hubspot__hs_email_last_click_date", iso(day(59)), "high", id="click-day-after-loss"),
        pytest.param("hubspot__hs_email_last_click_date", iso(day(60), 23), "low", id="click-on-loss-day"),
        pytest.param("hubspot__hs_email_last_click_date", iso(day(61)), "low", id="click-before-loss"),
        pytest.param("hubspot__recent_conversion_date", iso(day(1)), "high", id="download-after-loss"),
        pytest.param("hubspot__hs_email_last_open_date", iso(day(1)), "low", id="open-does-not-promote"),
        pytest.param(
            "hubspot__hs_analytics_last_visit_timestamp", iso(day(1)), "low", id="visit-does-not-promote"
        ),
        pytest.param(
            "hubspot__hs_email_last_click_date", "garbage", "low", id="unreadable-date-no-promotion"
        ),
        pytest.param(
            "hubspot__hs_email_last_click_date",
            str(int((NOW - timedelta(days=2)).timestamp() * 1000)),
            "high",
            id="epoch-ms-after-loss",
        ),
    ],
)
def test_low_is_promoted_by_engagement_after_the_loss(
    default_mapping: Mapping, event: str, when: str, group: str
) -> None:
    assigned = assign(person(deals=(lost(60, "Qualification"),), **{event: when}), default_mapping, NOW)
    assert assigned.recycle_group == group
    assert (assigned.task is not None) == (group == "high")


@pytest.mark.parametrize(
    ("deals", "group", "deal_id"),
    [
        pytest.param(
            (lost(400, "Proposal/Price Quote", deal_id="006A"), lost(40, "Prospecting", deal_id="006B")),
            "low",
            "006B",
            id="most-recent-loss-decides",
        ),
        pytest.param(
            (lost(40, "Prospecting", deal_id="006B"), lost(400, "Proposal/Price Quote", deal_id="006A")),
            "low",
            "006B",
            id="order-of-deals-does-not-matter",
        ),
        pytest.param(
            (lost(400, deal_id="006A"), lost(40, reason="Duplicate", deal_id="006B")),
            "excluded",
            "006B",
            id="a-newer-excluded-loss-overrides",
        ),
        pytest.param(
            (lost(400, deal_id="006A"), lost(10, deal_id="006B")),
            "waiting",
            "006B",
            id="newer-loss-still-waiting",
        ),
        pytest.param(
            (lost(60, "Prospecting", deal_id="006A"), lost(60, "Negotiation/Review", deal_id="006B")),
            "high",
            "006B",
            id="same-day-larger-id-wins",
        ),
        pytest.param((lost(900, deal_id="006A"), lost(800, deal_id="006B")), None, None, id="all-too-old"),
        pytest.param(
            (lost(60, deal_id="006A"), deal("won", "006W", closed_days_ago=10)),
            None,
            None,
            id="won-after-the-loss",
        ),
        pytest.param(
            (lost(60, deal_id="006A"), deal("won", "006W", closed_days_ago=60)),
            None,
            None,
            id="won-on-the-loss-day",
        ),
        pytest.param(
            (lost(60, deal_id="006A"), deal("won", "006W", closed_days_ago=61)),
            "high",
            "006A",
            id="won-before-the-loss",
        ),
        pytest.param((lost(60, deal_id="006A"), deal("won", "006W")), None, None, id="won-date-unknown"),
        pytest.param((lost(60, deal_id="006A"), deal("open", "006O")), None, None, id="open-deal"),
        pytest.param((deal("won", "006W", closed_days_ago=5),), None, None, id="only-won"),
        pytest.param(
            (DealFacts("006N", "lost", "Prospecting", "Price", None),),
            None,
            None,
            id="lost-without-date-ignored",
        ),
        pytest.param(
            (DealFacts("006N", "lost", "Prospecting", "Price", None), lost(60, deal_id="006A")),
            "high",
            "006A",
            id="undated-loss-beside-a-dated-one",
        ),
    ],
)
def test_several_deals(
    default_mapping: Mapping, deals: tuple[DealFacts, ...], group: str | None, deal_id: str | None
) -> None:
    assigned = assign(person(deals=deals), default_mapping, NOW)
    assert (assigned.recycle_group, assigned.deal_id) == (group, deal_id)


def test_a_lost_deal_without_date_is_sent_for_review(default_mapping: Mapping) -> None:
    assigned = assign(
        person(deals=(DealFacts("006N", "lost", "Prospecting", "Price", None),)), default_mapping, NOW
    )
    assert assigned.review == ("deal 006N: lost without a lost date",)


@pytest.mark.parametrize(
    ("deals", "opted_out", "values", "nurture"),
    [
        pytest.param(
            (),
            False,
            {"hubspot__hs_email_open": "6", "hubspot__hs_analytics_num_page_views": "10"},
            "hot",
            id="hot-rank-list",
        ),
        pytest.param((), False, {"hubspot__hs_email_open": "3"}, "warm", id="warm-rank-list"),
        pytest.param((), False, {}, "cold", id="cold-rank-list"),
        pytest.param((), True, {}, None, id="opted-out-cold-is-on-no-email-list"),
        pytest.param((), False, {"hubspot__hs_email_optout": "true"}, None, id="hubspot-optout"),
        pytest.param((), False, {"hubspot__hs_email_optout": "TRUE"}, None, id="hubspot-optout-upper"),
        pytest.param(
            (), False, {"salesforce__Contact__HasOptedOutOfEmail": True}, None, id="salesforce-optout"
        ),
        pytest.param((), False, {"hubspot__hs_email_optout": "false"}, "cold", id="not-opted-out"),
        pytest.param(
            (), False, {"hubspot__hs_email_optout": "maybe"}, None, id="unreadable-optout-is-opted-out"
        ),
        pytest.param((), True, {"hubspot__hs_email_open": "3"}, "warm", id="opted-out-stays-on-call-list"),
        pytest.param((lost(60, "Prospecting"),), False, {}, "recycle_low", id="low-goes-on-email-nurture"),
        pytest.param((lost(60, "Prospecting"),), True, {}, None, id="opted-out-low-on-no-list"),
        pytest.param((lost(60),), False, {}, "recycle_high", id="high-on-the-sales-follow-up-list"),
        pytest.param((lost(60),), True, {}, "recycle_high", id="opted-out-high-still-called"),
        pytest.param((lost(5),), False, {"hubspot__hs_email_open": "9"}, None, id="waiting-on-no-list"),
        pytest.param((lost(60, reason="Spam"),), False, {}, None, id="excluded-on-no-list"),
        pytest.param((lost(60, "Legacy Stage"),), False, {}, "cold", id="review-keeps-its-rank-list"),
    ],
)
def test_nurture_list(
    default_mapping: Mapping,
    deals: tuple[DealFacts, ...],
    opted_out: bool,
    values: dict[str, Any],
    nurture: str | None,
) -> None:
    assigned = assign(person(deals=deals, opted_out=opted_out, **values), default_mapping, NOW)
    assert assigned.nurture_list == nurture


def test_call_task_for_the_high_group(default_mapping: Mapping) -> None:
    lost_deal = lost(
        45,
        "Needs Analysis",
        reason="予算不足",
        deal_id="006000000000042AAA",
        amount=1234567.0,
        owner_id="005000000000007AAA",
        name="山田商事 - 基幹システム",
    )
    someone = person(
        "田中@例え.jp",
        deals=(lost_deal,),
        hubspot__num_conversion_events="2",
        hubspot__recent_conversion_date=iso(day(3)),
        hubspot__hs_email_open="1",
        hubspot__hs_email_last_open_date=iso(day(50)),
    )
    task = assign(someone, default_mapping, NOW).task
    assert isinstance(task, TaskSpec)
    assert task.deal_id == "006000000000042AAA"
    assert task.owner_id == "005000000000007AAA"
    assert task.due_on == TODAY + timedelta(days=3)
    assert task.subject == "Recycle: call back about 山田商事 - 基幹システム"
    assert task.description.splitlines() == [
        "Lost deal: 山田商事 - 基幹システム (006000000000042AAA), amount 1,234,567",
        "Stage at loss: Needs Analysis (phase: information_gathering)",
        "Loss reason: 予算不足",
        f"Lost on: {day(45)} (45 days ago)",
        f"Engagement since the loss: downloads and form submissions (last {day(3)})",
        "Score now: 65 (hot)",  # 60 x 0.5^(2.96/90) + 10 x 0.5^(49.96/90) = 58.65 + 6.80
    ]


def test_cycle_key_is_stable_across_runs_and_distinct_per_loss(default_mapping: Mapping) -> None:
    someone = person(deals=(lost(45),))
    first = assign(someone, default_mapping, NOW).task
    later = assign(someone, default_mapping, NOW + timedelta(days=20)).task
    assert first is not None and later is not None
    assert first.cycle_key == later.cycle_key
    assert first.due_on != later.due_on
    assert first.cycle_key.startswith(f"006000000000001AAA:{day(45).isoformat()}:")
    other_person = assign(person("bob@example.com", deals=(lost(45),)), default_mapping, NOW).task
    other_loss = assign(person(deals=(lost(46),)), default_mapping, NOW).task
    assert other_person is not None and other_loss is not None
    assert len({first.cycle_key, other_person.cycle_key, other_loss.cycle_key}) == 3
    assert "@" not in first.cycle_key


def test_no_task_outside_the_high_group(default_mapping: Mapping) -> None:
    for deals in [(), (lost(5),), (lost(60, "Prospecting"),), (lost(60, reason="Spam"),), (lost(60, "X"),)]:
        assert assign(person(deals=deals), default_mapping, NOW).task is None


def test_a_person_without_email_is_assigned_by_key(default_mapping: Mapping) -> None:
    assigned = assign(person("salesforce:003000000000001AAA", deals=(lost(60),)), default_mapping, NOW)
    assert (assigned.key, assigned.recycle_group) == ("salesforce:003000000000001AAA", "high")


def test_every_assignment_carries_the_mapping_version(default_mapping: Mapping) -> None:
    assert assign(person(), default_mapping, NOW).mapping_version == default_mapping.version


def test_recycle_explanation_names_the_deal_and_the_rule(default_mapping: Mapping) -> None:
    deals = (lost(45, "Qualification", reason="時期尚早", name="佐藤工業"),)
    assigned = assign(
        person(deals=deals, hubspot__hs_email_last_click_date=iso(day(2))), default_mapping, NOW
    )
    texts = [r.text for r in assigned.reasons if r.rule == "recycle"]
    assert texts == [
        f'Deal "佐藤工業" (006000000000001AAA) was lost at "Qualification" (phase interest, in '
        f"recycle.low) on {day(45)}, but email clicks happened after the loss (last on {day(2)}, "
        "recycle.promote_on): promoted to group high"
    ]


def test_fast_constructor_matches_the_dataclass() -> None:
    values = ("k", "mql", 61, "hot", "high", "hot", None, 3, "006", (Reason("r", 1.0, "t"),), ("x=y",))
    assert len(values) == len(fields(Assignment))
    assert _make_assignment(*values) == Assignment(*values)  # type: ignore[arg-type]


def test_lazy_reasons_behave_like_plain_ones() -> None:
    lazy = Reason.lazy("score.fit.x", 2.0, "{}: {:+d} points", "size", 2)
    plain = Reason("score.fit.x", 2.0, "size: +2 points")
    assert lazy == plain and hash(lazy) == hash(plain)
    assert lazy.text == "size: +2 points"
    assert tuple(lazy) == ("score.fit.x", 2.0, "size: +2 points")
    assert lazy._asdict() == {"rule": "score.fit.x", "points": 2.0, "text": "size: +2 points"}
    assert repr(lazy) == "Reason(rule='score.fit.x', points=2.0, text='size: +2 points')"


@pytest.mark.parametrize(
    ("source", "shown"),
    [("history", " (entered closed-lost, from stage history)"),
     ("close_date", " (CloseDate: no stage history)"), (None, "")],
)
def test_the_explanation_says_how_the_lost_date_was_found(
    default_mapping: Mapping, source: str | None, shown: str
) -> None:
    assigned = assign(person(deals=(lost(5, lost_on_source=source),)), default_mapping, NOW)
    (text,) = [r.text for r in assigned.reasons if r.rule == "recycle"]
    assert f"was lost on {day(5)}{shown}; recycle.wait_days = 30" in text


def test_the_task_names_its_former_close_date_key(default_mapping: Mapping) -> None:
    """The key an earlier leadsync used (CloseDate as lost date) rides along, so sync can see that this
    loss already has its task; none when the two dates agree."""
    moved = assign(person(deals=(lost(45, lost_on_source="history", close_date=day(60)),)),
                   default_mapping, NOW)
    assert moved.task is not None and moved.task.lost_on == day(45)
    assert moved.task.cycle_key.startswith(f"006000000000001AAA:{day(45)}:")
    assert moved.task.former_cycle_key == moved.task.cycle_key.replace(str(day(45)), str(day(60)))
    same = assign(person(deals=(lost(45, lost_on_source="history", close_date=day(45)),)),
                  default_mapping, NOW)
    assert same.task is not None and same.task.former_cycle_key is None
