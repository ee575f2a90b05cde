"""Background work started from a page (an impact preview, a run started by "retry now"), shown by its
own page while it goes: one thread per job, its progress as (phase, done, total), its result or error.

    board = JobBoard()
    job = board.start("preview", user, work)   # work(job) -> result; calls job.advance(...) as it goes
    board.get(job.id)                           # None for an unknown or expired id

At most one job of a kind runs at a time (`Busy` names the one running): a second preview or a second
run started while one goes would only compete for the same CPU, store and quota. Finished jobs are kept
for `keep_seconds` (their pages stay readable), then forgotten; nothing here is persisted (a run records
itself in the state store; a preview is recomputed on request).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

KEEP_SECONDS = 3600.0


@dataclass
class Job:
    id: str
    kind: str
    user: str
    started: float  # time.time()
    phase: str = "starting"
    done: int = 0
    total: int | None = None  # None: not known (yet)
    finished: float | None = None
    result: Any = None
    error: str | None = None  # the message shown when the work raised
    stop: threading.Event = field(default_factory=threading.Event, repr=False)  # set: asked to stop
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def advance(self, phase: str, done: int, total: int | None = None) -> None:
        with self._lock:
            self.phase, self.done = phase, done
            if total is not None:
                self.total = total

    @property
    def running(self) -> bool:
        return self.finished is None

    @property
    def percent(self) -> int | None:
        """0..100 when the total is known."""
        with self._lock:
            if not self.total:
                return None
            return min(100, (100 * self.done) // self.total)


class Busy(Exception):
    """A job of this kind is already running."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"a {job.kind} is already running (started by {job.user})")
        self.job = job


class JobBoard:
    def __init__(self, keep_seconds: float = KEEP_SECONDS) -> None:
        self.keep_seconds = keep_seconds
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, kind: str, user: str, work: Callable[[Job], Any]) -> Job:
        """Start `work` in a thread; raises `Busy` while another job of this kind runs."""
        with self._lock:
            self._forget_old()
            running = self.running(kind)
            if running is not None:
                raise Busy(running)
            job = Job(secrets.token_urlsafe(12), kind, user, time.time())
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), name=f"console-{kind}", daemon=True).start()
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def running(self, kind: str) -> Job | None:
        return next((j for j in self._jobs.values() if j.kind == kind and j.running), None)

    def latest(self, kind: str) -> Job | None:
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.kind == kind]
        return max(jobs, key=lambda j: j.started, default=None)

    def _run(self, job: Job, work: Callable[[Job], Any]) -> None:
        try:
            job.result = work(job)
        except Exception as exc:  # shown on the job's page; the console goes on
            log.exception("console %s job failed", job.kind)
            job.error = f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = time.time()

    def _forget_old(self) -> None:
        cutoff = time.time() - self.keep_seconds
        for job_id in [j.id for j in self._jobs.values() if j.finished is not None and j.finished < cutoff]:
            del self._jobs[job_id]
