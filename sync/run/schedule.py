"""The long-running scheduler behind `leadsync schedule`: one run at a time, clean stop on a signal.

A trigger is either a fixed interval (`--every 15m`) or a cron expression (`--cron "*/15 * * * *"`,
parsed by croniter). Runs never overlap: the next fire time is computed after a run finishes, and a run
that overshoots its slot simply makes the scheduler skip to the next slot in the future. SIGINT/SIGTERM
set a stop event; the runner checks it between batches, so a stop finishes the current batch cleanly.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import croniter

from sync.state.errors import StateStoreError

log = logging.getLogger(__name__)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"(\d+)\s*([smhd])")


class ScheduleError(ValueError):
    """An --every or --cron value that cannot be used; the message says why."""


def parse_interval(text: str) -> timedelta:
    """'15m', '1h30m', '90s', '1d' -> timedelta. At least one minute apart."""
    compact = text.strip().lower().replace(" ", "")
    parts = _INTERVAL.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise ScheduleError(f"--every {text!r}: expected a duration like 15m, 1h, 1h30m or 90s")
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds < 60:
        raise ScheduleError(f"--every {text!r}: the shortest interval is 1m")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Trigger:
    """When the next run is due, given the current time (UTC)."""

    every: timedelta | None = None
    cron: str | None = None

    @classmethod
    def from_options(cls, every: str | None, cron: str | None, configured: str | None = None) -> Trigger:
        """`--every` or `--cron`; without either, `configured` (the settings' `[schedule] cron`)."""
        if every is None and cron is None:
            cron = configured
        if (every is None) == (cron is None):
            raise ScheduleError("give exactly one of --every or --cron "
                                "(or set [schedule] cron in the settings)")
        if every is not None:
            return cls(every=parse_interval(every))
        assert cron is not None
        if not croniter.is_valid(cron):
            raise ScheduleError(f"--cron {cron!r}: not a valid cron expression (e.g. \"*/15 * * * *\")")
        return cls(cron=cron)

    def next_after(self, now: datetime) -> datetime:
        if self.every is not None:
            return now + self.every
        return croniter(self.cron, now).get_next(datetime)

    def describe(self) -> str:
        return f"every {self.every}" if self.every is not None else f"cron {self.cron!r} (UTC)"


def run_schedule(
    job: Callable[[threading.Event], int],
    trigger: Trigger,
    stop: threading.Event,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    wait: Callable[[float], bool] | None = None,
    max_runs: int | None = None,
    run_immediately: bool = True,
) -> int:
    """Call `job(stop)` on the trigger until `stop` is set (or `max_runs` runs). Returns runs made.

    A job's exception is logged and the schedule goes on (the next run retries); its exit code is
    logged. Waiting uses `stop.wait` (injectable), so a signal ends the wait at once.
    """
    wait_for = wait or stop.wait
    runs = 0
    due = clock() if run_immediately else trigger.next_after(clock())
    log.info("scheduler started: %s; first run at %s", trigger.describe(), due.isoformat())
    while not stop.is_set() and (max_runs is None or runs < max_runs):
        remaining = (due - clock()).total_seconds()
        if remaining > 0 and wait_for(remaining):
            break
        started = clock()
        try:
            code = job(stop)
            log.info("scheduled run finished with exit code %s in %.1fs", code,
                     (clock() - started).total_seconds())
        except StateStoreError as exc:  # a full disk, a database restart: the next run will try again
            log.error("scheduled run failed: %s; the next run will try again", exc)
        except Exception:  # a failed run must not kill the schedule
            log.exception("scheduled run failed; the next run will try again")
        runs += 1
        due = trigger.next_after(clock())
        while due <= clock():  # overshot one or more slots: skip to the next one in the future
            due = trigger.next_after(due)
        if not stop.is_set() and (max_runs is None or runs < max_runs):
            log.info("next run at %s", due.isoformat())
    log.info("scheduler stopped after %d run(s)", runs)
    return runs
