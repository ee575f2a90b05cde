"""`Values`: a contact's set properties, compact. A mutable mapping (name -> value) whose names are
kept once per distinct tuple of names (shared by every contact with the same properties set) and whose
values are one tuple: about 200 bytes for 15 properties where a dict takes about 650, which is most of
what a million contacts cost. Writes rebuild the tuple (a contact has a few dozen properties at most).
The reads are `sandbox.compact.Row`'s; the shapes are shared by every contact of the portal.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from sandbox.compact import Row, Shape

_SHAPES: dict[tuple[str, ...], Shape] = {}


def _shape(names: tuple[str, ...]) -> Shape:
    shape = _SHAPES.get(names)
    if shape is None:
        shape = _SHAPES[names] = Shape(names)
    return shape


class Values(Row, MutableMapping[str, str]):
    __slots__ = ()

    def __init__(self, values: Mapping[str, str] | None = None):
        items = values.to_dict() if type(values) is Values else dict(values or {})  # (no ABC check: hot)
        self._shape = _shape(tuple(items))
        self._values: tuple[str, ...] = tuple(items.values())

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
