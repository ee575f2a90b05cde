"""Many-row statements of the checkpoints (write intents, confirmed writes) without per-row overhead.

The checkpoint tables take one row per field written: ~300,000 rows for 20,000 people. Through
SQLAlchemy's Core `execute(stmt, rows)` each row is a dict that is turned into a full parameter set
and passed through every column's bind processor (the UTC timestamp type: a timezone conversion and
an ISO format per row), which cost more CPU than SQLite's own work. On SQLite these functions compile
the statement once, convert each distinct value once, and give the driver plain tuples
(`Connection.exec_driver_sql`, still inside the caller's transaction and still through the engine's
error translation). Other backends keep the Core path (`sql.upsert`, an executemany), whose drivers
batch rows in their own way (psycopg's insertmanyvalues).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from json.encoder import encode_basestring
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Dialect

from connectors.base import Scalar
from sync.state.codec import scalar_to_json
from sync.state.sql import upsert

Processor = Callable[[Any], Any] | None


def value_json(value: Scalar) -> str:
    """`codec.scalar_to_json`, without the JSON encoder's set-up for the common types (a string is
    what the encoder's own string step gives, ensure_ascii off; an int or bool its JSON literal)."""
    kind = value.__class__
    if kind is str:
        return encode_basestring(value)  # type: ignore[arg-type]
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)  # type: ignore[arg-type]
    if value is None:
        return "null"
    return scalar_to_json(value)  # floats (NaN, Infinity), subclasses, and the type check


def upsert_rows(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]],
                keys: Sequence[str]) -> None:
    """`sql.upsert`: insert `rows`, replacing the other columns of rows whose `keys` exist (later
    rows win over earlier ones with the same key). Every row has the same columns."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        upsert(conn, table, rows, keys)
        return
    sql, order, procs = _sqlite_upsert(conn.dialect, table, tuple(rows[0]), tuple(keys))
    conn.exec_driver_sql(sql, _tuples(rows, order, procs))


def delete_rows(conn: Connection, table: sa.Table, keys: Sequence[dict[str, Any]]) -> None:
    """Delete the row matching each of `keys` exactly (every dict names the same columns)."""
    if not keys:
        return
    columns = tuple(keys[0])
    if conn.dialect.name != "sqlite":
        stmt = table.delete().where(*[table.c[c] == sa.bindparam(f"k_{c}") for c in columns])
        conn.execute(stmt, [{f"k_{c}": k[c] for c in columns} for k in keys])
        return
    sql, order, procs = _sqlite_delete(conn.dialect, table, columns)
    conn.exec_driver_sql(sql, _tuples(keys, order, procs))


@cache
def _sqlite_upsert(dialect: Dialect, table: sa.Table, columns: tuple[str, ...],
                   keys: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[Processor, ...]]:
    stmt = sqlite.insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys],
                                      set_={c: stmt.excluded[c] for c in columns if c not in keys})
    compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
    return _driver_form(compiled, dialect, table, lambda name: name)


@cache
def _sqlite_delete(dialect: Dialect, table: sa.Table,
                   columns: tuple[str, ...]) -> tuple[str, tuple[str, ...], tuple[Processor, ...]]:
    stmt = table.delete().where(*[table.c[c] == sa.bindparam(f"k_{c}") for c in columns])
    return _driver_form(stmt.compile(dialect=dialect), dialect, table, lambda name: name.removeprefix("k_"))


def _driver_form(compiled: sa.sql.compiler.Compiled, dialect: Dialect, table: sa.Table,
                 column_of: Callable[[str], str]) -> tuple[str, tuple[str, ...], tuple[Processor, ...]]:
    """(SQL text, the column feeding each positional parameter, each one's bind processor)."""
    names = compiled.positiontup  # type: ignore[attr-defined]
    if not names:
        raise RuntimeError(f"{dialect.name}: expected a positional paramstyle")
    order = tuple(column_of(n) for n in names)
    procs = tuple(table.c[c].type.bind_processor(dialect) for c in order)
    return str(compiled), order, procs


def _tuples(rows: Sequence[dict[str, Any]], order: tuple[str, ...],
            procs: tuple[Processor, ...]) -> list[tuple[Any, ...]]:
    """Rows as parameter tuples, each value through its column's bind processor. The rows of one
    batch share their constant values (run id, timestamp): each distinct object is converted once."""
    columns: list[list[Any]] = []
    for name, proc in zip(order, procs, strict=True):
        values = [r[name] for r in rows]
        if proc is not None:
            done: dict[int, Any] = {}
            values = [done[id(v)] if id(v) in done else done.setdefault(id(v), proc(v)) for v in values]
        columns.append(values)
    return list(zip(*columns, strict=True))
