"""`Row`: one stored record, compact. A read-only mapping (field name -> value) whose field names are
kept once per distinct set of names (`Shape`, shared by every row of that shape) and whose values are
one tuple: about 200 bytes for a 15-field Contact where a dict takes about 650. At a million people
(several million rows with the opportunities, their history and contact roles) that is the difference
between fitting in 2 GB and not.

Rows are never changed in place (the store builds a new one per write, see store.py), so a row can
be shared by query cursors and the rollback journal. `dict(row)` gives a plain, mutable copy.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class Shape:
    """The field names of rows, in order, and where each one's value sits in a row's tuple."""

    __slots__ = ("names", "index")

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}


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
        return Row(shape, tuple(values.values()))


class Row(Mapping[str, Any]):
    __slots__ = ("_shape", "_values")

    def __init__(self, shape: Shape, values: tuple[Any, ...]):
        self._shape = shape
        self._values = values

    def __getitem__(self, name: str) -> Any:
        i = self._shape.index.get(name)
        if i is None:
            raise KeyError(name)
        return self._values[i]

    def get(self, name: str, default: Any = None) -> Any:
        i = self._shape.index.get(name)
        return default if i is None else self._values[i]

    def __contains__(self, name: object) -> bool:
        return name in self._shape.index

    def __iter__(self) -> Iterator[str]:
        return iter(self._shape.names)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, Any]:
        """A plain, mutable copy (what `dict(row)` gives, faster)."""
        return dict(zip(self._shape.names, self._values, strict=True))

    def __repr__(self) -> str:
        return f"Row({dict(self.items())!r})"
