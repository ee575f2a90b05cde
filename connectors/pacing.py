"""Client-side pacing: stay under an API's rate limits instead of bouncing off its 429s.

- `RollingWindowLimiter(n, window)`: at most `n` calls in any `window` seconds (HubSpot's
  "100/190 requests per 10 seconds, rolling").
- `IntervalLimiter(rate)`: calls spaced at least `1/rate` seconds apart (HubSpot search: a few per
  second per account, no rate-limit headers to watch).
- `Pacer`: several limiters acquired in order (a search call counts against both).

All are thread-safe. Time comes from an injectable `clock` (monotonic seconds) and waiting from an
injectable `sleep`, so tests and simulations run on a `VirtualClock` instead of wall-clock time.
A limiter records a call when it *starts*; retries of a call are paced like any other call. An
`on_start(t)` callback, called under the limiter's lock with each granted start time, lets tests and
metrics observe the schedule.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

Clock = Callable[[], float]
Sleep = Callable[[float], None]
OnStart = Callable[[float], None]
_TOLERANCE = 1e-9  # seconds


class Limiter(Protocol):
    def acquire(self) -> float:
        """Block until a call may start, record it, and return the seconds spent waiting."""
        ...


class RollingWindowLimiter:
    """At most `max_calls` call starts in any half-open interval of `window` seconds. `margin` adds
    seconds to the wait at the window's edge (network jitter can bring requests closer together on
    the server than they started here)."""

    def __init__(self, max_calls: int, window: float, *, margin: float = 0.0, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep, on_start: OnStart | None = None) -> None:
        if max_calls < 1:
            raise ValueError(f"max_calls must be at least 1, got {max_calls}")
        if window <= 0:
            raise ValueError(f"window must be positive, got {window}")
        self.max_calls = max_calls
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self.on_start = on_start
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                # a tolerance, so float rounding (now + delay < deadline) cannot spin on tiny waits
                while self._starts and self._starts[0] + self.window <= now + _TOLERANCE:
                    self._starts.popleft()
                if len(self._starts) < self.max_calls:
                    self._starts.append(now)
                    if self.on_start is not None:
                        self.on_start(now)
                    return waited
                delay = self._starts[0] + self.window - now
            self._sleep(delay)
            waited += delay


class IntervalLimiter:
    """Call starts spaced at least `1 / rate_per_second + margin` seconds apart."""

    def __init__(self, rate_per_second: float, *, margin: float = 0.0, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep, on_start: OnStart | None = None) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate_per_second must be positive, got {rate_per_second}")
        self.interval = 1.0 / rate_per_second + margin
        self._clock = clock
        self._sleep = sleep
        self.on_start = on_start
        self._next: float | None = None
        self._lock = threading.Lock()

    def acquire(self) -> float:
        with self._lock:  # reserve a slot under the lock, wait outside it
            now = self._clock()
            start = now if self._next is None else max(now, self._next)
            self._next = start + self.interval
            if self.on_start is not None:
                self.on_start(start)
        delay = start - now
        if delay > 0:
            self._sleep(delay)
        return max(delay, 0.0)


class Pacer:
    """Acquire several limiters in order; returns the total time waited."""

    def __init__(self, limiters: Sequence[Limiter]) -> None:
        self.limiters = tuple(limiters)

    def acquire(self) -> float:
        return sum(limiter.acquire() for limiter in self.limiters)


class VirtualClock:
    """A clock whose `sleep` advances time instead of waiting: deterministic pacing in tests and
    simulations. `sleeps` records every requested wait. Thread-safe."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds
