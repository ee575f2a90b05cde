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

In a quarter of the trials the run after the kill is killed too (a "call" kill), before the run that
completes.

The emulators run in this process, so a write whose answer the killed client never read still lands
(the checkpoint is lost, the write is not: the next run must adopt it, not repeat it). The run after
each kill is a normal run in this process (`sync.run.runner.run`, as `leadsync sync` calls it).
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.conftest import References
from tests.reliability.forkserver import ForkServer
from tests.reliability.harness import Harness, cli_environment, kill
from tests.reliability.state_compare import checkpoint_mismatches, differences, history_rows

pytestmark = pytest.mark.slow  # seconds per test: `pytest -m "not slow"` skips it in a quick loop

TRIALS = 20
TIME_MODE_SHARE = 0.3  # share of trials killed after a random time instead of a random API call
SECOND_KILL_SHARE = 0.25  # share of trials whose next run is killed too, before the run that completes
EXTRA_DELAY_S = 0.03  # after the k-th call: up to this long, to land inside its answer or checkpoint
POLL_S = 0.002


@dataclass(frozen=True)
class Kill:
    mode: str  # "call" | "time"
    target: float  # k-th API call, or seconds after the start
    run: str | None  # the killed run's status in the history: running (killed mid-run), ok, or None
    calls: int  # API calls the emulators had received when it died
    writes: int  # leadsync values, members and tasks in the systems when it died


@dataclass(frozen=True)
class Trial:
    seed: int
    kills: tuple[Kill, ...]
    recovery_status: str
    full: int  # leadsync writes of a complete run

    @property
    def mid_run(self) -> bool:
        return any(k.run == "running" for k in self.kills)

    @property
    def mid_write(self) -> bool:
        return any(0 < k.writes < self.full for k in self.kills)


def _calls(h: Harness) -> int:
    return sum(h.box.salesforce.calls.snapshot().values()) + sum(h.box.hubspot.calls.snapshot().values())


def _prepare(h: Harness) -> int:
    """Fresh book, fresh state file, `setup` done; the API calls counted so far."""
    h.load()
    h.fresh_state()
    h.setup()
    return _calls(h)


def _last_run_status(h: Harness) -> str | None:
    """The newest run's status, read without opening the store (which would create or migrate the
    schema and so do part of the next run's job)."""
    if not h.state_path.exists():
        return None
    conn = sqlite3.connect(f"file:{h.state_path}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute("SELECT status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # killed before the schema was created
        return None
    finally:
        conn.close()
    return None if row is None else str(row[0])


def _last_run_status_count(h: Harness) -> int:
    if not h.state_path.exists():
        return 0
    conn = sqlite3.connect(f"file:{h.state_path}?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def _kill_once(h: Harness, forks: ForkServer, rng: random.Random, name: str, mode: str, total_calls: int,
               duration: float) -> Kill:
    before = _last_run_status_count(h)
    target = rng.uniform(0.0, duration) if mode == "time" else float(rng.randint(1, total_calls))
    extra = rng.uniform(0.0, EXTRA_DELAY_S)
    base = _calls(h)
    started = time.monotonic()
    proc = h.spawn(name, via=forks if mode == "call" else None)
    if mode == "time":
        while proc.poll() is None and time.monotonic() - started < target:
            time.sleep(POLL_S)
    else:
        while proc.poll() is None and _calls(h) - base < target:
            time.sleep(POLL_S)
        time.sleep(extra)
    calls, writes = _calls(h) - base, h.capture().leadsync_writes()
    kill(proc)
    started_a_run = _last_run_status_count(h) > before
    return Kill(mode, target, _last_run_status(h) if started_a_run else None, calls, writes)


def _trial(h: Harness, forks: ForkServer, seed: int, total_calls: int, duration: float, full: int) -> Trial:
    """Kill one run (sometimes also the run after it), then run to completion in this process."""
    rng = random.Random(seed)
    _prepare(h)
    kills = [_kill_once(h, forks, rng, f"trial-{seed}", "time" if rng.random() < TIME_MODE_SHARE else "call",
                        total_calls, duration)]
    if rng.random() < SECOND_KILL_SHARE:
        kills.append(_kill_once(h, forks, rng, f"trial-{seed}-again", "call", total_calls, duration))
    return Trial(seed, tuple(kills), h.run().status, full)


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
        trial = _trial(harness, forks, 1000 + i, total_calls, duration, full)
        trials.append(trial)
        assert trial.recovery_status == "ok", trial
        problems = differences(expected, harness.capture())
        assert problems == [], (trial, problems)
        with harness.store() as store:
            assert checkpoint_mismatches(store, harness.box) == [], trial
            assert history_rows(store) == references.history(), trial  # each move once, none half-done
            runs = [r.status for r in store.list_runs(limit=5)]
        # the completing run; before it each killed run that had started: closed as interrupted (or
        # finished just before its kill)
        killed = [k.run for k in reversed(trial.kills) if k.run is not None]
        assert runs == ["ok", *("interrupted" if r == "running" else r for r in killed)], (trial, runs)

    summary = "\n".join(f"{t.seed}: " + "; ".join(f"{k.mode} {k.target:.2f} run={k.run} calls={k.calls} "
                                                   f"writes={k.writes}/{full}" for k in t.kills)
                        for t in trials)
    print(f"calibration: {total_calls} API calls, {duration:.1f} s\n{summary}")
    # the kills really landed inside runs, and several of them in the middle of the write-back
    assert sum(t.mid_run for t in trials) >= TRIALS // 2, summary
    assert sum(t.mid_write for t in trials) >= 3, summary
    assert any(len(t.kills) > 1 and all(k.run == "running" for k in t.kills) for t in trials), summary
