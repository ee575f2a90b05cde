"""The overview (and with it the report the loss analysis shows), computed once per run instead of on
every request: at 1,000,000 people `build_report` and the stage KPIs take seconds, and what they show
changes only when a run finishes (or the mapping changes).

The key is the newest finished run (its id; a run still going does not count) and the mapping object.
A request gets the newest computed value with the run it is "as of":
- the key unchanged: that value, at once;
- a newer run finished: the value of the earlier run, at once, labelled with its run and marked
  "updating", while one background thread computes the new one (a store whose last computation took
  under `SYNC_BELOW` seconds is small: the request waits for the new value instead);
- nothing usable yet (the first request, or the mapping changed): it waits up to `FIRST_WAIT` seconds
  for the computation, then the page says the report is being computed (and reloads itself).
A failed computation is reported on the page and tried again on the next request.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sync.state import schema as s
from sync.state.store import StateStore

SYNC_BELOW = 1.0  # seconds: a computation this quick is waited for (small stores never see a stale page)
FIRST_WAIT = 3.0  # seconds a request waits for a first computation before showing "being computed"


@dataclass(frozen=True)
class RunKey:
    """The newest finished run (None: no run finished yet)."""

    run_id: int | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Computed:
    value: Any
    run: RunKey
    mapping: Any  # the mapping object it was computed with (held, so its identity stays unique)
    computed_at: datetime
    seconds: float


@dataclass(frozen=True)
class CacheView:
    """What a page shows: `computed` (None while the first computation runs), whether a newer one is
    being computed, and the last computation's error if it failed."""

    computed: Computed | None
    updating: bool
    error: str | None


def newest_finished_run(store: StateStore) -> RunKey:
    r = s.runs.c
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(r.id, r.finished_at).where(r.status != "running")
                           .order_by(r.id.desc()).limit(1)).first()
    return RunKey(row.id, row.finished_at) if row else RunKey(None, None)


class ReportCache:
    """`compute(mapping)` over one store, cached by the newest finished run and the mapping."""

    def __init__(self, store: StateStore, compute: Callable[[Any], Any], *, sync_below: float = SYNC_BELOW,
                 first_wait: float = FIRST_WAIT) -> None:
        self.store = store
        self.compute = compute
        self.sync_below = sync_below
        self.first_wait = first_wait
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._computed: Computed | None = None
        self._working: tuple[RunKey, Any] | None = None  # the key being computed
        self._error: str | None = None
        self._last_seconds: float | None = None

    def get(self, mapping: Any) -> CacheView:
        """The view for a request (called in the thread pool: it may wait, see the module's doc)."""
        key = newest_finished_run(self.store)
        with self._lock:
            usable = self._computed is not None and self._computed.mapping is mapping
            small = self._last_seconds is not None and self._last_seconds < self.sync_below
            deadline = math.inf if small else time.monotonic() + (0.0 if usable else self.first_wait)
            started = False
            while not self._fresh(key, mapping):
                if self._working is None:
                    if started:
                        break  # ours ended without a value: its error is shown
                    self._start(key, mapping)
                    started = True
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._done.wait(None if left == math.inf else left)
            usable = self._computed is not None and self._computed.mapping is mapping
            return CacheView(self._computed if usable else None, not self._fresh(key, mapping), self._error)

    def _fresh(self, key: RunKey, mapping: Any) -> bool:
        c = self._computed
        return c is not None and c.run.run_id == key.run_id and c.mapping is mapping

    def _start(self, key: RunKey, mapping: Any) -> None:
        """One computation at a time (the lock is held)."""
        if self._working is not None:
            return
        self._working = (key, mapping)
        self._error = None
        threading.Thread(target=self._work, args=(key, mapping), name="leadsync-report-cache",
                         daemon=True).start()

    def _work(self, key: RunKey, mapping: Any) -> None:
        started = time.perf_counter()
        value, error = None, None
        try:
            value = self.compute(mapping)
        except Exception as exc:  # noqa: BLE001 - shown on the page, tried again on the next request
            error = f"{type(exc).__name__}: {exc}"
        seconds = time.perf_counter() - started
        with self._lock:
            if error is None:
                self._computed = Computed(value, key, mapping, datetime.now(UTC), seconds)
                self._last_seconds = seconds
            self._error = error
            self._working = None
            self._done.notify_all()


def computing_page(console: Any, request: Any, heading: str, cache: CacheView) -> Any:
    """The page while the first computation runs (or after it failed): never a blank or a wrong page.
    It reloads itself (a `Refresh` header: no script) until the figures are there."""
    response = console.render(request, "report_computing.html", heading=heading, cache=cache)
    if cache.error is None:
        response.headers["Refresh"] = "3"
    return response
