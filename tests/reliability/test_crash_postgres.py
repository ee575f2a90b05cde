"""A worker killed with SIGKILL in the middle of the write-back, with its state on a real PostgreSQL
server (issue 15): the run lock it held is taken by the next run (no waiting, no manual unlock), the
killed run is closed as interrupted, and the next run ends with the same final state as a run that was
never interrupted — as the SQLite crash trials (test_crash.py) show for the embedded store.

The kill lands at a known point: the second batch of Salesforce fields is held by the emulator (after
the first has landed) until the process is killed, so the run is always stopped inside its write-back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.faults import KINDS, Fault, FaultInjector
from sandbox.launcher import Sandbox
from sync.run.lock import RunLock
from tests.reliability.conftest import References
from tests.reliability.harness import Harness, kill
from tests.reliability.state_compare import differences
from tests.sync.state.conftest import emptied, postgres_url  # noqa: F401  (the session's PostgreSQL server)

pytestmark = pytest.mark.slow


@dataclass
class PostgresHarness(Harness):
    """The reliability harness with its state in a PostgreSQL database instead of a SQLite file."""

    url: str = ""

    @property
    def state_url(self) -> str:
        return self.url


class HoldTheSecondBatch(FaultInjector):
    """Holds the first `endpoint` call made after `landed()` holds (the first batch is in) until
    `release` is set: the process is killed while it waits for the answer."""

    def __init__(self, endpoint: str, box: Sandbox) -> None:
        super().__init__()
        self.endpoint, self.box = endpoint, box
        self.held, self.release = threading.Event(), threading.Event()

    def landed(self) -> bool:
        return any(c.get("Lead_Stage__c") for c in self.box.salesforce.store.all("Contact"))

    def draw(self, endpoint: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        if endpoint == self.endpoint and not self.held.is_set() and self.landed():
            self.held.set()
            self.release.wait(120)
        return super().draw(endpoint, kinds)


@pytest.fixture
def pg_harness(rel_box: Sandbox, tmp_path: Path, postgres_url: str) -> Iterator[PostgresHarness]:  # noqa: F811
    yield PostgresHarness(rel_box, tmp_path, url=emptied(postgres_url))
    rel_box.salesforce.faults = FaultInjector()
    rel_box.reset(people=0)


def test_postgresql_worker_killed_mid_write_back_releases_its_lock_and_converges(
        pg_harness: PostgresHarness, references: References) -> None:
    h = pg_harness
    expected = references.get()
    h.load()
    h.configure()
    h.setup()
    hold = HoldTheSecondBatch("salesforce.collections", h.box)
    h.box.salesforce.faults = hold
    proc = h.spawn("killed")
    try:
        assert hold.held.wait(120), "the run never sent a second batch of fields"
        kill(proc)  # SIGKILL: no handler runs, the lock row and the running run stay behind
    finally:
        hold.release.set()
        h.box.salesforce.faults = FaultInjector()
    written = h.capture().leadsync_writes()
    assert 0 < written < expected.leadsync_writes(), written  # killed inside the write-back
    with h.store() as store:
        (killed,) = store.list_runs(limit=5)
        assert killed.status == "running"  # as the killed process left it
        holder = RunLock(store.engine).holder()
        assert holder is not None and holder.pid == proc.pid  # the dead worker's lock, still in the table

    again = h.sync_cli("again")
    assert again.code == 0 and again.status == "ok", again.stderr[-2000:]  # the lock was taken over
    with h.store() as store:
        assert [r.status for r in store.list_runs(limit=5)] == ["ok", "interrupted"]
    problems = differences(expected, h.capture(), limit=50)
    assert not problems, "\n".join(problems)
