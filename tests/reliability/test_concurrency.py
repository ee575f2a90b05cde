"""Concurrency: two `leadsync sync` commands started at once on the same state file.

Whichever takes the run lock first is held at its Salesforce login (a gate in the emulator's fault
injector) until the other has had its chance, so the two certainly overlap however the machine
schedules them. With `lock_wait_seconds = 0` exactly one runs and the other exits with code 3 and the
"another leadsync run ... holds the lock" message; with a wait, the second runs after the first and
has nothing left to write; and when the lock was left behind by a killed run, the two race to take it
over and still exactly one runs. Each time both systems end as after a single clean run."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from sandbox.faults import KINDS, Fault, FaultInjector
from tests.reliability.conftest import References
from tests.reliability.harness import CLI_TIMEOUT, CliResult, Harness, Process, kill
from tests.reliability.state_compare import checkpoint_mismatches, differences

pytestmark = pytest.mark.slow  # seconds per test: `pytest -m "not slow"` skips it in a quick loop

GATE_TIMEOUT = 120.0  # the gate opens by itself after this long, so a broken lock cannot hang the suite
POLL_S = 0.02


# SOAP login() and the OAuth token endpoint (the sandbox settings log in with JWT: salesforce.token)
LOGIN_ENDPOINTS = frozenset({"salesforce.login", "salesforce.token"})


class LoginGate(FaultInjector):
    """Holds every Salesforce login (either endpoint) until `open` is set (no other fault)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Event()
        self.open = threading.Event()
        self.logins = 0

    def draw(self, endpoint: str, kinds: tuple[str, ...] = KINDS) -> Fault | None:
        if endpoint in LOGIN_ENDPOINTS:
            self.logins += 1
            self.arrived.set()
            self.open.wait(GATE_TIMEOUT)
        return super().draw(endpoint, kinds)


def _wait_until(condition: Callable[[], bool], what: str, timeout: float = CLI_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(POLL_S)


def _has_open(proc: Process, path: Path) -> bool:
    try:
        return any(Path(f.path) == path for f in psutil.Process(proc.pid).open_files())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return proc.poll() is not None


@pytest.fixture
def gate() -> Iterator[LoginGate]:
    """A login gate (the test installs it once `setup` is done); always opened at the end."""
    g = LoginGate()
    yield g
    g.open.set()


def _start_both(harness: Harness, gate: LoginGate) -> tuple[Process, Process]:
    procs = harness.spawn("first"), harness.spawn("second")
    # one of them holds the lock and is at the gate (logins come only after the lock is taken)
    _wait_until(lambda: gate.arrived.is_set() or any(p.poll() is not None for p in procs), "a login")
    return procs


def test_two_runs_at_once_exactly_one_runs(harness: Harness, references: References,
                                           gate: LoginGate) -> None:
    expected = references.get()
    harness.load()
    harness.configure(state={"lock_wait_seconds": 0})
    harness.setup()
    harness.box.salesforce.faults = gate
    procs = _start_both(harness, gate)
    try:
        _wait_until(lambda: any(p.poll() is not None for p in procs), "the locked-out run to exit")
        gate.open.set()
        results = [harness.finish(p, name) for p, name in zip(procs, ("first", "second"), strict=True)]
    finally:
        gate.open.set()
        for p in procs:
            kill(p)
    by_code = sorted(results, key=lambda r: r.code)
    ran, locked = by_code
    assert (ran.code, locked.code) == (0, 3), [(r.code, r.stderr[-800:]) for r in results]
    assert ran.status == "ok" and locked.status == "locked"
    message = (locked.result or {}).get("error") or ""
    assert "another leadsync run" in message and "holds the lock" in message, locked.stdout
    assert gate.logins == 1, "the locked-out run must not have talked to Salesforce"

    assert differences(expected, harness.capture()) == []
    with harness.store() as store:
        assert [r.status for r in store.list_runs()] == ["ok"]
        assert checkpoint_mismatches(store, harness.box) == []


def test_with_a_lock_wait_the_second_runs_after_the_first(harness: Harness, references: References,
                                                          gate: LoginGate) -> None:
    expected = references.get()
    harness.load()
    harness.configure(state={"lock_wait_seconds": GATE_TIMEOUT})
    harness.setup()
    harness.box.salesforce.faults = gate
    procs = _start_both(harness, gate)
    try:
        # both are past start-up and have the state file open: one at the gate, one waiting for the lock
        _wait_until(lambda: all(_has_open(p, harness.state_path) for p in procs), "both to open the state")
        gate.open.set()
        results: list[CliResult] = [harness.finish(p, n) for p, n in zip(procs, ("first", "second"),
                                                                           strict=True)]
    finally:
        gate.open.set()
        for p in procs:
            kill(p)
    assert [r.code for r in results] == [0, 0], [r.stderr[-800:] for r in results]
    assert differences(expected, harness.capture()) == []
    with harness.store() as store:
        runs = sorted(store.list_runs(), key=lambda r: r.id)
    assert [r.status for r in runs] == ["ok", "ok"]
    first, second = runs
    assert first.finished_at is not None and second.started_at >= first.finished_at, "the runs overlapped"
    assert not any(v for k, v in second.counts.items()
                   if k.endswith((".fields_written", ".list_adds", ".list_removes", ".tasks_created"))), \
        dict(second.counts)


def test_two_runs_racing_to_take_over_a_dead_runs_lock_exactly_one_runs(
        harness: Harness, references: References, gate: LoginGate) -> None:
    expected = references.get()
    harness.load()
    harness.configure(state={"lock_wait_seconds": 0})
    harness.setup()
    harness.box.salesforce.faults = gate
    dead = harness.spawn("dead")
    try:
        _wait_until(lambda: gate.arrived.is_set() or dead.poll() is not None, "the first run's login")
        assert kill(dead) == -9  # killed holding the lock: its row stays, naming a process that is gone
        procs = harness.spawn("first"), harness.spawn("second")
        _wait_until(lambda: any(p.poll() is not None for p in procs), "the locked-out run to exit")
        gate.open.set()
        results = [harness.finish(p, name) for p, name in zip(procs, ("first", "second"), strict=True)]
    finally:
        gate.open.set()
        for p in (dead, *procs):
            kill(p)
    ran, locked = sorted(results, key=lambda r: r.code)
    assert (ran.code, locked.code) == (0, 3), [(r.code, r.stderr[-800:]) for r in results]
    assert "holds the lock" in ((locked.result or {}).get("error") or "")
    assert "took over" in ran.stderr, ran.stderr[-800:]
    assert differences(expected, harness.capture()) == []
    with harness.store() as store:
        assert [r.status for r in store.list_runs()] == ["ok", "interrupted"]
