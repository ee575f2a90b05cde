"""`Values`: a contact's set properties, compact. A mutable mapping (name -> value) whose names are
kept once per distinct tuple of names (shared by every contact with the same properties set) and whose
values are one tuple: about 200 bytes for 15 properties where a dict takes about 650, which is most of
what a million contacts cost. Writes rebuild the tuple (a contact has a few dozen properties at most).
The reads are `sandbox.compact.Row`'s; the shapes are shared by every contact of the portal.

A value that is exactly an instant as HubSpot writes it (`2024-05-01T09:30:00.000Z`, what
`timefmt.iso_ms` gives) is kept as its epoch milliseconds, an int of 32 bytes instead of a string of
73, and given back as the same string (engagement dates: two or three per contact).
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from datetime import datetime
from typing import Any

from sandbox.compact import Row, Shape

from .timefmt import iso_ms

_EPOCH = datetime(1970, 1, 1)


class _Int(int):
    """An int stored as a value (HubSpot values are strings; the Python handle may be given others):
    marked, so that it is not read back as an instant."""

    __slots__ = ()


def _pack(value: Any) -> Any:
    """Epoch ms (a plain int) for a value `iso_ms` wrote (checked by writing it back), else the value
    itself (an int marked as `_Int`)."""
    if type(value) is int:
        return _Int(value)
    if type(value) is str and len(value) == 24 and value[23] == "Z" and value[10] == "T":
        try:
            delta = datetime.fromisoformat(value[:23]) - _EPOCH
        except ValueError:
            return value
        ms = (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
        if iso_ms(ms) == value:
            return ms
    return value


def _unpack(value: Any) -> Any:
    if type(value) is int:
        return iso_ms(value)
    return int(value) if type(value) is _Int else value

_SHAPES: dict[tuple[str, ...], Shape] = {}


def _shape(names: tuple[str, ...]) -> Shape:
    shape = _SHAPES.get(names)
    if shape is None:
        shape = _SHAPES[names] = Shape(names)
    return shape


class Values(Row, MutableMapping[str, str]):
    __slots__ = ()

    def __init__(self, values: Mapping[str, str] | None = None):
        if type(values) is Values:  # (no ABC check: hot)
            self._shape, self._values = values._shape, values._values
            return
        items = dict(values or {})
        self._shape = _shape(tuple(items))
        self._values: tuple[Any, ...] = tuple(
            [_pack(v) if type(v) is not str or len(v) == 24 else v for v in items.values()]  # (hot)
        )

    def __getitem__(self, name: str) -> str:
        i = self._shape.index.get(name)
        if i is None:
            raise KeyError(name)
        return _unpack(self._values[i])  # type: ignore[no-any-return]

    def get(self, name: str, default: Any = None) -> Any:
        i = self._shape.index.get(name)
        return default if i is None else _unpack(self._values[i])

    def to_dict(self) -> dict[str, Any]:
        return dict(zip(self._shape.names, [_unpack(v) for v in self._values], strict=True))

    def __setitem__(self, name: str, value: str) -> None:
        value = _pack(value)
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
