"""`Values`: a contact's set properties, compact. A mutable mapping (name -> value) whose names are
kept once per distinct tuple of names (shared by every contact with the same properties set) and whose
values are one tuple: about 200 bytes for 15 properties where a dict takes about 650, which is most of
what a million contacts cost. Writes rebuild the tuple (a contact has a few dozen properties at most).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any


class _Shape:
    __slots__ = ("names", "index")

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}


_SHAPES: dict[tuple[str, ...], _Shape] = {}


def _shape(names: tuple[str, ...]) -> _Shape:
    shape = _SHAPES.get(names)
    if shape is None:
        shape = _SHAPES[names] = _Shape(names)
    return shape


class Values(MutableMapping[str, str]):
    __slots__ = ("_shape", "_values")

    def __init__(self, values: Mapping[str, str] | None = None):
        items = values.to_dict() if type(values) is Values else dict(values or {})  # (no ABC check: hot)
        self._shape = _shape(tuple(items))
        self._values: tuple[str, ...] = tuple(items.values())

    def __getitem__(self, name: str) -> str:
        i = self._shape.index.get(name)
        if i is None:
            raise KeyError(name)
        return self._values[i]

    def get(self, name: str, default: Any = None) -> Any:
        i = self._shape.index.get(name)
        return default if i is None else self._values[i]

    def __contains__(self, name: object) -> bool:
        return name in self._shape.index

    def __setitem__(self, name: str, value: str) -> None:
        i = self._shape.index.get(name)
        if i is None:
            self._shape = _shape((*self._shape.names, name))
            self._values = (*self._values, value)
        else:
            self._values = (*self._values[:i], value, *self._values[i + 1:])

    def __delitem__(self, name: str) -> None:
        i = self._shape.index.get(name)
        if i is None:
            raise KeyError(name)
        names = self._shape.names
        self._shape = _shape((*names[:i], *names[i + 1:]))
        self._values = (*self._values[:i], *self._values[i + 1:])

    def __iter__(self) -> Iterator[str]:
        return iter(self._shape.names)

    def __len__(self) -> int:
        return len(self._values)

    def to_dict(self) -> dict[str, str]:
        return dict(zip(self._shape.names, self._values, strict=True))

    def __repr__(self) -> str:
        return f"Values({dict(zip(self._shape.names, self._values, strict=True))!r})"
