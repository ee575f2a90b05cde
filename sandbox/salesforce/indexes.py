"""Secondary indexes of one table: equality (reference ids, emails, external ids) and time ranges.

The range index is append-only with lazy invalidation: an update appends a new (stamp, id) entry and
leaves the old one behind; readers keep only entries whose stamp still equals the record's current
value. Out-of-order appends (seeding history in the past) just mark the index unsorted; it is sorted
once on the next range read. Stale entries are compacted when they outnumber live ones.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .ids import make_id, restore_case


def index_key(value: Any) -> Any:
    """Equality keys are case-insensitive for text (emails, external ids); ids are already 18-char.
    A value already in lower case is its own key (one string kept, not two)."""
    if isinstance(value, str):
        lower = value.lower()
        return value if lower == value else lower
    return value


_EMPTY: frozenset[str] = frozenset()


class EqIndex:
    """value -> the ids holding it. Most values (emails, external ids) have one id, a parent a few
    children: one id is kept as the bare id string, up to `SMALL` ids as a tuple, more as a set (an
    empty set alone costs about 200 bytes; at a million records that matters)."""

    SMALL = 16

    def __init__(self) -> None:
        self._map: dict[Any, str | tuple[str, ...] | set[str]] = {}

    @staticmethod
    def _key(value: Any) -> Any:
        """The key a stored value is filed under."""
        return index_key(value)

    @staticmethod
    def _find_key(value: Any) -> Any:
        """The key a looked-up value is found under."""
        return index_key(value)

    def add(self, value: Any, record_id: str) -> None:
        if value is None:
            return
        key = self._key(value)
        ids = self._map.get(key)
        if ids is None:
            self._map[key] = record_id
        elif isinstance(ids, str):
            if ids != record_id:
                self._map[key] = (ids, record_id)
        elif isinstance(ids, tuple):
            if record_id not in ids:
                self._map[key] = (*ids, record_id) if len(ids) < self.SMALL else {*ids, record_id}
        else:
            ids.add(record_id)

    def remove(self, value: Any, record_id: str) -> None:
        if value is None:
            return
        key = self._key(value)
        ids = self._map.get(key)
        if ids is None:
            return
        if isinstance(ids, str):
            if ids == record_id:
                del self._map[key]
            return
        if isinstance(ids, tuple):
            rest = tuple(i for i in ids if i != record_id)
            if not rest:
                del self._map[key]
            else:
                self._map[key] = rest[0] if len(rest) == 1 else rest
            return
        ids.discard(record_id)
        if not ids:
            del self._map[key]

    def find(self, value: Any) -> frozenset[str] | set[str]:
        ids = self._map.get(self._find_key(value))
        if ids is None:
            return _EMPTY
        if isinstance(ids, str):
            return frozenset((ids,))
        return frozenset(ids) if isinstance(ids, tuple) else ids


class RefIndex(EqIndex):
    """The equality index of a reference field. A stored reference is always an id in its own letter
    case (values.coerce, Store._check_references), so it is its own key: the row's string, no
    lower-cased copy (one per reference at a million records). A lookup in any letter case finds it
    through ids.restore_case, as the lower-cased keys did."""

    @staticmethod
    def _key(value: Any) -> Any:
        return value

    @staticmethod
    def _find_key(value: Any) -> Any:
        return restore_case(value) or value


class RangeIndex:
    """(stamp, id) entries of one datetime field, packed into one 64-bit integer each: whole seconds
    since the epoch (stored datetimes have no sub-second part, see values.parse_datetime) shifted left
    by 32, or'ed with the id's counter (ids.id_number; the id string is rebuilt with make_id). Eight
    bytes per entry in an array instead of a (float, str) tuple of about 90."""

    def __init__(self, field: str, key_prefix: str) -> None:
        self.field = field
        self.key_prefix = key_prefix
        self._entries = array("q")
        self._sorted = True
        self._stale = 0

    def add(self, value: datetime | None, number: int) -> None:
        """Index `value` of the record whose id is number `number` (ids.id_number)."""
        if value is None:
            return
        entry = (_seconds(value) << _SHIFT) | number
        entries = self._entries
        if self._sorted and entries and entry < entries[-1]:
            self._sorted = False
        entries.append(entry)

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
            self._entries = array("q", sorted(self._entries))
            self._sorted = True
        if self._stale > len(self._entries) // 2:
            self._compact(current)
        entries = self._entries
        start = 0
        if low is not None:  # first entry at or after the bound (strictly after when exclusive)
            lo = low.timestamp()
            first = math.ceil(lo) if low_incl else math.floor(lo) + 1
            start = bisect_left(entries, first << _SHIFT)
        end = len(entries)
        if high is not None:  # first entry past the bound
            hi = high.timestamp()
            past = math.floor(hi) + 1 if high_incl else math.ceil(hi)
            end = bisect_left(entries, past << _SHIFT)
        seen: set[str] = set()
        prefix = self.key_prefix
        for entry in entries[start:end]:
            record_id = make_id(prefix, entry & _MASK)
            value = current(record_id)
            if value is not None and _seconds(value) == entry >> _SHIFT and record_id not in seen:
                seen.add(record_id)
                yield record_id

    def _compact(self, current: Callable[[str], datetime | None]) -> None:
        live: dict[int, int] = {}
        prefix = self.key_prefix
        for entry in self._entries:
            number = entry & _MASK
            value = current(make_id(prefix, number))
            if value is not None and _seconds(value) == entry >> _SHIFT:
                live[number] = entry
        self._entries = array("q", sorted(live.values()))
        self._stale = 0


_SHIFT = 32
_MASK = (1 << _SHIFT) - 1


def _seconds(value: datetime) -> int:
    return math.floor(value.timestamp())
