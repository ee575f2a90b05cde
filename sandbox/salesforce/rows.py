"""Salesforce rows: read-only mappings kept as one tuple each, the `Shape` (field names, shared by every
row of that shape) in slot 0 and the values after it. About 180 bytes for a 15-field Contact where a
dict takes about 650 (and a mapping object holding a separate values tuple 50 more: at a million people,
a few million rows, that is the difference of a hundred megabytes).

Rows are never changed in place (the store builds a new one per write, see store.py), so a row can
be shared by query cursors and the rollback journal. `dict(row)` gives a plain, mutable copy. A row is a
`Mapping` only: its tuple methods are not part of its interface (it compares as a mapping).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sandbox.compact import Shape

__all__ = ["Row", "Shape", "Shapes"]

_item = tuple.__getitem__


class Row(tuple, Mapping[str, Any]):  # type: ignore[type-arg,misc]
    __slots__ = ()

    def __new__(cls, shape: Shape, values: tuple[Any, ...]) -> Row:
        return tuple.__new__(cls, (shape, *values))

    @property
    def _shape(self) -> Shape:
        return _item(self, 0)  # type: ignore[no-any-return]

    def __getitem__(self, name: str) -> Any:  # type: ignore[override]
        i = _item(self, 0).index.get(name)
        if i is None:
            raise KeyError(name)
        return _item(self, i + 1)

    def get(self, name: str, default: Any = None) -> Any:
        i = _item(self, 0).index.get(name)
        return default if i is None else _item(self, i + 1)

    def __contains__(self, name: object) -> bool:
        return name in _item(self, 0).index

    def __iter__(self) -> Iterator[str]:
        return iter(_item(self, 0).names)

    def __len__(self) -> int:
        return tuple.__len__(self) - 1

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.to_dict() == dict(other.items())

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (Row, (_item(self, 0), tuple(self.values())))

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable copy (what `dict(row)` gives, faster)."""
        return dict(zip(_item(self, 0).names, _values(self), strict=True))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


def _values(row: Row) -> tuple[Any, ...]:
    return tuple.__getitem__(row, slice(1, None))  # type: ignore[return-value]


class Shapes:
    """One `Shape` per distinct tuple of names (per table: a handful)."""

    def __init__(self) -> None:
        self._by_names: dict[tuple[str, ...], Shape] = {}

    def row(self, values: Mapping[str, Any]) -> Row:
        if type(values) is Row:  # (type, not isinstance: an ABC check is slow on this hot path)
            return values
        names = tuple(values)
        shape = self._by_names.get(names)
        if shape is None:
            shape = self._by_names[names] = Shape(names)
        return tuple.__new__(Row, (shape, *values.values()))
