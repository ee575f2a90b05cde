"""The stage history in the state store (SQLite file and PostgreSQL): moves and their causes, recycle
cycles, and one transaction per chunk."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.base import LostDeal
from sync.state.history import CycleFacts, DealOutcome, Standing
from sync.state.store import StateStore

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def st(key: str, stage: str = "inquiry", rank: str = "cold", group: str | None = None, *,
       facts: str = "f1", deal: str | None = None, cycle: CycleFacts | None = None,
       reengaged: date | None = None) -> Standing:
    return Standing(key, stage, rank, group, deal, facts, lambda: {"stage": f"{key} is {stage}"}, cycle,
                    reengaged_on=reengaged)


def record(store: StateStore, standings: list[Standing], at: datetime, *, rules: str = "r1",
           version: int = 1, run_id: int = 1) -> int:
    return store.record_standing(standings, run_id=run_id, at=at, mapping_version=version, rules_digest=rules)


def path(store: StateStore, key: str) -> list[tuple[str, str | None, str | None, str]]:
    return [(m.dimension, m.from_value, m.to_value, m.cause) for m in store.moves_of(key)]


def test_causes_first_facts_mapping_time(store: StateStore) -> None:
    assert record(store, [st("a"), st("b"), st("c")], T0) == 6  # stage and rank each; no group
    # a: their data changed and they moved; b: only the rules changed (version 2) and moved them;
    # c: nothing changed but time
    t1 = T0 + timedelta(days=3)
    assert record(store, [st("a", "mql", facts="f2")], t1, run_id=2) == 1
    assert record(store, [st("b", "mql")], t1, rules="r2", version=2, run_id=2) == 1
    assert record(store, [st("c", rank="warm")], t1, run_id=2) == 1
    assert path(store, "a")[-1] == ("stage", "inquiry", "mql", "facts")
    # each move knows the person's next move of the same dimension once it is recorded
    first_stage, first_rank, latest = store.moves_of("a")
    assert (first_stage.next_value, first_stage.next_at) == ("mql", t1)
    assert (first_rank.next_value, first_rank.next_at) == (None, None)  # the rank has not moved
    assert (latest.next_value, latest.next_at) == (None, None)
    assert path(store, "b")[-1] == ("stage", "inquiry", "mql", "mapping")
    assert path(store, "c")[-1] == ("rank", "cold", "warm", "time")
    b = store.moves_of("b")[-1]
    assert (b.at, b.run_id, b.mapping_version, b.why) == (t1, 2, 2, "b is mql")
    # standing unchanged but its inputs changed: no move, and the next move compares with the new inputs
    assert record(store, [st("c", rank="warm", facts="f9")], t1 + timedelta(days=1), run_id=3) == 0
    assert record(store, [st("c", "mql", rank="warm", facts="f9")], t1 + timedelta(days=2), run_id=4) == 1
    assert path(store, "c")[-1] == ("stage", "inquiry", "mql", "time")
    standing = store.standing_of("c")
    assert standing is not None and standing["changed_at"] == t1 + timedelta(days=2)


def test_a_chunk_is_recorded_whole_or_not_at_all(store: StateStore) -> None:
    record(store, [st("a"), st("b")], T0)

    def broken() -> dict[str, str]:
        raise RuntimeError("the process dies here")

    moving = [st("a", "mql", facts="f2"), replace(st("b", "mql", facts="f2"), why=broken)]
    with pytest.raises(RuntimeError):
        record(store, moving, T0 + timedelta(days=1), run_id=2)
    assert path(store, "a") == [("stage", None, "inquiry", "first"), ("rank", None, "cold", "first")]
    standing = store.standing_of("a")
    assert standing is not None and standing["stage"] == "inquiry"
    # the next run decides the same and records it once
    assert record(store, [st("a", "mql", facts="f2"), st("b", "mql", facts="f2")], T0 + timedelta(days=2),
                  run_id=3) == 2
    assert record(store, [st("a", "mql", facts="f2"), st("b", "mql", facts="f2")], T0 + timedelta(days=3),
                  run_id=4) == 0


def cycle(deal: str, *, promoted: bool = False, phase: str = "awareness") -> CycleFacts:
    return CycleFacts(deal, date(2025, 11, 20), "Price", phase, 5000.0, promoted)


def test_a_recycle_cycle_opens_is_promoted_and_closes(store: StateStore) -> None:
    record(store, [st("p", "recycle", group="low", deal="D1", cycle=cycle("D1"))], T0)
    t1, t2 = T0 + timedelta(days=10), T0 + timedelta(days=40)
    record(store, [st("p", "recycle", group="high", deal="D1", facts="f2",
                      cycle=cycle("D1", promoted=True), reengaged=date(2026, 1, 12))], t1, run_id=2)
    # a new deal is lost later, in a high phase: the first cycle closes, a second opens
    record(store, [st("p", "recycle", group="high", deal="D2", facts="f3",
                      cycle=replace(cycle("D2", phase="purchase"), lost_on=date(2026, 2, 1)))], t2, run_id=3)
    first, second = store.cycles_of("p")
    assert (first["deal_id"], first["first_group"], first["entered_at"], first["promoted_at"]) == (
        "D1", "low", T0, t1)
    assert first["reengaged_at"] == datetime(2026, 1, 12, tzinfo=UTC)
    assert (first["left_at"], first["group_now"]) == (t2, None)
    assert (second["deal_id"], second["first_group"], second["group_now"], second["left_at"]) == (
        "D2", "high", "high", None)
    assert second["promoted_at"] is None and second["phase"] == "purchase" and second["lost_amount"] == 5000.0
    # leaving recycling (say the deal was won back) closes the open cycle
    record(store, [st("p", "customer", facts="f4")], t2 + timedelta(days=5), run_id=4)
    assert [c["left_at"] for c in store.cycles_of("p")] == [t2, t2 + timedelta(days=5)]


def test_the_outcome_is_the_first_deal_opened_after_the_loss(store: StateStore) -> None:
    lost = cycle("D1")  # lost on 2025-11-20
    older = DealOutcome("D0", date(2025, 6, 1), "open", 10.0, "Prospecting", None)  # before the loss
    itself = DealOutcome("D1", date(2025, 9, 1), "lost", 5000.0, "Closed Lost", date(2025, 11, 20))
    later = DealOutcome("D3", date(2026, 3, 1), "open", 70.0, "Qualification", None)
    again = DealOutcome("D2", date(2026, 1, 2), "lost", 900.0, "Closed Lost", date(2026, 2, 2))
    record(store, [replace(st("p", "recycle", group="low", deal="D1", cycle=lost), deals=(older, itself))],
           T0)
    (c,) = store.cycles_of("p")
    assert c["new_deal_id"] is None  # nothing opened after the loss yet
    record(store, [replace(st("p", "recycle", group="low", deal="D1", cycle=lost),
                           deals=(older, itself, later, again))], T0 + timedelta(days=30), run_id=2)
    (c,) = store.cycles_of("p")
    # the first one opened after the loss: D2 (Jan 2), lost again on Feb 2
    assert (c["new_deal_id"], c["new_deal_opened_on"], c["new_deal_state"], c["new_deal_amount"],
            c["new_deal_closed_on"]) == ("D2", date(2026, 1, 2), "lost", 900.0, date(2026, 2, 2))
    # settled: a later change of another deal does not rewrite it
    record(store, [replace(st("p", "recycle", group="low", deal="D1", cycle=lost),
                           deals=(older, itself, replace(later, opened_on=date(2025, 12, 1)), again))],
           T0 + timedelta(days=31), run_id=3)
    assert store.cycles_of("p")[0]["new_deal_id"] == "D2"


def snapshot(opp: str, account: str | None, opened: date, *, state: str = "open", amount: float = 0.0,
             lost: date | None = None, won: date | None = None, deleted: bool = False) -> LostDeal:
    return LostDeal(opportunity_id=opp, name=opp, state=state, stage_name=state.title(),  # type: ignore[arg-type]
                    stage_at_loss=None, loss_reason=None, lost_date=lost, amount=amount, owner_id=None,
                    account_id=account, account_name=None, account_employees=None, account_industry=None,
                    contacts=(), is_deleted=deleted, close_date=won,
                    created_at=datetime(opened.year, opened.month, opened.day, 8, tzinfo=UTC),
                    modified_at=datetime((lost or won or opened).year, (lost or won or opened).month,
                                         (lost or won or opened).day, 18, tzinfo=UTC))


def test_without_a_contact_role_deal_the_outcome_is_the_first_deal_opened_on_the_lost_deals_account(
        store: StateStore) -> None:
    # p and q were lost on deals L1, L2 of account A1 (2025-11-20); q is also a contact role on C
    # (opened 2026-02-01). A1 gets N (2026-01-10, no contact roles), E (2025-10-01, before the losses)
    # and X (2025-12-01, deleted); account A2 gets M (2025-12-15).
    store.upsert_deals([
        snapshot("L1", "A1", date(2025, 9, 1), state="lost", lost=date(2025, 11, 20), amount=5000.0),
        snapshot("L2", "A1", date(2025, 9, 2), state="lost", lost=date(2025, 11, 20), amount=6000.0),
        snapshot("E", "A1", date(2025, 10, 1), amount=1.0),
        snapshot("X", "A1", date(2025, 12, 1), amount=2.0, deleted=True),
        snapshot("M", "A2", date(2025, 12, 15), amount=3.0),
        snapshot("N", "A1", date(2026, 1, 10), amount=800.0),
    ])
    c_deal = DealOutcome("C", date(2026, 2, 1), "open", 90.0, "Qualification", None)
    p = st("p", "recycle", group="low", deal="L1", cycle=cycle("L1"))
    q = replace(st("q", "recycle", group="low", deal="L2", cycle=cycle("L2")), deals=(c_deal,))
    record(store, [p, q], T0)
    (cp,), (cq,) = store.cycles_of("p"), store.cycles_of("q")
    # p: no deal of their own after the loss: N, the first opened on A1 after it (E is older, X deleted,
    # M on another account)
    assert (cp["new_deal_id"], cp["new_deal_opened_on"], cp["new_deal_amount"], cp["new_deal_state"],
            cp["new_deal_via"]) == ("N", date(2026, 1, 10), 800.0, "open", "account")
    # q: C, their own, although N was opened before it
    assert (cq["new_deal_id"], cq["new_deal_via"]) == ("C", "contact")

    # N is won on 2026-03-05: p's cycle follows it (still unsettled while open)
    store.upsert_deals([snapshot("N", "A1", date(2026, 1, 10), state="won", won=date(2026, 3, 5),
                                 amount=850.0)])
    record(store, [p, q], T0 + timedelta(days=70), run_id=2)
    (cp,) = store.cycles_of("p")
    assert (cp["new_deal_id"], cp["new_deal_state"], cp["new_deal_amount"], cp["new_deal_closed_on"],
            cp["new_deal_via"]) == ("N", "won", 850.0, date(2026, 3, 5), "account")

    # p then opens a deal of their own (2026-04-01): their own deal comes first, even after N closed
    own = DealOutcome("P", date(2026, 4, 1), "open", 40.0, "Prospecting", None)
    record(store, [replace(p, deals=(own,)), q], T0 + timedelta(days=90), run_id=3)
    (cp,) = store.cycles_of("p")
    assert (cp["new_deal_id"], cp["new_deal_state"], cp["new_deal_via"]) == ("P", "open", "contact")
