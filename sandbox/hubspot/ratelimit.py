"""Per-token rate limits: a rolling 10-second window, a daily allowance and search's own per-second cap.

Requests refused with a 429 are not counted. Search requests count against the daily allowance and
the search cap, not against the 10-second window, and their responses carry no rate-limit headers
(as the real API documents). The day rolls over at midnight UTC (real portals use their time zone).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

WINDOW_S = 10.0
SEARCH_WINDOW_S = 1.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: str | None = None  # TEN_SECONDLY_ROLLING, DAILY or SECONDLY when refused
    retry_after: int = 0  # whole seconds until a retry can succeed
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Usage:
    window: deque[float] = field(default_factory=deque)
    second: deque[float] = field(default_factory=deque)  # last second of `window` (-Secondly-Remaining)
    searches: deque[float] = field(default_factory=deque)
    day: str = ""
    daily: int = 0


class RateLimiter:
    def __init__(
        self,
        *,
        requests_per_10s: int,
        daily_limit: int,
        searches_per_second: float,
        clock: Callable[[], datetime],
    ):
        self.requests_per_10s = requests_per_10s
        self.daily_limit = daily_limit
        self.searches_per_second = searches_per_second
        self.clock = clock
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = {}

    def reset(self) -> None:
        with self._lock:
            self._usage.clear()

    def check(self, token: str, *, search: bool) -> Decision:
        """Count one request for `token` if it is within its limits; otherwise say which limit refused it."""
        moment = self.clock()
        now = moment.timestamp()
        day = moment.date().isoformat()
        with self._lock:
            usage = self._usage.setdefault(token, _Usage())
            if usage.day != day:
                usage.day, usage.daily = day, 0
            _expire(usage.window, now - WINDOW_S)
            _expire(usage.second, now - 1.0)
            _expire(usage.searches, now - SEARCH_WINDOW_S)
            if usage.daily >= self.daily_limit:
                midnight = datetime.combine(
                    moment.date() + timedelta(days=1), datetime.min.time(), tzinfo=moment.tzinfo
                )
                return self._refuse("DAILY", math.ceil((midnight - moment).total_seconds()), usage, search)
            if search:
                per_second = max(1, int(self.searches_per_second))
                if len(usage.searches) >= per_second:
                    wait = usage.searches[0] + SEARCH_WINDOW_S - now
                    return self._refuse("SECONDLY", max(1, math.ceil(wait)), usage, search)
                usage.searches.append(now)
            else:
                if len(usage.window) >= self.requests_per_10s:
                    wait = usage.window[0] + WINDOW_S - now
                    return self._refuse("TEN_SECONDLY_ROLLING", max(1, math.ceil(wait)), usage, search)
                usage.window.append(now)
                usage.second.append(now)
            usage.daily += 1
            return Decision(True, headers={} if search else self._headers(usage))

    def _refuse(self, policy: str, retry_after: int, usage: _Usage, search: bool) -> Decision:
        return Decision(False, policy, retry_after, {} if search else self._headers(usage))

    def _headers(self, usage: _Usage) -> dict[str, str]:
        secondly = max(1, self.requests_per_10s // 10)
        last_second = len(usage.second)
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily_limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, self.daily_limit - usage.daily)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_S * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.requests_per_10s),
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.requests_per_10s - len(usage.window))),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, secondly - last_second)),
        }


def _expire(times: deque[float], horizon: float) -> None:
    while times and times[0] <= horizon:
        times.popleft()


RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "DAILY": "You have reached your daily limit.",
    "SECONDLY": "You have reached your secondly limit.",
}
