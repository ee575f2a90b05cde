"""Batch updates against the emulator: full batches, faults, 207 per-record results, exactly-once
writes, the daily budget and the 10-second pacing."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

import pytest

from connectors.base import BudgetExhausted, FieldUpdate
from connectors.hubspot.write import BATCH_UPDATE_SIZE
from connectors.pacing import VirtualClock
from sandbox.hubspot.timefmt import parse_ms

from .conftest import SEEDED, Hub, start_hub

STAGES = ("inquiry", "mql", "sql", "recycle")
CUSTOM = [
    {"name": "leadsync_stage", "label": "Stage", "type": "enumeration", "fieldType": "select",
     "groupName": "contactinformation", "options": [{"label": s, "value": s} for s in STAGES]},
    {"name": "leadsync_score", "label": "Score", "type": "number", "fieldType": "number",
     "groupName": "contactinformation"},
    {"name": "leadsync_lost_on", "label": "Lost on", "type": "date", "fieldType": "date",
     "groupName": "contactinformation"},
]


def seed(hub: Hub, n: int) -> list[str]:
    for definition in CUSTOM:
        hub.emu.store.create_property("contacts", definition)
    return [hub.emu.store.create_contact({"email": f"w{i}@example.com"}, at=SEEDED) for i in range(n)]


def updates_for(ids: list[str]) -> list[FieldUpdate]:
    return [FieldUpdate("contacts", cid, {"leadsync_stage": STAGES[i % 4], "leadsync_score": i})
            for i, cid in enumerate(ids)]


def assert_written_once(hub: Hub, ids: list[str]) -> None:
    """Each contact's stage was set exactly once, and nothing touched the contact afterwards (a
    second write of the same value would move lastmodifieddate past the change)."""
    with hub.emu.store.lock:
        for i, cid in enumerate(ids):
            contact = hub.emu.store.contact(int(cid))
            changes = [h for h in contact.history_of("leadsync_stage") if h[0] is not None]
            assert [h[0] for h in changes] == [STAGES[i % 4]], cid
            assert contact.values["leadsync_score"] == str(i)
            last_modified = parse_ms(contact.prop("lastmodifieddate") or "")
            assert last_modified == changes[0][1], f"contact {cid} was written again after its update"


def test_updates_go_in_full_batches_exactly_once(hub: Hub) -> None:
    ids = seed(hub, 250)
    results = hub.connector().update_fields(updates_for(ids))
    assert [r.record_id for r in results] == ids
    assert all(r.ok for r in results)
    assert hub.counted() == {"batch_update": 3, "properties": 1} == hub.calls()
    assert_written_once(hub, ids)


@pytest.mark.parametrize(
    ("kind", "probability", "count", "arg"),
    [
        ("429", 1.0, 4, "3"),  # a burst with Retry-After
        ("429", 1.0, 4, "none"),  # a burst without Retry-After: the rate window is waited out
        ("500", 0.3, None, None),
        ("503", 0.3, None, None),
        ("drop", 0.3, None, None),
        ("record", 0.05, None, "RATE_LIMITS"),  # retryable per-record failures in a 207
    ],
)
def test_updates_survive_faults(hub: Hub, kind: str, probability: float, count: int | None,
                                arg: str | None) -> None:
    ids = seed(hub, 450)
    hub.emu.faults.add("hubspot.batch_update", kind, probability, count, arg)
    results = hub.connector().update_fields(updates_for(ids))
    assert all(r.ok for r in results), [r for r in results if not r.ok][:3]
    assert sum(hub.emu.faults.injected.values()) > 0
    assert hub.counted() == hub.calls()
    assert_written_once(hub, ids)
    if kind == "record":  # only the failed records were resubmitted, in one extra batch per round
        assert 5 < hub.counted()["batch_update"] <= 5 + 3


@pytest.mark.parametrize("batch_errors", ["multi_status", "whole_batch"])
def test_per_record_failures_are_reported_never_taken_as_success(make_hub, batch_errors: str) -> None:  # noqa: ANN001
    hub: Hub = make_hub(batch_errors=batch_errors)
    ids = seed(hub, 120)
    store = hub.emu.store
    store.archive_contact(ids[3])
    store.merge_contacts(ids[4], ids[5])
    updates = updates_for(ids) + [
        FieldUpdate("contacts", "999999", {"leadsync_stage": "mql"}),  # never existed
        FieldUpdate("contacts", ids[10], {"leadsync_stage": "no-such-stage"}),  # merged with ids[10]'s
        FieldUpdate("contacts", ids[11], {"leadsync_lost_on": "not a date"}),  # HubSpot rejects it
        FieldUpdate("contacts", ids[12], {"no_such_property": "x"}),
        FieldUpdate("deals", "42", {"amount": 1}),
    ]
    results = hub.connector().update_fields(updates)
    assert len(results) == len(updates)
    failed = {r.record_id: r for r in results if not r.ok}
    assert {cid: failed[cid].error_code for cid in (ids[3], ids[5], "999999")} == dict.fromkeys(
        (ids[3], ids[5], "999999"), "RECORD_MISSING")
    assert failed[ids[10]].error_code == "INVALID_OPTION"  # checked here, never sent
    assert failed[ids[11]].error_code == "VALIDATION_ERROR"  # rejected by HubSpot in the 207
    assert failed[ids[12]].error_code == "PROPERTY_DOESNT_EXIST"
    assert failed["42"].error_code == "UNSUPPORTED_OBJECT"
    assert not any(r.retryable for r in failed.values())
    assert set(failed) == {ids[3], ids[5], "999999", ids[10], ids[11], ids[12], "42"}
    assert store.get_contact(ids[10])["properties"].get("leadsync_stage") is None
    good = [i for n, i in enumerate(ids) if n not in (3, 5, 10, 11, 12)]
    assert all(store.get_contact(i)["properties"].get("leadsync_stage") for i in good)  # all written
    if batch_errors == "multi_status":
        assert hub.counted()["batch_update"] == 2  # no resubmission of permanent failures
    else:  # 400 naming ids[3], ids[5]; 98 again: 400 naming none (ids[11]), bisected; 21: 400 naming
        # 999999, then 20 again
        assert 2 + 2 + 2 * 7 >= hub.counted()["batch_update"] > 4


def test_reserve_stops_the_run_between_batches(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub(daily_limit=1_000)
    ids = seed(hub, 500)
    # 999 left after the property read, 997 after two batches: below the reserve, so no third batch
    conn = hub.connector(daily_reserve=998)
    with pytest.raises(BudgetExhausted) as caught:
        conn.update_fields(updates_for(ids))
    done = caught.value.results  # type: ignore[attr-defined]
    assert len(done) == 2 * BATCH_UPDATE_SIZE and all(r.ok for r in done)
    assert_written_once(hub, ids[:200])
    assert all(hub.emu.store.get_contact(c)["properties"].get("leadsync_stage") is None for c in ids[200:])
    assert conn.budget() == (997, 1_000)  # stopped when fewer than the reserve were left
    assert hub.counted() == hub.calls() == {"properties": 1, "batch_update": 2}


def test_daily_limit_429_stops_the_run_cleanly(make_hub) -> None:  # noqa: ANN001
    hub: Hub = make_hub(daily_limit=3)
    ids = seed(hub, 500)
    with pytest.raises(BudgetExhausted):
        hub.connector(daily_reserve=0).update_fields(updates_for(ids))
    assert_written_once(hub, ids[:200])
    assert hub.counted() == hub.calls() == {"properties": 1, "batch_update": 3}  # the 3rd was refused


def test_writes_are_paced_to_the_ten_second_limit(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock(SEEDED.timestamp() + 86_400 * 30)
    hub = start_hub(clock, requests_per_10s=10)
    try:
        ids = seed(hub, 2_500)
        conn = hub.connector(requests_per_10s=10)
        starts: list[float] = []
        conn.pacing.requests.on_start = starts.append  # type: ignore[attr-defined]
        began = clock()
        with caplog.at_level(logging.WARNING, logger="connectors.retry"):
            results = conn.update_fields(updates_for(ids))
        assert all(r.ok for r in results)
        assert len(starts) == 26  # the property read + 25 batches
        assert max(sum(1 for s in starts if t <= s < t + 10.0) for t in starts) <= 10
        assert clock() - began >= 20.0  # 26 calls at 10 per 10 s need two full windows
        assert not caplog.records, "the emulator refused a paced call (429)"
        assert hub.counted() == hub.calls()
    finally:
        hub.server.stop()


def test_sets_and_clears_values_as_strings(hub: Hub) -> None:
    ids = seed(hub, 3)
    hub.emu.store.update_contact(ids[2], {"leadsync_score": "7"}, at=SEEDED + timedelta(days=1))
    results = hub.connector().update_fields([
        FieldUpdate("contacts", ids[0], {"leadsync_score": 12.0, "leadsync_lost_on": "2024-02-01"}),
        FieldUpdate("contacts", ids[1], {"leadsync_stage": "sql"}),
        FieldUpdate("contacts", ids[2], {"leadsync_score": None}),
    ])
    assert all(r.ok for r in results)
    props = [hub.emu.store.get_contact(c)["properties"] for c in ids]
    assert props[0]["leadsync_score"] == "12" and props[0]["leadsync_lost_on"] == "2024-02-01"
    assert props[1]["leadsync_stage"] == "sql"
    assert props[2].get("leadsync_score") is None
    assert math.isclose(hub.counted()["batch_update"], 1)
