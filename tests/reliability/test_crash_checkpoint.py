"""Crash exactly between a write landing in a system and its checkpoint, and the next run comes later.

The random kills of test_crash.py are followed at once by a run at the same instant, which finds the
landed values equal to what it wants and adopts them. A scheduled deployment runs again later (15
minutes, a day, a month), when some people's assignment has moved on (a waiting period ended, a
click arrived). This test makes that case deterministic: the emulator takes the state file's write
lock when the chosen write reaches it (HubSpot: the first call of an endpoint; Salesforce: the call
carrying a chosen record, see tests/reliability/sf_writes.py), so the call's values land in the
system while the client's checkpoint of them must wait; the process is then killed with SIGKILL (its
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
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from sandbox.faults import KINDS, Fault, FaultInjector
from sandbox.launcher import Sandbox
from tests.reliability.harness import CLI_TIMEOUT, Harness, kill
from tests.reliability.sf_writes import RecordWrite, campaign_id, on_record_writes
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
    """When the first call of `endpoint` arrives (before the emulator handles it), take the state
    file's write lock, so the client can send the call and read its answer but not record it. For
    HubSpot, whose first batch update and first membership call carry what the cases mean."""

    def __init__(self, endpoint: str, state_path: Path) -> None:
        super().__init__()
        self.endpoint = endpoint
        self.state_path = state_path
        self.locked = threading.Event()
        self._conn: sqlite3.Connection | None = None

    def draw(self, endpoint: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        if endpoint == self.endpoint:
            self.lock()
        return super().draw(endpoint, kinds)

    def lock(self) -> None:
        if self.locked.is_set():
            return
        conn = sqlite3.connect(self.state_path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN EXCLUSIVE")
        self._conn = conn
        self.locked.set()

    def release(self) -> None:
        if self._conn is not None:
            self._conn.rollback()
            self._conn.close()
            self._conn = None


@contextmanager
def block_at_record(box: Sandbox, blocker: CheckpointBlocker, when: WriteProbe) -> Iterator[None]:
    """Take the state file's write lock when the first Salesforce record write for which `when` holds
    reaches the emulator (inside the call, before the record is written): that call's records land
    but the client cannot record them. Keyed on what the call writes, not on the n-th call: campaigns
    created up front and member batches that mix campaigns moved the call that carries a given write."""

    def hook(write: RecordWrite) -> None:
        if not blocker.locked.is_set() and when(box, write):
            blocker.lock()

    with on_record_writes(box.salesforce.store, hook):
        yield


def _contact_fields(box: Sandbox, write: RecordWrite) -> bool:
    """The first Contact field update (the first people write of a run)."""
    return write.op == "update" and write.sobject == "Contact"


def _events_add(box: Sandbox, write: RecordWrite) -> bool:
    """The first member added to Nurture - Events, the campaign that loses people later on (the
    batch carrying it may carry other campaigns' adds too)."""
    return (write.op == "create" and write.sobject == "CampaignMember"
            and write.fields.get("CampaignId") == campaign_id(box.salesforce.store, "Nurture - Events"))


def _campaign_members(box: Sandbox, name: str) -> int:
    ids = {c["Id"] for c in box.salesforce.store.all("Campaign") if c["Name"] == name}
    return sum(m["CampaignId"] in ids for m in box.salesforce.store.all("CampaignMember"))


def _events_adds_landed(box: Sandbox) -> bool:
    return _campaign_members(box, "Nurture - Events") > 0


def _sf_fields_landed(box: Sandbox) -> bool:
    return any(c.get("Lead_Stage__c") for c in box.salesforce.store.all("Contact"))


def _hs_fields_landed(box: Sandbox) -> bool:
    return any(c["properties"].get("leadsync_stage") for c in box.hubspot.store.contacts())


def _hs_members_landed(box: Sandbox) -> bool:
    return any(box.hubspot.store.list_members(n) for n in hubspot_list_names(default_mapping()))


Probe = Callable[[Sandbox], bool]
WriteProbe = Callable[[Sandbox, RecordWrite], bool]


class FinalStateDiffers(AssertionError):
    """The final state is not the expected one (not a harness problem)."""


CASES = [
    # (system, what is cut off from its checkpoint: the HubSpot endpoint whose first call, or the
    #  Salesforce record whose write's call; "its write landed"; when the next run comes)
    pytest.param("salesforce", _contact_fields, _sf_fields_landed, timedelta(0),
                 id="salesforce-fields-same-instant"),  # control: the landed values are adopted
    pytest.param("salesforce", _contact_fields, _sf_fields_landed, LATER, id="salesforce-fields"),
    pytest.param("salesforce", _events_add, _events_adds_landed, LATER, id="salesforce-campaign-adds"),
    pytest.param("hubspot", "hubspot.batch_update", _hs_fields_landed, LATER, id="hubspot-fields"),
    pytest.param("hubspot", "hubspot.memberships", _hs_members_landed, LATER, id="hubspot-list-adds"),
]


@pytest.mark.parametrize(("system", "cut", "landed", "after"), CASES)
def test_kill_between_write_and_checkpoint_then_a_later_run(harness: Harness, system: str,
                                                            cut: str | WriteProbe, landed: Probe,
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
    what = cut if isinstance(cut, str) else cut.__name__
    blocker = CheckpointBlocker(cut if isinstance(cut, str) else "", harness.state_path)
    getattr(harness.box, system).faults = blocker
    with ExitStack() as stack:
        if not isinstance(cut, str):
            stack.enter_context(block_at_record(harness.box, blocker, cut))
        proc = harness.spawn("killed")
        try:
            deadline = time.monotonic() + CLI_TIMEOUT
            while not (blocker.locked.is_set() and landed(harness.box)):
                assert proc.poll() is None, f"the run ended before its {what} write: {proc.poll()}"
                assert time.monotonic() < deadline, f"no {what} write landed"
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
