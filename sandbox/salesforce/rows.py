"""Salesforce rows as `sandbox.compact.Row`: field names kept once per shape, values in one tuple
(about 200 bytes for a 15-field Contact where a dict takes about 650; at a million people, several
million rows with the opportunities, their history and contact roles, that halves the emulator).

Rows are never changed in place (the store builds a new one per write, see store.py), so a row can
be shared by query cursors and the rollback journal. `dict(row)` gives a plain, mutable copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sandbox.compact import Row, Shape

__all__ = ["Row", "Shape", "Shapes"]


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
