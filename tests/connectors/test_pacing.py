"""Client-side pacing on a virtual clock: limits hold in every window, waits are minimal."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.pacing import IntervalLimiter, Pacer, RollingWindowLimiter, VirtualClock


def _max_in_any_window(starts: list[float], window: float) -> int:
    """The most call starts in any half-open interval [t, t + window) (less a nanosecond: float sums
    such as 1.96 + 10 land a hair below the exact edge)."""
    best = 0
    for i, t in enumerate(starts):
        best = max(best, sum(1 for s in starts[i:] if s < t + window - 1e-9))
    return best


@pytest.mark.parametrize(("max_calls", "window", "calls"), [(1, 10.0, 5), (3, 10.0, 10), (100, 10.0, 350),
                                                            (5, 1.0, 23)])
def test_rolling_window_never_exceeds_the_limit(max_calls: int, window: float, calls: int) -> None:
    clock = VirtualClock()
    limiter = RollingWindowLimiter(max_calls, window, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(calls):
        limiter.acquire()
        starts.append(clock())
    assert _max_in_any_window(starts, window) == min(max_calls, calls)
    # minimal waiting: the k-th call of each group starts exactly one window after the group before
    assert starts[-1] == pytest.approx(((calls - 1) // max_calls) * window)


def test_rolling_window_does_not_wait_when_calls_are_spread_out() -> None:
    clock = VirtualClock()
    limiter = RollingWindowLimiter(2, 10.0, clock=clock, sleep=clock.sleep)
    for _ in range(6):
        assert limiter.acquire() == 0.0
        clock.advance(5.0)
    assert clock.sleeps == []


def test_rolling_window_waits_only_for_the_oldest_call_to_leave() -> None:
    clock = VirtualClock()
    limiter = RollingWindowLimiter(2, 10.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.advance(4.0)
    limiter.acquire()
    clock.advance(1.0)
    assert limiter.acquire() == pytest.approx(5.0)  # the call at t=0 leaves the window at t=10
    assert clock() == pytest.approx(10.0)


@given(gaps=st.lists(st.floats(min_value=0.0, max_value=4.0), min_size=1, max_size=60),
       max_calls=st.integers(min_value=1, max_value=7))
@settings(max_examples=60, deadline=None)
def test_rolling_window_property(gaps: list[float], max_calls: int) -> None:
    clock = VirtualClock()
    limiter = RollingWindowLimiter(max_calls, 10.0, clock=clock, sleep=clock.sleep)
    starts = []
    for gap in gaps:
        clock.advance(gap)
        limiter.acquire()
        starts.append(clock())
    assert _max_in_any_window(starts, 10.0) <= max_calls


@pytest.mark.parametrize("rate", [5.0, 4.0, 0.5])
def test_interval_limiter_spaces_calls(rate: float) -> None:
    clock = VirtualClock()
    limiter = IntervalLimiter(rate, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(12):
        limiter.acquire()
        starts.append(clock())
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert min(gaps) == pytest.approx(1.0 / rate)
    assert starts[0] == 0.0


def test_interval_limiter_does_not_wait_after_a_pause() -> None:
    clock = VirtualClock()
    limiter = IntervalLimiter(5.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.advance(3.0)
    assert limiter.acquire() == 0.0


def test_pacer_applies_every_limiter() -> None:
    clock = VirtualClock()
    per_second = IntervalLimiter(5.0, clock=clock, sleep=clock.sleep)
    per_window = RollingWindowLimiter(10, 10.0, clock=clock, sleep=clock.sleep)
    pacer = Pacer([per_second, per_window])
    starts = []
    for _ in range(25):
        pacer.acquire()
        starts.append(clock())
    assert _max_in_any_window(starts, 10.0) <= 10
    assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) >= 0.2 - 1e-9


@pytest.mark.parametrize("kind", ["rolling", "interval"])
def test_limiters_are_thread_safe(kind: str) -> None:
    clock = VirtualClock()
    starts: list[float] = []  # appended by on_start under the limiter's lock: the granted schedule
    limiter = (RollingWindowLimiter(7, 10.0, clock=clock, sleep=clock.sleep, on_start=starts.append)
               if kind == "rolling" else
               IntervalLimiter(5.0, clock=clock, sleep=clock.sleep, on_start=starts.append))

    def worker() -> None:
        for _ in range(20):
            limiter.acquire()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(starts) == 80
    if kind == "rolling":
        assert _max_in_any_window(sorted(starts), 10.0) <= 7
    else:
        assert starts == sorted(starts)
        assert min(b - a for a, b in zip(starts, starts[1:], strict=False)) == pytest.approx(0.2)


@pytest.mark.parametrize(("factory", "arg"), [(RollingWindowLimiter, 0), (IntervalLimiter, 0.0)])
def test_rejects_nonsense_limits(factory: type, arg: float) -> None:
    with pytest.raises(ValueError):
        factory(arg, 10.0) if factory is RollingWindowLimiter else factory(arg)
