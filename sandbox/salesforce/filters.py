"""WHERE clauses compiled to Python predicates, with SOQL's typing rules and null semantics.

Text comparisons are case-insensitive; `!=` and NOT IN match rows whose value is null; a literal of
the wrong type for its field is a MALFORMED_QUERY (as the real API answers), a bad id literal an
INVALID_QUERY_FILTER_OPERATOR.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from .dates import relative_range
from .errors import ApiError
from .ids import normalize_id
from .schema import NUMBER_TYPES, STRING_TYPES, FieldDef
from .soql import BoolOp, Comparison, Condition, InValues, Literal, Not

Predicate = Callable[[dict[str, Any]], bool]
Getter = Callable[[dict[str, Any]], Any]
_TYPE_NAMES = {
    "int": "int",
    "double": "double",
    "currency": "currency",
    "percent": "percent",
    "boolean": "boolean",
    "date": "date",
    "datetime": "dateTime",
}


def malformed(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


def _wrong_type(fd: FieldDef) -> ApiError:
    if fd.type in STRING_TYPES or fd.type in ("id", "reference"):
        return malformed(
            f"value of filter criterion for field '{fd.name}' must be of type string "
            "and should be enclosed in quotes"
        )
    return malformed(
        f"value of filter criterion for field '{fd.name}' must be of type "
        f"{_TYPE_NAMES.get(fd.type, fd.type)} and should not be enclosed in quotes"
    )


def literal_value(fd: FieldDef, lit: Literal, today: date) -> Any:
    """The comparable value of `lit` for field `fd`: lowered text, 18-char id, float, date, datetime,
    or a (start, end) tuple for a relative date literal. None for null."""
    if lit.kind == "null":
        return None
    kind = fd.type
    if kind in STRING_TYPES and lit.kind == "string":
        return lit.value.lower()
    if kind in ("id", "reference") and lit.kind == "string":
        rid = normalize_id(lit.value)
        if rid is None:
            raise ApiError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}")
        return rid
    if kind in NUMBER_TYPES and lit.kind == "number":
        return lit.value
    if kind == "boolean" and lit.kind == "boolean":
        return lit.value
    if kind == "date" and lit.kind == "date":
        return lit.value
    if kind == "datetime" and lit.kind == "datetime":
        return lit.value
    if kind in ("date", "datetime") and lit.kind == "relative":
        start, end = relative_range(*lit.value, today)
        if kind == "date":
            return (start, end)
        return (
            datetime(start.year, start.month, start.day, tzinfo=UTC),
            datetime(end.year, end.month, end.day, tzinfo=UTC),
        )
    raise _wrong_type(fd)


def like_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _normalized(get: Getter, fd: FieldDef) -> Getter:
    if fd.type in STRING_TYPES:

        def lowered(rec: dict[str, Any]) -> Any:
            value = get(rec)
            return value.lower() if value is not None else None

        return lowered
    return get


def _range_predicate(get: Getter, op: str, bounds: tuple[Any, Any]) -> Predicate:
    start, end = bounds

    def within(rec: dict[str, Any]) -> bool:
        value = get(rec)
        if value is None:
            return op == "!="
        inside = start <= value < end
        return {
            "=": inside,
            "!=": not inside,
            "<": value < start,
            "<=": value < end,
            ">": value >= end,
            ">=": value >= start,
        }[op]

    return within


def comparison(cmp: Comparison, fd: FieldDef, get: Getter, today: date) -> Predicate:
    if cmp.op == "like":
        if fd.type not in STRING_TYPES or cmp.value.kind != "string":
            raise ApiError(
                400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on {fd.type} field: LIKE ({fd.name})"
            )
        regex = like_regex(cmp.value.value)
        return lambda rec: (v := get(rec)) is not None and regex.fullmatch(v) is not None
    value = literal_value(fd, cmp.value, today)
    op = cmp.op
    if fd.type == "boolean" and op not in ("=", "!="):
        raise ApiError(400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid operator on boolean field: {fd.name}")
    norm = _normalized(get, fd)
    if isinstance(value, tuple):
        return _range_predicate(norm, op, value)
    if op == "=":
        return lambda rec: norm(rec) == value
    if op == "!=":
        return lambda rec: norm(rec) != value
    if value is None:
        return lambda rec: False
    compare = {
        "<": lambda a: a < value,
        "<=": lambda a: a <= value,
        ">": lambda a: a > value,
        ">=": lambda a: a >= value,
    }[op]
    return lambda rec: (v := norm(rec)) is not None and compare(v)


def membership(
    cond: InValues, fd: FieldDef, get: Getter, today: date, semi_join: Callable[[], set[Any]] | None
) -> Predicate:
    if semi_join is not None:
        values = semi_join()
    else:
        assert isinstance(cond.values, tuple)
        values = set()
        for lit in cond.values:
            value = literal_value(fd, lit, today)
            if isinstance(value, tuple):
                raise malformed("date literals with a range are not allowed in IN")
            values.add(value)
    norm = _normalized(get, fd)
    if cond.negate:
        return lambda rec: norm(rec) not in values
    return lambda rec: norm(rec) in values


def combine(cond: Condition, leaf: Callable[[Comparison | InValues], Predicate]) -> Predicate:
    """The predicate of a condition tree; `leaf` compiles comparisons and IN clauses."""
    if isinstance(cond, BoolOp):
        parts = [combine(item, leaf) for item in cond.items]
        if cond.op == "and":
            return lambda rec: all(p(rec) for p in parts)
        return lambda rec: any(p(rec) for p in parts)
    if isinstance(cond, Not):
        inner = combine(cond.item, leaf)
        return lambda rec: not inner(rec)
    return leaf(cond)
