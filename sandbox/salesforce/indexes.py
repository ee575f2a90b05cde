"""Secondary indexes of one table: equality (reference ids, emails, external ids) and time ranges.

The range index is append-only with lazy invalidation: an update appends a new (stamp, id) entry and
leaves the old one behind; readers keep only entries whose stamp still equals the record's current
value. Out-of-order appends (seeding history in the past) just mark the index unsorted; it is sorted
once on the next range read. Stale entries are compacted when they outnumber live ones.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any


def index_key(value: Any) -> Any:
    """Equality keys are case-insensitive for text (emails, external ids); ids are already 18-char."""
    return value.lower() if isinstance(value, str) else value


_EMPTY: frozenset[str] = frozenset()


class EqIndex:
    def __init__(self) -> None:
        self._map: dict[Any, set[str]] = {}

    def add(self, value: Any, record_id: str) -> None:
        if value is not None:
            self._map.setdefault(index_key(value), set()).add(record_id)

    def remove(self, value: Any, record_id: str) -> None:
        if value is None:
            return
        key = index_key(value)
        ids = self._map.get(key)
        if ids is not None:
            ids.discard(record_id)
            if not ids:
                del self._map[key]

    def find(self, value: Any) -> set[str] | frozenset[str]:
        return self._map.get(index_key(value), _EMPTY)


class RangeIndex:
    def __init__(self, field: str) -> None:
        self.field = field
        self._entries: list[tuple[float, str]] = []
        self._sorted = True
        self._stale = 0

    def add(self, value: datetime | None, record_id: str) -> None:
        if value is None:
            return
        entry = (value.timestamp(), record_id)
        if self._sorted and self._entries and entry < self._entries[-1]:
            self._sorted = False
        self._entries.append(entry)

    def remove(self, value: datetime | None, record_id: str) -> None:
        if value is not None:
            self._stale += 1

    def find(
        self,
        low: datetime | None,
        high: datetime | None,
        low_incl: bool,
        high_incl: bool,
        current: Callable[[str], datetime | None],
    ) -> Iterable[str]:
        """Ids whose current value lies in the range (None = unbounded)."""
        if not self._sorted:
            self._entries.sort()
            self._sorted = True
        if self._stale > len(self._entries) // 2:
            self._compact(current)
        entries = self._entries
        start = 0
        if low is not None:
            key = (low.timestamp(), "" if low_incl else "\uffff")
            start = bisect_left(entries, key)
        end = len(entries)
        if high is not None:
            key = (high.timestamp(), "\uffff" if high_incl else "")
            end = bisect_right(entries, key)
        seen: set[str] = set()
        for stamp, record_id in entries[start:end]:
            value = current(record_id)
            if value is not None and value.timestamp() == stamp and record_id not in seen:
                seen.add(record_id)
                yield record_id

    def _compact(self, current: Callable[[str], datetime | None]) -> None:
        live = {}
        for stamp, record_id in self._entries:
            value = current(record_id)
            if value is not None and value.timestamp() == stamp:
                live[record_id] = stamp
        self._entries = sorted((stamp, rid) for rid, stamp in live.items())
        self._stale = 0
