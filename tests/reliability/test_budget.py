"""Budget: a system's daily API allowance runs out partway through a run (its emulator's daily limit
set just short of what a full run needs). With a small `daily_reserve` leadsync stops itself before
the reserve is touched; with no reserve the system refuses a call (Salesforce 403
REQUEST_LIMIT_EXCEEDED, HubSpot 429 with policy DAILY). Either way the `leadsync sync`
command stops cleanly — status budget_stopped, exit code 1 — with what it did in the run's counts and
in the checkpoint tables (which then agree exactly with both systems), and no watermark moved. Once
the allowance resets, the next run completes the rest without redoing what was done, and both systems
end as after an uninterrupted run."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.reliability.conftest import References
from tests.reliability.harness import HS_DEFAULT_LIMIT, SF_DEFAULT_LIMIT, Harness
from tests.reliability.sf_writes import RecordWrite, on_record_writes
from tests.reliability.state_compare import FinalState, checkpoint_mismatches, differences

pytestmark = pytest.mark.slow  # seconds per test: `pytest -m "not slow"` skips it in a quick loop

# HubSpot: the allowance runs out this many calls before a full run's last one. Salesforce: right after
# the call that carries the run's first write of a person's record (`_calibrate`): its few write calls
# (campaigns created up front, member batches that mix campaigns) all come in a full run's last calls.
SHORT_BY = 5


def _reset_usage(h: Harness) -> None:
    """A new day in both emulators: nothing used yet today."""
    with h.box.salesforce._usage_lock:
        h.box.salesforce.api_used = 0
    h.box.hubspot.limiter.reset()


def _usage(h: Harness, system: str) -> int:
    """Calls counted against today's allowance so far."""
    if system == "salesforce":
        return h.box.salesforce.api_used
    return sum(h.box.hubspot.calls.snapshot().values())  # no call is refused in a clean run


def _set_limit(h: Harness, system: str, limit: int) -> None:
    if system == "salesforce":
        h.box.salesforce.daily_limit = limit
    else:
        h.box.hubspot.limiter.daily_limit = limit


def _writes(state: FinalState, system: str) -> int:
    """leadsync's values, members and tasks in one system."""
    if system == "salesforce":
        fields = sum(v is not None for rec in state.sf_contacts.values() for v in rec.values())
        return fields + sum(len(m) for m in state.campaigns.values()) + len(state.tasks)
    fields = sum(v not in (None, "") for rec in state.hs_contacts.values() for v in rec.values())
    return fields + sum(len(m) for m in state.hs_lists.values())


def _calibrate(h: Harness, system: str) -> tuple[int, int]:
    """A full run: (the calls it counts against the allowance, how many of them the stopped run may
    use). Salesforce: up to and including the call that writes the run's first person's record (a
    Contact field update, a campaign member or a call task), keyed on what the call writes."""
    first: list[int] = []

    def hook(write: RecordWrite) -> None:
        if write.for_people and not first:
            first.append(h.box.salesforce.api_used)  # this call is already counted

    with on_record_writes(h.box.salesforce.store, hook):
        assert h.run().status == "ok"
    needed = _usage(h, system)
    if system == "salesforce":
        assert first, "the full run wrote no person's record"
        return needed, first[0]
    return needed, needed - SHORT_BY


def _prepare(h: Harness, reserve: int) -> None:
    h.load()
    h.fresh_state()
    h.configure(salesforce={"daily_reserve": reserve}, hubspot={"daily_reserve": reserve})
    h.setup()
    h.box.hubspot.calls.reset()
    _reset_usage(h)


@pytest.mark.parametrize("reserve", [3, 0], ids=["reserve", "hard-limit"])
@pytest.mark.parametrize("system", ["salesforce", "hubspot"])
def test_daily_limit_reached_mid_run_stops_cleanly_and_the_next_day_finishes(
        harness: Harness, references: References, system: str, reserve: int) -> None:
    expected = references.get()

    # calibration: what a full run uses of this system's allowance, and where the stop is to come
    _prepare(harness, reserve)
    needed, usable = _calibrate(harness, system)
    assert 1 < usable < needed

    _prepare(harness, reserve)
    _set_limit(harness, system, usable + reserve)
    stopped = harness.sync_cli("budget")
    assert stopped.code == 1 and stopped.status == "budget_stopped", (stopped.code, stopped.stdout[-1500:],
                                                                      stopped.stderr[-1500:])
    assert stopped.result is not None
    assert system in (stopped.result["error"] or "").lower(), stopped.result["error"]  # "HubSpot at ..."
    partly = harness.capture()
    assert partly.duplicates == ()
    assert 0 < _writes(partly, system) < _writes(expected, system), "the stop came mid-run"
    assert differences(expected, partly) != []

    counts = stopped.result["counts"]
    run_id = stopped.result["run_id"]
    with harness.store() as store:
        # the checkpoints hold exactly what landed, in both systems: nothing sent is unrecorded
        assert checkpoint_mismatches(store, harness.box) == []
        assert store.watermarks() == {}, "a stopped run must not move the watermarks"
        record = store.get_run(run_id)
        assert record is not None and record.status == "budget_stopped" and dict(record.counts) == counts
        first_rows = Counter(w.system for w in store.iter_written() if w.run_id == run_id)
    for s in ("salesforce", "hubspot"):
        assert first_rows[s] == counts.get(f"{s}.fields_written", 0) + counts.get(f"{s}.fields_adopted", 0)

    # the next day: the allowance is back
    _set_limit(harness, system, SF_DEFAULT_LIMIT if system == "salesforce" else HS_DEFAULT_LIMIT)
    _reset_usage(harness)
    finished = harness.sync_cli("next-day")
    assert finished.code == 0 and finished.status == "ok", (finished.code, finished.stderr[-1500:])
    assert differences(expected, harness.capture()) == []
    with harness.store() as store:
        assert checkpoint_mismatches(store, harness.box) == []
        still_first = Counter(w.system for w in store.iter_written() if w.run_id == run_id)
        assert set(store.watermarks()) >= {"salesforce.opportunities", "hubspot.contacts"}
    assert still_first == first_rows, "the next run rewrote values the stopped run had already written"
