"""The loss analysis drill-down (sync.views.loss_drill) and trend by quarter (sync.views.loss_trend)
over a hand-built set of deal snapshots, on both backends: every heat-map cell lists exactly the deals
it counts (spellings of a stage or reason with spaces around them, no reason, unmapped stages
included; deleted and won deals left out), a page at a time; the quarters' numbers as worked out here."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.base import DealContact, LostDeal
from mappings import Mapping
from sync.inputs import load_mapping_file
from sync.state.store import StateStore
from sync.views.loss_drill import cell_deals
from sync.views.loss_trend import NEITHER, OTHER, loss_trend
from sync.views.report import Tally, build_report

HOSTILE = 'A & B "<script>alert(1)</script>'
PRICE = "Price"


def _deal(i: int, stage: str | None, reason: str | None, lost: date | None, amount: float | None, *,
          state: str = "lost", deleted: bool = False, people: int = 1) -> LostDeal:
    return LostDeal(
        opportunity_id=f"006{i:04d}", name=f"Deal {i}", state=state,  # type: ignore[arg-type]
        stage_name="Closed Lost", stage_at_loss=stage, loss_reason=reason, lost_date=lost, amount=amount,
        owner_id=None, account_id=None, account_name=None, account_employees=None, account_industry=None,
        contacts=tuple(DealContact(f"003{i:04d}{k}", f"p{i}.{k}@example.com", "太郎", f"山田{i}", False,
                                   k == 0) for k in range(people)),
        modified_at=datetime(2026, 9, 1, tzinfo=UTC), is_deleted=deleted)


# (id, stage at loss, loss reason, lost date, amount); Prospecting is awareness (a low phase),
# Negotiation/Review and Proposal/Price Quote purchase (high), Qualification interest (low)
WORLD = [
    _deal(1, "Prospecting", PRICE, date(2026, 1, 15), 1000, people=2),
    _deal(2, " Prospecting ", PRICE, date(2026, 3, 31), 2000),
    _deal(3, "Prospecting", f" {PRICE} ", date(2026, 7, 1), 4000),
    _deal(4, "Negotiation/Review", PRICE, date(2026, 2, 1), 8000),
    _deal(5, "Negotiation/Review", PRICE, date(2025, 12, 31), 16000),
    _deal(6, "Proposal/Price Quote", HOSTILE, date(2026, 7, 15), 32000),
    _deal(7, None, None, date(2026, 4, 1), 64000),
    _deal(8, "Weird stage", "  ", date(2026, 4, 2), None, people=0),
    _deal(9, "Qualification", "Timing", None, 128000),
    _deal(10, "Prospecting", PRICE, date(2026, 1, 20), 256000, deleted=True),  # not counted
    _deal(11, "Prospecting", PRICE, date(2026, 1, 20), 512000, state="won"),  # not counted
]
# the deals of each cell, as this world was built
CELLS = {("awareness", PRICE): ["0060001", "0060002", "0060003"], ("purchase", PRICE): ["0060004", "0060005"],
         ("purchase", HOSTILE): ["0060006"], ("unmapped", "(none)"): ["0060007", "0060008"],
         ("interest", "Timing"): ["0060009"]}


@pytest.fixture
def world(store: StateStore) -> tuple[StateStore, Mapping]:
    store.upsert_deals(WORLD)
    return store, load_mapping_file(None)


def test_every_cell_lists_exactly_the_deals_it_counts(world: tuple[StateStore, Mapping]) -> None:
    store, mapping = world
    table = build_report(store, mapping).lost
    counted = {key: t.deals for key, t in table.cells.items() if t.deals}
    assert counted == {key: len(ids) for key, ids in CELLS.items()}
    for (phase, reason), ids in CELLS.items():
        page = cell_deals(store, mapping, phase, reason)
        assert [d.opportunity_id for d in page.rows] == ids
        assert page.deals == table.cell(phase, reason).deals == len(ids)
        assert page.amount == table.cell(phase, reason).amount and page.next_after is None
    first = cell_deals(store, mapping, "awareness", PRICE, limit=2).rows[0]
    assert (first.amount, first.lost_on, first.stage_at_loss) == (1000, date(2026, 1, 15), "Prospecting")
    assert [(p.person_key, p.name) for p in first.people] == [
        ("p1.0@example.com", "山田1 太郎"), ("p1.1@example.com", "山田1 太郎")]
    assert cell_deals(store, mapping, "unmapped", "(none)").rows[1].people == ()
    empty = cell_deals(store, mapping, "comparison", PRICE)
    assert (empty.deals, empty.rows, empty.next_after) == (0, [], None)


def test_a_cell_is_paged_by_deal_id(world: tuple[StateStore, Mapping]) -> None:
    store, mapping = world
    first = cell_deals(store, mapping, "awareness", PRICE, limit=2)
    assert [d.opportunity_id for d in first.rows] == ["0060001", "0060002"] and first.next_after == "0060002"
    rest = cell_deals(store, mapping, "awareness", PRICE, after=first.next_after, limit=2)
    assert [d.opportunity_id for d in rest.rows] == ["0060003"] and rest.next_after is None
    assert first.deals == rest.deals == 3


def test_the_trend_by_quarter(world: tuple[StateStore, Mapping]) -> None:
    store, mapping = world
    trend = loss_trend(store, mapping, top=2)
    groups = trend.by_group
    assert [(r.year, r.quarter) for r in groups.rows] == [(2025, 4), (2026, 1), (2026, 2), (2026, 3)]
    assert [{s: r.cell(s) for s in groups.series if r.cell(s).deals} for r in groups.rows] == [
        {"high": Tally(1, 16000)},
        {"high": Tally(1, 8000), "low": Tally(2, 3000)},
        {NEITHER: Tally(2, 64000)},
        {"high": Tally(1, 32000), "low": Tally(1, 4000)}]
    assert [r.total for r in groups.rows] == [Tally(1, 16000), Tally(3, 11000), Tally(2, 64000),
                                              Tally(2, 36000)]
    # dated reasons: Price 5 deals, (none) 2, the hostile one 1 (with the rest, past the top two)
    reasons = trend.by_reason
    assert reasons.series == (PRICE, "(none)", OTHER)
    assert [{s: r.cell(s) for s in reasons.series if r.cell(s).deals} for r in reasons.rows] == [
        {PRICE: Tally(1, 16000)}, {PRICE: Tally(3, 11000)}, {"(none)": Tally(2, 64000)},
        {PRICE: Tally(1, 4000), OTHER: Tally(1, 32000)}]
    assert trend.undated == Tally(1, 128000)
    assert loss_trend(store, mapping).by_reason.series == (PRICE, "(none)", HOSTILE)  # all within the top


def test_no_lost_deal_no_trend(store: StateStore) -> None:
    trend = loss_trend(store, load_mapping_file(None))
    assert trend.by_group.rows == [] and trend.by_reason.rows == [] and trend.undated == Tally()
