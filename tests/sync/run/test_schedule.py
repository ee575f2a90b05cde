"""The scheduler: trigger parsing, next-run computation, one run at a time, clean stop."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from sync.run.schedule import ScheduleError, Trigger, parse_interval, run_schedule
from sync.state.errors import StateStoreFullError

T0 = datetime(2026, 11, 22, 10, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15m", 900), ("1h", 3600), ("1h30m", 5400), ("90s", 90), ("1d", 86400), (" 2H ", 7200)],
)
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "15", "m", "15x", "1h-5m", "30s", "abc15m"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(ScheduleError, match="--every"):
        parse_interval(text)


@pytest.mark.parametrize(
    ("every", "cron", "message"),
    [(None, None, "exactly one"), ("15m", "*/5 * * * *", "exactly one"), (None, "61 * * * *", "not a valid")],
)
def test_trigger_options_rejected(every: str | None, cron: str | None, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        Trigger.from_options(every, cron)


def test_without_options_the_configured_cron_is_used_and_options_win_over_it() -> None:
    assert Trigger.from_options(None, None, "0 6 * * *").cron == "0 6 * * *"
    assert Trigger.from_options("15m", None, "0 6 * * *").every == timedelta(minutes=15)
    assert Trigger.from_options(None, "*/5 * * * *", "0 6 * * *").cron == "*/5 * * * *"
    with pytest.raises(ScheduleError, match=r"or set \[schedule\] cron"):
        Trigger.from_options(None, None, None)


def test_cron_next_is_the_next_slot() -> None:
    trigger = Trigger.from_options(None, "*/15 * * * *")
    assert trigger.next_after(T0) == datetime(2026, 11, 22, 10, 15, tzinfo=UTC)


class FakeTime:
    """A clock that only moves when the scheduler waits or a job takes time."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.waits: list[float] = []

    def clock(self) -> datetime:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)
        return False


def test_runs_on_interval_and_never_overlaps() -> None:
    fake = FakeTime(T0)
    started: list[datetime] = []

    def job(_stop: threading.Event) -> int:
        started.append(fake.now)
        fake.now += timedelta(minutes=2)  # the run takes two minutes
        return 0

    runs = run_schedule(job, Trigger(every=timedelta(minutes=15)), threading.Event(),
                        clock=fake.clock, wait=fake.wait, max_runs=3)
    assert runs == 3
    # next run is computed after the previous one finished: 15 minutes after its end
    assert [s - T0 for s in started] == [timedelta(0), timedelta(minutes=17), timedelta(minutes=34)]


def test_overrun_skips_missed_cron_slots() -> None:
    fake = FakeTime(T0)
    started: list[datetime] = []

    def job(_stop: threading.Event) -> int:
        started.append(fake.now)
        fake.now += timedelta(minutes=40)  # overruns two 15-minute slots
        return 1

    run_schedule(job, Trigger(cron="*/15 * * * *"), threading.Event(), clock=fake.clock, wait=fake.wait,
                 max_runs=2)
    assert started[1] == datetime(2026, 11, 22, 11, 0, tzinfo=UTC)  # 10:47:30 end -> next slot 11:00


def _runs_with_a_first_job_raising(exc: Exception) -> int:
    """Two scheduled runs, the first job raising `exc`; how many runs the schedule made."""
    fake = FakeTime(T0)
    calls = 0

    def job(_stop: threading.Event) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise exc
        return 0

    return run_schedule(job, Trigger(every=timedelta(minutes=1)), threading.Event(), clock=fake.clock,
                        wait=fake.wait, max_runs=2)


def test_failing_job_does_not_stop_the_schedule() -> None:
    assert _runs_with_a_first_job_raising(RuntimeError("boom")) == 2


def test_state_store_trouble_in_a_scheduled_run_is_one_line_and_the_schedule_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    full = StateStoreFullError("state store /srv/leadsync.db: the disk holding it is full")
    assert _runs_with_a_first_job_raising(full) == 2
    failed = [r for r in caplog.records if "scheduled run failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is None  # a sentence, no traceback
    assert "the disk holding it is full" in failed[0].getMessage()


def test_stop_event_ends_the_wait_and_the_loop() -> None:
    stop = threading.Event()
    runs: list[int] = []

    def job(s: threading.Event) -> int:
        runs.append(1)
        s.set()  # e.g. SIGTERM arrived during the run
        return 0

    assert run_schedule(job, Trigger(every=timedelta(hours=1)), stop) == 1
    assert runs == [1]
