"""OpportunityHistory stored as columns: about 60 bytes a row where a `Row`, its tuple, its 18-character
Id, its datetime and float objects and a dict entry took about 380. The demo book holds more history rows
than all other Salesforce rows together (2.2 per person), so this is the largest single share of the
emulator's memory at a million people.

`HistoryRows` is a mutable mapping id -> `Row` like `Table.rows` elsewhere: a row is packed into the
columns when it is stored and rebuilt (an equal `Row`, same keys in the same order, same value types)
when it is read. Row number n (the counter in its id, see ids.make_id) sits at position n - 1. A row
whose values do not pack exactly (an unexpected type, key order or field) is kept as it is, in
`_other`: the packing is a representation, never a change of what the API answers.

`ParentChain` replaces the equality index on OpportunityId: per opportunity number, the newest history
row; per history row, the previous one of the same opportunity (8 bytes a row, no id strings).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterator, MutableMapping
from datetime import UTC, date, datetime
from typing import Any

from .ids import id_number, make_id, restore_case
from .rows import Row, Shapes

HISTORY_FIELDS = frozenset({
    "Id", "IsDeleted", "CreatedDate", "CreatedById", "SystemModstamp", "OpportunityId", "StageName",
    "Amount", "ExpectedRevenue", "CloseDate", "Probability",
})
PREFIX, OPPORTUNITY, USER = "008", "006", "005"
_OPTIONAL = ("CloseDate", "Amount", "Probability", "ExpectedRevenue")  # in the order rows are built
# flags: bit 0 row present; bits 1-4 the optional values present (in _OPTIONAL order); bit 5 IsDeleted
# present (then bit 6 its value)
_PRESENT, _DELETED_KEY, _DELETED = 1, 1 << 5, 1 << 6
_INT32 = 1 << 31


def _exact_number(value: Any, prefix: str) -> int | None:
    """The counter of `value` when it is exactly an id `make_id(prefix, n)` builds, else None."""
    if type(value) is not str or len(value) != 18 or not value.startswith(prefix):
        return None
    try:
        number = id_number(value)
    except KeyError:
        return None
    return number if 0 < number < 62**9 and make_id(prefix, number) == value else None


def _canonical_number(value: Any, prefix: str) -> int | None:
    """The counter of the 18-character id `value` (any letter case: the checksum suffix says which
    letters are capitals), or None when it is not an id of `prefix`."""
    if not isinstance(value, str) or len(value) != 18:
        return None
    exact = _exact_number(value, prefix)
    return exact if exact is not None else _exact_number(restore_case(value), prefix)


class HistoryRows(MutableMapping[str, Row]):
    def __init__(self, shapes: Shapes, stages: tuple[str, ...]):
        self._shapes = shapes
        self._stages = stages
        self._stage_code = {s: i for i, s in enumerate(stages)}
        self._flags = bytearray()
        self._stage = bytearray()
        self._opp = array("i")  # counters below 2**31 (checked when packing): 4 bytes, not 8
        self._user = array("i")
        self._created = array("q")
        self._modstamp = array("q")
        self._close = array("i")
        # ExpectedRevenue is not kept: a row packs only when it is Amount * Probability / 100, as the
        # org computes it (rules.after_write), and is computed again when the row is read
        self._floats = {name: array("d") for name in ("Amount", "Probability")}
        self._other: dict[int, Row] = {}  # rows that do not pack exactly, by number
        self._count = 0
        self._last: tuple[Any, int | None, Any, int | None] = (None, None, None, None)  # last ids packed

    # ------------------------------------------------------------ packing
    def _pack(self, rec: Any) -> tuple[Any, ...] | None:
        """The column values of `rec`, or None when it would not come back equal."""
        names = tuple(rec)
        keys = set(names)
        if not keys <= HISTORY_FIELDS:
            return None
        opp = rec.get("OpportunityId")
        stage = self._stage_code.get(rec.get("StageName"))  # type: ignore[arg-type]
        created, modstamp = rec.get("CreatedDate"), rec.get("SystemModstamp")
        if stage is None or not (_is_instant(created) and _is_instant(modstamp)):
            return None
        user = rec.get("CreatedById")
        last_opp, opp_n, last_user, user_n = self._last  # an opportunity's rows come one after another
        if opp is not last_opp:
            opp_n = _exact_number(opp, OPPORTUNITY)
        if user is not last_user:
            user_n = _exact_number(user, USER)
        self._last = (opp, opp_n, user, user_n)
        if opp_n is None or user_n is None or opp_n >= _INT32 or user_n >= _INT32:
            return None
        flags = _PRESENT
        close = 0
        floats = {}
        for bit, name in enumerate(_OPTIONAL, start=1):
            if name not in keys:
                continue
            value = rec[name]
            if name == "CloseDate":
                if type(value) is not date:
                    return None
                close = value.toordinal()
            elif type(value) is not float or math.isnan(value):
                return None
            elif name == "ExpectedRevenue":
                if not _expected(floats, value):
                    return None
            else:
                floats[name] = value
            flags |= 1 << bit
        if "IsDeleted" in keys:
            if type(rec["IsDeleted"]) is not bool:
                return None
            flags |= _DELETED_KEY | (_DELETED if rec["IsDeleted"] else 0)
        if names != self._names(flags):
            return None
        return flags, stage, opp_n, user_n, _seconds(created), _seconds(modstamp), close, floats

    @staticmethod
    def _names(flags: int) -> tuple[str, ...]:
        """The keys of a packed row, in the order the store builds them (store.insert_system_row, then
        IsDeleted added by a delete)."""
        names = ["OpportunityId", "StageName"]
        names += [name for bit, name in enumerate(_OPTIONAL, start=1) if flags >> bit & 1]
        names += ["Id", "CreatedDate", "CreatedById", "SystemModstamp"]
        if flags & _DELETED_KEY:
            names.append("IsDeleted")
        return tuple(names)

    def _unpack(self, number: int) -> Row:
        i = number - 1
        flags = self._flags[i]
        rec: dict[str, Any] = {
            "OpportunityId": make_id(OPPORTUNITY, self._opp[i]), "StageName": self._stages[self._stage[i]],
        }
        if flags & 2:
            rec["CloseDate"] = date.fromordinal(self._close[i])
        for bit, name in ((2, "Amount"), (3, "Probability")):
            if flags >> bit & 1:
                rec[name] = self._floats[name][i]
        if flags & 16:
            rec["ExpectedRevenue"] = rec["Amount"] * rec["Probability"] / 100
        rec["Id"] = make_id(PREFIX, number)
        rec["CreatedDate"] = datetime.fromtimestamp(self._created[i], UTC)
        rec["CreatedById"] = make_id(USER, self._user[i])
        rec["SystemModstamp"] = datetime.fromtimestamp(self._modstamp[i], UTC)
        if flags & _DELETED_KEY:
            rec["IsDeleted"] = bool(flags & _DELETED)
        return self._shapes.row(rec)

    def _grow(self, size: int) -> None:
        while len(self._flags) < size:
            self._flags.append(0)
            self._stage.append(0)
            for column in (self._opp, self._user, self._created, self._modstamp, self._close,
                           *self._floats.values()):
                column.append(0)

    # ------------------------------------------------------------ mapping
    def _number(self, key: object) -> int | None:
        if not isinstance(key, str) or len(key) != 18 or key[:3] != PREFIX:
            return None
        try:
            number = id_number(key)
        except KeyError:
            return None
        if not 0 < number <= len(self._flags) or make_id(PREFIX, number) != key:
            return None
        return number

    def __getitem__(self, key: str) -> Row:
        number = self._number(key)
        if number is None:
            raise KeyError(key)
        other = self._other.get(number)
        if other is not None:
            return other
        if not self._flags[number - 1] & _PRESENT:
            raise KeyError(key)
        return self._unpack(number)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key: object) -> bool:
        number = self._number(key)
        return number is not None and (number in self._other or bool(self._flags[number - 1] & _PRESENT))

    def __setitem__(self, key: str, rec: Any) -> None:
        number = id_number(key) if isinstance(key, str) and key[:3] == PREFIX else 0
        if number <= 0 or make_id(PREFIX, number) != key or rec.get("Id") != key:
            raise KeyError(key)
        self._grow(number)
        i = number - 1
        was = bool(self._flags[i] & _PRESENT) or number in self._other
        packed = self._pack(rec)
        if packed is None:
            self._flags[i] = 0
            self._other[number] = self._shapes.row(rec)
        else:
            self._other.pop(number, None)
            flags, stage, opp, user, created, modstamp, close, floats = packed
            self._flags[i], self._stage[i], self._opp[i], self._user[i] = flags, stage, opp, user
            self._created[i], self._modstamp[i], self._close[i] = created, modstamp, close
            for name, column in self._floats.items():
                column[i] = floats.get(name, 0.0)
        if not was:
            self._count += 1

    def __delitem__(self, key: str) -> None:
        number = self._number(key)
        if number is None or key not in self:
            raise KeyError(key)
        self._other.pop(number, None)
        self._flags[number - 1] = 0
        self._count -= 1

    def instant(self, field: str) -> Callable[[str], datetime | None] | None:
        """`key -> rows[key].get(field)` for CreatedDate or SystemModstamp (what the range index checks
        its entries against), read from the column without rebuilding the row; None for other fields."""
        column = {"CreatedDate": self._created, "SystemModstamp": self._modstamp}.get(field)
        if column is None:
            return None

        def current(key: str) -> datetime | None:
            number = self._number(key)
            if number is None:
                return None
            other = self._other.get(number)
            if other is not None:
                return other.get(field)  # type: ignore[no-any-return]
            if not self._flags[number - 1] & _PRESENT:
                return None
            return datetime.fromtimestamp(column[number - 1], UTC)

        return current

    def __iter__(self) -> Iterator[str]:
        flags, other = self._flags, self._other
        for i in range(len(flags)):
            if flags[i] & _PRESENT or i + 1 in other:
                yield make_id(PREFIX, i + 1)

    def __len__(self) -> int:
        return self._count


class ParentChain:
    """The equality index of OpportunityHistory.OpportunityId (same interface as indexes.EqIndex):
    `_head[opportunity number]` = the newest history row number of that opportunity (0 = none),
    `_next[row number]` = the one before it."""

    def __init__(self) -> None:
        # 4-byte row numbers: 2**31 history rows would not fit in memory anyway (OverflowError if so)
        self._head = array("i")
        self._next = array("i", [0])
        self._last: tuple[Any, int | None] = (None, None)

    def add(self, value: Any, record_id: str) -> None:
        last, parent = self._last
        if value is not last:
            parent = _canonical_number(value, OPPORTUNITY)
            self._last = (value, parent)
        if parent is None:
            return
        number = id_number(record_id)
        if number in self._chain(parent):
            return
        _extend(self._head, parent + 1)
        _extend(self._next, number + 1)
        self._next[number] = self._head[parent]
        self._head[parent] = number

    def remove(self, value: Any, record_id: str) -> None:
        parent = _canonical_number(value, OPPORTUNITY)
        if parent is None or parent >= len(self._head):
            return
        number = id_number(record_id)
        prev, cur = 0, self._head[parent]
        while cur:
            if cur == number:
                if prev:
                    self._next[prev] = self._next[cur]
                else:
                    self._head[parent] = self._next[cur]
                self._next[cur] = 0
                return
            prev, cur = cur, self._next[cur]

    def _chain(self, parent: int) -> list[int]:
        out = []
        cur = self._head[parent] if parent < len(self._head) else 0
        while cur:
            out.append(cur)
            cur = self._next[cur]
        return out

    def find(self, value: Any) -> frozenset[str]:
        parent = _canonical_number(value, OPPORTUNITY)
        if parent is None:
            return frozenset()
        return frozenset(make_id(PREFIX, n) for n in self._chain(parent))


def _extend(column: array, size: int) -> None:  # type: ignore[type-arg]
    if len(column) < size:
        column.extend([0] * (size - len(column)))


def _expected(floats: dict[str, float], value: float) -> bool:
    """Whether `value` is exactly (sign of a zero included) what Amount * Probability / 100 gives."""
    if "Amount" not in floats or "Probability" not in floats:
        return False
    computed = floats["Amount"] * floats["Probability"] / 100
    return computed == value and math.copysign(1.0, computed) == math.copysign(1.0, value)


def _is_instant(value: Any) -> bool:
    return type(value) is datetime and value.tzinfo is UTC and not value.microsecond


def _seconds(value: datetime) -> int:
    return int(value.timestamp())
