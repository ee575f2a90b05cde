"""The run lock across real processes: exclusion, waiting, the holder named, takeover of dead holders."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sync.run.lock import LockHeld, LockLost, RunLock
from sync.state.schema import run_lock
from sync.state.store import StateStore

HOLDER = textwrap.dedent("""
    import sys
    from sync.run.lock import RunLock
    from sync.state.sql import create_engine
    engine = create_engine(sys.argv[1])  # the schema exists already (the fixture made it)
    with RunLock(engine, heartbeat_interval=0.2, stale_after=60):
        print("locked", flush=True)
        sys.stdin.readline()  # hold until the test says so (or kills us)
    print("released", flush=True)
""")


@pytest.fixture
def holder_script(tmp_path: Path) -> Path:
    path = tmp_path / "holder.py"
    path.write_text(HOLDER, encoding="utf-8")
    return path


@pytest.fixture
def holder(holder_script: Path, db_url: str) -> Iterator[subprocess.Popen[str]]:
    StateStore.open(db_url).close()  # create the schema before two processes race for it
    proc = subprocess.Popen(
        [sys.executable, str(holder_script), db_url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "locked", proc.stderr.read() if proc.stderr else ""
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_second_run_exits_at_once_naming_the_holder(holder: subprocess.Popen[str], store: StateStore) -> None:
    with pytest.raises(LockHeld) as info:
        RunLock(store.engine, wait_seconds=0).acquire()
    message = str(info.value)
    assert message.startswith(
        f"another leadsync run (pid {holder.pid} on host {socket.gethostname()}, started "
    )
    assert "holds the lock" in message
    assert info.value.holder.pid == holder.pid


def test_second_run_waits_for_the_first_to_finish(holder: subprocess.Popen[str], store: StateStore) -> None:
    lock = RunLock(store.engine, wait_seconds=60, poll_interval=0.05)
    assert holder.stdin is not None
    stdin = holder.stdin

    def let_go() -> None:
        time.sleep(0.5)  # the holder keeps the lock at least this long after acquire() starts
        stdin.write("done\n")
        stdin.flush()

    releaser = threading.Thread(target=let_go)
    releaser.start()
    lock.acquire()  # returns once the holder has released
    releaser.join()
    try:
        found = lock.holder()
        assert found is not None and found.pid == os.getpid()
        assert holder.wait(timeout=30) == 0
    finally:
        lock.release()
    assert lock.holder() is None
    assert 0.5 <= lock.waited < 60  # what the run reports as lock_wait_seconds


def test_a_killed_holder_is_taken_over_at_once(holder: subprocess.Popen[str], store: StateStore) -> None:
    holder.kill()
    holder.wait(timeout=30)
    with RunLock(store.engine, wait_seconds=0) as lock:
        found = lock.holder()
        assert found is not None and found.token == lock.token


def _plant(store: StateStore, *, host: str, pid: int, beat_age: float) -> None:
    now = datetime.now(UTC)
    with store.engine.begin() as conn:
        conn.execute(
            run_lock.insert().values(
                name="leadsync",
                token="other",
                pid=pid,
                host=host,
                acquired_at=now - timedelta(hours=1),
                heartbeat_at=now - timedelta(seconds=beat_age),
            )
        )


def test_a_holder_on_another_host_is_respected_while_its_heartbeat_is_fresh(store: StateStore) -> None:
    _plant(store, host="worker-7", pid=os.getpid(), beat_age=1)
    with pytest.raises(LockHeld, match="on host worker-7"):
        RunLock(store.engine, stale_after=60).acquire()


def test_a_holder_on_another_host_with_a_stale_heartbeat_is_taken_over(store: StateStore) -> None:
    _plant(store, host="worker-7", pid=1, beat_age=600)
    with RunLock(store.engine, stale_after=60) as lock:
        found = lock.holder()
        assert found is not None and found.host == socket.gethostname()


def test_a_run_whose_lock_was_taken_over_notices(store: StateStore) -> None:
    lock = RunLock(store.engine, heartbeat_interval=0.05, stale_after=1)
    lock.acquire()
    try:
        lock.check()
        with store.engine.begin() as conn:  # another run took it over
            conn.execute(run_lock.update().values(token="thief"))
        deadline = time.monotonic() + 30
        while not lock.lost and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(LockLost):
            lock.check()
    finally:
        lock.release()
    found = lock.holder()
    assert found is not None and found.token == "thief"  # release never deletes someone else's lock


def test_the_heartbeat_moves(store: StateStore) -> None:
    with RunLock(store.engine, heartbeat_interval=0.05, stale_after=1) as lock:
        first = lock.holder()
        assert first is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            now = lock.holder()
            if now is not None and now.heartbeat_at > first.heartbeat_at:
                break
            time.sleep(0.02)
        else:
            pytest.fail("heartbeat never moved")


def test_interval_and_staleness_are_checked(store: StateStore) -> None:
    with pytest.raises(ValueError, match="twice"):
        RunLock(store.engine, heartbeat_interval=10, stale_after=15)
