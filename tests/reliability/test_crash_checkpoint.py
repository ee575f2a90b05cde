"""Crash exactly between a write landing in a system and its checkpoint, and the next run comes later.

The random kills of test_crash.py are followed at once by a run at the same instant, which finds the
landed values equal to what it wants and adopts them. A scheduled deployment runs again later (15
minutes, a day, a month), when some people's assignment has moved on (a waiting period ended, a
click arrived). This test makes that case deterministic: a fault injector in the emulator takes the
state file's write lock when the chosen write call arrives, so the call's values land in the system
while the client's checkpoint of them must wait; the process is then killed with SIGKILL (its
checkpoint never commits). The next run comes 31 days later, when the people who were waiting after a
recent loss have entered a recycle group and some have changed nurture list. Both systems must end
as after a clean run followed by the same later run (call tasks aside: a task the killed run never
sent is rightly created by the later run, with its dates).

The control case (next run at the same instant) adopts the landed values. The later cases were the
defect this test found: a lost checkpoint made leadsync forget that it wrote a keep_manual field (taken
for a hand edit) or added a list membership (never removed on a move). Write intents recorded before
each batch (sync/state/pending.py) let the next run recognise its own landed values and re-send
uncertain list changes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox.faults import KINDS, Fault, FaultInjector
from sandbox.launcher import Sandbox
from tests.reliability.harness import CLI_TIMEOUT, Harness, kill
from tests.reliability.state_compare import (
    checkpoint_mismatches,
    default_mapping,
    differences,
    hubspot_list_names,
)

pytestmark = pytest.mark.slow  # seconds per test: `pytest -m "not slow"` skips it in a quick loop

LATER = timedelta(days=31)
POLL_S = 0.002


class CheckpointBlocker(FaultInjector):
    """When the first call of `endpoint` arrives for which `when()` holds (before the emulator handles
    it), take the state file's write lock, so the client can send the call and read its answer but not
    record it."""

    def __init__(self, endpoint: str, when: Callable[[], bool], state_path: Path) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.when = when
        self.state_path = state_path
        self.locked = threading.Event()
        self._conn: sqlite3.Connection | None = None

    def draw(self, endpoint: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        if endpoint == self.endpoint and not self.locked.is_set() and self.when():
            conn = sqlite3.connect(self.state_path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN EXCLUSIVE")
            self._conn = conn
            self.locked.set()
        return super().draw(endpoint, kinds)

    def release(self) -> None:
        if self._conn is not None:
            self._conn.rollback()
            self._conn.close()
            self._conn = None


def _always(box: Sandbox) -> bool:
    return True


def _campaign_members(box: Sandbox, name: str) -> int:
    ids = {c["Id"] for c in box.salesforce.store.all("Campaign") if c["Name"] == name}
    return sum(m["CampaignId"] in ids for m in box.salesforce.store.all("CampaignMember"))


def _before_events_adds(box: Sandbox) -> bool:
    """The writer sends each campaign's adds as one batch, in the order Recycle - Email Nurture,
    Nurture - Newsletter, Nurture - Call/DM, Nurture - Events; the last one loses people later on."""
    return _campaign_members(box, "Nurture - Call/DM") > 0 and _campaign_members(box, "Nurture - Events") == 0


def _events_adds_landed(box: Sandbox) -> bool:
    return _campaign_members(box, "Nurture - Events") > 0


def _sf_fields_landed(box: Sandbox) -> bool:
    return any(c.get("Lead_Stage__c") for c in box.salesforce.store.all("Contact"))


def _hs_fields_landed(box: Sandbox) -> bool:
    return any(c["properties"].get("leadsync_stage") for c in box.hubspot.store.contacts())


def _hs_members_landed(box: Sandbox) -> bool:
    return any(box.hubspot.store.list_members(n) for n in hubspot_list_names(default_mapping()))


Probe = Callable[[Sandbox], bool]


class FinalStateDiffers(AssertionError):
    """The final state is not the expected one (not a harness problem)."""


CASES = [
    # (system, endpoint whose call is cut off from its checkpoint, from when on, "its write landed",
    #  when the next run comes)
    pytest.param("salesforce", "salesforce.collections", _always, _sf_fields_landed, timedelta(0),
                 id="salesforce-fields-same-instant"),  # control: the landed values are adopted
    pytest.param("salesforce", "salesforce.collections", _always, _sf_fields_landed, LATER,
                 id="salesforce-fields"),
    pytest.param("salesforce", "salesforce.collections", _before_events_adds, _events_adds_landed, LATER,
                 id="salesforce-campaign-adds"),
    pytest.param("hubspot", "hubspot.batch_update", _always, _hs_fields_landed, LATER,
                 id="hubspot-fields"),
    pytest.param("hubspot", "hubspot.memberships", _always, _hs_members_landed, LATER,
                 id="hubspot-list-adds"),
]


@pytest.mark.parametrize(("system", "endpoint", "when", "landed", "after"), CASES)
def test_kill_between_write_and_checkpoint_then_a_later_run(harness: Harness, system: str, endpoint: str,
                                                            when: Probe, landed: Probe,
                                                            after: timedelta) -> None:
    later = harness.now + after

    # reference: an uninterrupted run, then the later one
    harness.load()
    harness.configure()
    harness.setup()
    assert harness.run().status == "ok"
    if after:
        assert harness.run(now=later).status == "ok"
    expected = harness.capture()

    harness.load()
    harness.fresh_state()
    harness.setup()
    blocker = CheckpointBlocker(endpoint, lambda: when(harness.box), harness.state_path)
    getattr(harness.box, system).faults = blocker
    proc = harness.spawn("killed")
    try:
        deadline = time.monotonic() + CLI_TIMEOUT
        while not (blocker.locked.is_set() and landed(harness.box)):
            assert proc.poll() is None, f"the run ended before its {endpoint} write: {proc.poll()}"
            assert time.monotonic() < deadline, f"no {endpoint} write landed"
            time.sleep(POLL_S)
        assert kill(proc) == -9
    finally:
        kill(proc)
        blocker.release()

    with harness.store() as store:
        lost = [m for m in checkpoint_mismatches(store, harness.box) if "not recorded" in m]
    assert lost, "the write should have landed without its checkpoint"

    result = harness.run(now=later)
    assert result.status == "ok", result.error
    actual = harness.capture()
    assert actual.duplicates == ()
    # tasks are left out: a cycle's task is created once, by whichever run first sees the cycle, so
    # one the killed run never sent is (rightly) created by the later run with the later run's dates
    problems = differences(replace(expected, tasks={}), replace(actual, tasks={}), limit=200)
    if problems:
        raise FinalStateDiffers("\n".join(problems))
