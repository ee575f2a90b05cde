"""Crash: the `leadsync sync` process is killed with SIGKILL at seeded random points, then a normal run
finishes the job. Every time, both systems must end exactly as after an uninterrupted run, with no
duplicate campaign members or tasks, and the state store's checkpoints must agree with the systems
(so the run after that has nothing to write).

Kill points are drawn from `random.Random(trial seed)` in two ways, calibrated on one uninterrupted
run of the installed `leadsync` executable:

- "call" trials wait for the k-th API call the emulators receive (k uniform over the calls of a whole
  run) plus up to 30 ms, so kills land across the pull, the reads and the batched writes (including
  between a batch's answer and its checkpoint) whatever the machine's speed. These commands are
  forked from a helper that has imported leadsync once (`forkserver.py`: the same entry point and
  argv as the console script, without paying ~2 s of interpreter start-up per trial).
- "time" trials start the real executable and kill it after a uniform time over its whole lifetime,
  which also covers interpreter start-up, state-file creation and taking the lock.

The emulators run in this process, so a write whose answer the killed client never read still lands
(the checkpoint is lost, the write is not: the next run must adopt it, not repeat it). The run after
each kill is a normal run in this process (`sync.runner.run`, as `leadsync sync` calls it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.reliability.conftest import References
from tests.reliability.forkserver import ForkServer
from tests.reliability.harness import Harness, cli_environment, kill
from tests.reliability.state_compare import checkpoint_mismatches, differences

TRIALS = 20
TIME_MODE_SHARE = 0.3  # share of trials killed after a random time instead of a random API call
EXTRA_DELAY_S = 0.03  # after the k-th call: up to this long, to land inside its answer or checkpoint
POLL_S = 0.002


@dataclass(frozen=True)
class Trial:
    seed: int
    mode: str  # "call" | "time"
    target: float  # k-th API call, or seconds after the start
    killed: bool  # False: the process had already exited when the kill came
    calls_at_kill: int
    writes_at_kill: int  # leadsync values, members and tasks in the systems when it died
    recovery_status: str
    killed_run: str | None = None  # status the killed process's run was left in (None: not started)

    @property
    def mid_run(self) -> bool:
        return self.killed_run == "interrupted"


def _calls(h: Harness) -> int:
    return sum(h.box.salesforce.calls.snapshot().values()) + sum(h.box.hubspot.calls.snapshot().values())


def _prepare(h: Harness) -> int:
    """Fresh book, fresh state file, `setup` done; the API calls counted so far."""
    h.load()
    h.fresh_state()
    h.setup()
    return _calls(h)


def _kill_at(h: Harness, forks: ForkServer, rng: random.Random, seed: int, total_calls: int,
             duration: float) -> Trial:
    base = _prepare(h)
    if rng.random() < TIME_MODE_SHARE:
        mode, target = "time", rng.uniform(0.0, duration)
    else:
        mode, target = "call", float(rng.randint(1, total_calls))
    extra = rng.uniform(0.0, EXTRA_DELAY_S)
    started = time.monotonic()
    proc = h.spawn(f"trial-{seed}", via=forks if mode == "call" else None)
    if mode == "time":
        while proc.poll() is None and time.monotonic() - started < target:
            time.sleep(POLL_S)
    else:
        while proc.poll() is None and _calls(h) - base < target:
            time.sleep(POLL_S)
        time.sleep(extra)
    killed = proc.poll() is None
    calls, writes = _calls(h) - base, h.capture().leadsync_writes()
    kill(proc)
    recovery = h.run()
    return Trial(seed, mode, target, killed, calls, writes, recovery.status)


@pytest.fixture
def forks(tmp_path: Path) -> Iterator[ForkServer]:
    server = ForkServer(cli_environment(), tmp_path / "forkserver.log")
    yield server
    server.close()


def test_sigkill_at_random_points_then_a_normal_run_gives_the_uninterrupted_state(
        harness: Harness, references: References, forks: ForkServer) -> None:
    expected = references.get()
    full = expected.leadsync_writes()

    # calibration: one uninterrupted run of the command, which must itself give the reference state
    base = _prepare(harness)
    started = time.monotonic()
    clean = harness.sync_cli("calibration")
    duration = time.monotonic() - started
    total_calls = _calls(harness) - base
    assert clean.code == 0 and clean.status == "ok", (clean.code, clean.stderr[-2000:])
    assert differences(expected, harness.capture()) == []

    trials: list[Trial] = []
    for i in range(TRIALS):
        seed = 1000 + i
        trial = _kill_at(harness, forks, random.Random(seed), seed, total_calls, duration)
        trials.append(trial)
        assert trial.recovery_status == "ok", trial
        problems = differences(expected, harness.capture())
        assert problems == [], (trial, problems)
        with harness.store() as store:
            assert checkpoint_mismatches(store, harness.box) == [], trial
            runs = [r.status for r in store.list_runs(limit=5)]
        # the recovery run, after the killed one: closed as interrupted, or finished just before the kill
        assert runs[0] == "ok" and runs[1:] in ([], ["interrupted"], ["ok"]), (trial, runs)
        trials[-1] = trial = replace(trial, killed_run=runs[1] if len(runs) > 1 else None)

    summary = "\n".join(f"{t.seed} {t.mode}:{t.target:.2f} killed={t.killed} run={t.killed_run} "
                        f"calls={t.calls_at_kill} writes={t.writes_at_kill}/{full}" for t in trials)
    print(f"calibration: {total_calls} API calls, {duration:.1f} s\n{summary}")
    # the kills really landed inside runs, and several of them in the middle of the write-back
    assert sum(t.mid_run for t in trials) >= TRIALS // 2, summary
    assert sum(0 < t.writes_at_kill < full for t in trials) >= 3, summary
