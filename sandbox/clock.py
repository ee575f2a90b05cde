"""`SandboxClock`: an emulator's notion of "now" — its base clock (real UTC time by default) plus an
offset that `move_to` sets, so a test or an operator can place writes in the past (or the future).

The clock keeps running after a move (now = base + offset), so the writes made after it still get
increasing timestamps (SystemModstamp order, watermarks). Not a Salesforce feature: the real org's
CreatedDate, SystemModstamp and OpportunityHistory.CreatedDate are system fields the API cannot set
(https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/system_fields.htm), which is why
the emulator moves its clock instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _utc_now() -> datetime:
    return datetime.now(UTC)


def parse_instant(text: str) -> datetime:
    """An ISO-8601 date (midnight) or date-time; one without a zone is UTC, as for `leadsync sync
    --now` (never the machine's zone: the day a write lands on must not depend on it)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SandboxClock:
    """Callable: the current instant (timezone-aware UTC)."""

    def __init__(self, base: Callable[[], datetime] | None = None) -> None:
        self.base = base or _utc_now
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.base() + self._offset

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def move_to(self, instant: datetime | None) -> datetime:
        """Make now `instant` (it runs on from there); None: back to the base clock. Returns now."""
        if instant is not None and instant.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware instant")
        with self._lock:
            self._offset = timedelta(0) if instant is None else instant - self.base()
        return self()
