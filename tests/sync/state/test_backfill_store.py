"""The history backfill's store side on a SQLite file and on PostgreSQL: reconstructed moves, their flow
rows and the seeded recycle cycle, a range of one person at a time, and nothing changed the second time.
Expected values are worked out from the hand-made dates below and the bundled mapping (lead -> inquiry,
marketingqualifiedlead -> mql; recycle.wait_days = 30)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from connectors.base import ContactRef
from mappings import load_mapping_text
from mappings.emails import parse_email
from sync.run.backfill import backfill
from sync.state.history import CycleFacts, Standing
from sync.state.store import StateStore

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # the first run
DAY = timedelta(days=1)
MAPPING = load_mapping_text((Path(__file__).resolve().parents[3] / "mappings" / "default.toml")
                            .read_text(encoding="utf-8"), "default.toml")


def key(email: str) -> str:
    k = parse_email(email)[0]
    assert k is not None
    return k


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_backfill_in_ranges_of_one_person_and_again(store: StateStore) -> None:
    lead, mql = datetime(2025, 11, 20, 8, 0, tzinfo=UTC), datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
    lost = date(2026, 1, 2)
    store.upsert_contacts("hubspot", [
        ContactRef("1", "ann@x.test", {"email": "ann@x.test", "hs_lifecyclestage_lead_date": iso(lead),
                                       "hs_lifecyclestage_marketingqualifiedlead_date": iso(mql),
                                       "hs_lifecyclestage_subscriber_date": None}, T0),
        ContactRef("2", "ben@x.test", {"email": "ben@x.test", "hs_lifecyclestage_lead_date": None}, T0)])
    cycle = CycleFacts("006A", lost, "Price", "purchase", 1000.0)
    store.record_standing([
        Standing(key("ann@x.test"), "mql", "cold", None, None, "f", lambda: {}),
        Standing(key("ben@x.test"), "sal", "cold", None, None, "f", lambda: {}),
        Standing(key("cy@x.test"), "recycle", "warm", "high", "006A", "f", lambda: {}, cycle)],
        run_id=None, at=T0, mapping_version=1, rules_digest="r")

    summary = backfill(store, MAPPING, size=1)

    lost_at, eligible = datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
    moves = [(m.person_key, m.dimension, m.from_value, m.to_value, m.at, m.next_value, m.next_at)
             for m in store.iter_moves() if m.cause == "backfill"]
    ann, cy = key("ann@x.test"), key("cy@x.test")
    assert sorted(moves, key=lambda m: (m[0], m[1], m[4])) == [
        (ann, "stage", None, "inquiry", lead, "mql", mql),
        (ann, "stage", "inquiry", "mql", mql, None, None),
        (cy, "group", None, "waiting", lost_at, "high", eligible),
        (cy, "group", "waiting", "high", eligible, None, None),
        (cy, "stage", None, "recycle", lost_at, None, None)]
    assert Counter({r[:4]: r[4] for r in store.flow_rows()}) == Counter({
        ("2025-11", "inquiry", "mql", 56): 1, ("2026-01", "mql", "", -1): 1,
        ("2026-01", "recycle", "", -1): 1})
    (seeded,) = store.cycles_of(cy)
    # entered at the loss; still counted in the group it was first worked in
    assert (seeded["entered_at"], seeded["first_group"]) == (lost_at, "high")
    assert dict(summary.not_reconstructed) == {"ranks_before_first_run": 3, "no_lifecycle_dates": 1,
                                               "stage_only_undated_sources": 1, "no_hubspot_contact": 1,
                                               "promotions_and_tasks_before_leadsync": 1}
    # the mapping names other lifecycle values whose dates no snapshot holds: they are not properties
    assert "salesqualifiedlead" in summary.stages_without_date_property

    before = (list(store.iter_moves()), store.flow_rows(), list(store.iter_cycles()))
    again = backfill(store, MAPPING, size=2)
    assert (again.already_backfilled, again.backfilled) == (2, 0)
    assert (list(store.iter_moves()), store.flow_rows(), list(store.iter_cycles())) == before
