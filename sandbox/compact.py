"""Compact records for the emulators' stores: field names kept once per distinct tuple of names
(`Shape`, shared by every record of that shape) and values in one tuple. About 200 bytes for 15 fields
where a dict takes about 650, which is most of what a million people cost in the emulators.

`Row` is the read-only mapping (Salesforce rows, never changed in place); `sandbox.hubspot.values.Values`
adds writes on top of it. `dict(row)` or `row.to_dict()` gives a plain, mutable copy."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class Shape:
    """The field names of records, in order, and where each one's value sits in a record's tuple."""

    __slots__ = ("names", "index")

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}


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
        return f"{type(self).__name__}({self.to_dict()!r})"
