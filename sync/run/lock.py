"""The run lock: two leadsync runs (a scheduled one and a manual one) never overlap.

The lock is a row in the state database's `run_lock` table, so it works for a SQLite file and for a
shared PostgreSQL alike (runs on different hosts included). Taking it is one INSERT: the primary key
makes exactly one process win. The holder refreshes `heartbeat_at` from a background thread.

A held lock is taken over ("stale") when
- its holder runs on this host and its pid no longer exists (a killed or crashed run: instant), or
- its heartbeat is older than `stale_after` seconds (a holder on another host that died).
Takeover deletes the row only if it still carries the stale holder's token, then inserts its own,
so two processes racing to take over cannot both win.

A second run waits up to `wait_seconds` (settings: `state.lock_wait_seconds`), then raises
`LockHeld` whose message names the holder: "another leadsync run (pid N on host H, started ...)
holds the lock".
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from sync.state.errors import StateStoreError
from sync.state.schema import run_lock

log = logging.getLogger(__name__)

DEFAULT_NAME = "leadsync"


@dataclass(frozen=True, slots=True)
class LockHolder:
    name: str
    token: str
    pid: int
    host: str
    acquired_at: datetime
    heartbeat_at: datetime

    def describe(self, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        beat = max(0, int((now - self.heartbeat_at).total_seconds()))
        return (f"pid {self.pid} on host {self.host}, started {self.acquired_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"last heartbeat {beat} s ago")


class LockHeld(RuntimeError):
    """Another run holds the lock (and did not let go within the wait)."""

    def __init__(self, holder: LockHolder, waited: float, stale_after: float) -> None:
        super().__init__(
            f"another leadsync run ({holder.describe()}) holds the lock; waited {waited:.0f} s. "
            f"Try again when it has finished (it is taken over automatically if that process is gone, "
            f"or if its heartbeat stops for {stale_after:.0f} s); "
            "raise state.lock_wait_seconds to wait longer.")
        self.holder = holder


class LockLost(RuntimeError):
    """This run's lock was taken over (its heartbeat could not be written for too long)."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover - e.g. platforms without signal 0
        return True
    return True


class RunLock:
    """Context manager: `with RunLock(store.engine, wait_seconds=...) as lock: ... lock.check()`."""

    def __init__(self, engine: Engine, *, name: str = DEFAULT_NAME, wait_seconds: float = 0.0,
                 stale_after: float = 120.0, heartbeat_interval: float = 15.0,
                 poll_interval: float = 0.5) -> None:
        if heartbeat_interval * 2 > stale_after:
            raise ValueError("stale_after must be at least twice heartbeat_interval")
        self.engine = engine
        self.name = name
        self.wait_seconds = wait_seconds
        self.stale_after = stale_after
        self.heartbeat_interval = heartbeat_interval
        self.poll_interval = poll_interval
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost = threading.Event()
        self.waited = 0.0  # seconds the last acquire() spent waiting for another run to let go

    # ------------------------------------------------------------------ public

    def acquire(self) -> None:
        """Take the lock, waiting up to `wait_seconds`; raises `LockHeld` naming the holder."""
        start = time.monotonic()
        while True:
            taken, holder = self._try_take()
            self.waited = time.monotonic() - start
            if taken:
                self._start_heartbeat()
                log.info("run lock taken (pid %d on %s)", os.getpid(), self.host)
                return
            if holder is None:
                continue  # released between our insert and our look: the next insert should win
            if self.waited >= self.wait_seconds:
                raise LockHeld(holder, self.waited, self.stale_after)
            time.sleep(min(self.poll_interval, max(0.0, self.wait_seconds - self.waited)))

    def release(self) -> None:
        """Let go (only if we still hold it). Safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_interval + 5)
            self._thread = None
        with self.engine.begin() as conn:
            conn.execute(run_lock.delete().where(run_lock.c.name == self.name,
                                                 run_lock.c.token == self.token))

    def check(self) -> None:
        """Raise `LockLost` if another run took the lock over; call between batches."""
        if self._lost.is_set():
            raise LockLost("the run lock was taken over by another run (heartbeat missed); stopping")

    @property
    def lost(self) -> bool:
        """True once the heartbeat found the lock taken over by another run."""
        return self._lost.is_set()

    def holder(self) -> LockHolder | None:
        """Who holds the lock now, if anyone."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(run_lock).where(run_lock.c.name == self.name)).first()
        return None if row is None else LockHolder(row.name, row.token, row.pid, row.host, row.acquired_at,
                                                   row.heartbeat_at)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # ------------------------------------------------------------------ internals

    def _try_take(self) -> tuple[bool, LockHolder | None]:
        """(True, None) when we now hold the lock, else (False, the current holder if any)."""
        holder: LockHolder | None = None
        for _ in range(3):
            now = datetime.now(UTC)
            try:
                with self.engine.begin() as conn:
                    conn.execute(run_lock.insert().values(name=self.name, token=self.token, pid=os.getpid(),
                                                          host=self.host, acquired_at=now, heartbeat_at=now))
                return True, None
            except IntegrityError:
                pass
            holder = self.holder()
            if holder is None:
                continue  # released meanwhile: try again
            why = self._stale(holder, now)
            if why is None:
                return False, holder
            with self.engine.begin() as conn:
                gone = conn.execute(run_lock.delete().where(
                    run_lock.c.name == self.name, run_lock.c.token == holder.token)).rowcount
            if gone:
                log.warning("run lock: took over from %s (%s)", holder.describe(now), why)
        return False, holder

    def _stale(self, holder: LockHolder, now: datetime) -> str | None:
        if holder.host == self.host and holder.pid != os.getpid() and not _pid_alive(holder.pid):
            return "its process no longer exists"
        if (now - holder.heartbeat_at).total_seconds() > self.stale_after:
            return f"no heartbeat for more than {self.stale_after:.0f} s"
        return None

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._lost.clear()
        self._thread = threading.Thread(target=self._beat, name="leadsync-lock-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            try:
                with self.engine.begin() as conn:
                    updated = conn.execute(run_lock.update().where(
                        run_lock.c.name == self.name, run_lock.c.token == self.token,
                    ).values(heartbeat_at=datetime.now(UTC))).rowcount
            except (sa.exc.SQLAlchemyError, StateStoreError) as exc:  # a busy database: try again next beat
                log.warning("run lock heartbeat failed: %s", type(exc).__name__)
                continue
            if updated != 1:
                log.error("run lock lost: another run took it over")
                self._lost.set()
                return
