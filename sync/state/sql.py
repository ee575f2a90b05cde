"""Small portable SQL helpers the state store is built on: chunking, batched upserts, engines.

Upserts use the backend's native form where SQLAlchemy has one (SQLite and PostgreSQL
`INSERT ... ON CONFLICT DO UPDATE`); any other backend gets `portable_upsert` (select the existing
keys, then batched UPDATE and INSERT), which is plain SQL every database understands.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url

from sync.state.errors import StateStoreError, StateStoreGoneError, describe, first_line, translatable

log = logging.getLogger(__name__)

T = TypeVar("T")

IN_CHUNK = 500  # ids per IN (...) list: well under every backend's bind-parameter limit
WRITE_CHUNK = 2_000  # rows per executemany


STREAM_BATCH = 1_000  # rows fetched per round trip when iterating


def at_or_now(at: datetime | None) -> datetime:
    """`at` (tests and backfills pass the clock), else the current time, UTC."""
    return at if at is not None else datetime.now(UTC)


def stream_rows(engine: Engine, stmt: sa.Select[Any]) -> Iterator[sa.Row[Any]]:
    """Rows of `stmt` fetched STREAM_BATCH at a time (server-side cursor where the driver has one)."""
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=STREAM_BATCH).execute(stmt)
        yield from result


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items (the last may be shorter)."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def upsert(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert `rows`, replacing the non-key columns of rows whose `keys` already exist.

    Every row must have the same columns. Later rows win over earlier rows with the same key.
    """
    if not rows:
        return
    update_cols = [c for c in rows[0] if c not in keys]
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        insert = sqlite.insert if name == "sqlite" else postgresql.insert
        stmt = insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={c: stmt.excluded[c] for c in update_cols},
        )
        if name == "postgresql":
            rows = _last_per_key(rows, keys)  # PostgreSQL refuses one statement touching a row twice
        conn.execute(stmt, list(rows))
    else:
        portable_upsert(conn, table, rows, keys)


def _last_per_key(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        out[tuple(row[k] for k in keys)] = row
    return list(out.values())


def portable_upsert(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]],
                    keys: Sequence[str]) -> None:
    """`upsert` in plain SQL for backends without a native upsert (run inside one transaction)."""
    rows = _last_per_key(rows, keys)
    if not rows:
        return
    key_cols = [table.c[k] for k in keys]
    existing: set[tuple[Any, ...]] = set()
    for part in chunks(rows, IN_CHUNK):
        wanted = [tuple(r[k] for k in keys) for r in part]
        cond = key_cols[0].in_([w[0] for w in wanted]) if len(keys) == 1 else sa.tuple_(*key_cols).in_(wanted)
        existing.update(tuple(r) for r in conn.execute(sa.select(*key_cols).where(cond)))
    updates = [r for r in rows if tuple(r[k] for k in keys) in existing]
    inserts = [r for r in rows if tuple(r[k] for k in keys) not in existing]
    if updates:
        update_cols = [c for c in rows[0] if c not in keys]
        stmt = table.update().where(*[table.c[k] == sa.bindparam(f"k_{k}") for k in keys]).values(
            {c: sa.bindparam(f"v_{c}") for c in update_cols})
        conn.execute(stmt, [{**{f"k_{k}": r[k] for k in keys}, **{f"v_{c}": r[c] for c in update_cols}}
                            for r in updates])
    if inserts:
        conn.execute(table.insert(), inserts)


# --------------------------------------------------------------------------- engines


def display_url(url: str | URL) -> str:
    """The URL with any password replaced by ***, safe to print and log."""
    return make_url(url).render_as_string(hide_password=True)


class StateUrlError(StateStoreError, ValueError):
    """A state store URL that cannot hold leadsync's state."""


CONNECT_ATTEMPTS = 4  # a database server that refuses connections is tried this often...
CONNECT_BACKOFF = 0.5  # ...waiting 0.5, 1, 2 s in between (a restart or failover usually takes that)
CONNECT_BACKOFF_MAX = 2.0


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, None for any other backend. In-memory databases are refused."""
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database or ""
    if db in ("", ":memory:") or url.query.get("mode") == "memory":
        raise StateUrlError(f"{url}: an in-memory SQLite database cannot keep state between runs; "
                            "give a file, e.g. sqlite:///leadsync.db")
    return Path(db).expanduser()


def prepare_sqlite_file(path: Path) -> bool:
    """Create the database file owner-only (0600) before SQLite opens it: it holds personal data.
    Returns True when the file was created now (False: it existed).

    SQLite gives its -wal and -shm files the same permissions. An existing file that others can read
    is left as it is, with a warning. A folder or file that cannot be created raises `StateStoreError`.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("state store %s is accessible by group/others (mode %s); it holds personal data: "
                        "chmod 600 %s", path, oct(mode & 0o777), path)
        return False
    except OSError as exc:
        raise describe_os_error(exc, path) from None
    os.close(fd)
    os.chmod(path, 0o600)  # in case the umask was unusual
    return True


def describe_os_error(exc: OSError, path: Path) -> StateStoreError:
    """A `StateStoreError` for a file-system error on the state store file or its folder."""
    return describe(OSError(exc.errno, f"{exc.strerror}: {exc.filename or path}"), str(path))


def create_engine(url: str | URL, *, busy_timeout_seconds: float = 30.0, echo: bool = False,
                  schema: str | None = None) -> Engine:
    """An engine for the state store. SQLite files get WAL mode, a busy timeout and 0600 permissions.
    `schema` (PostgreSQL; ignored by SQLite, which has none): every connection works in that schema,
    created if missing (`use_schema`)."""
    parsed = make_url(url)
    path = sqlite_path(parsed)
    if path is None:
        engine = sa.create_engine(parsed, echo=echo, pool_pre_ping=True)
        if schema is not None and parsed.get_backend_name() == "postgresql":
            use_schema(engine, schema)
        _translate_errors(engine, display_url(parsed))
        _retry_connect(engine)
        return engine
    prepare_sqlite_file(path)
    engine = sa.create_engine(parsed, echo=echo, connect_args={"timeout": busy_timeout_seconds})
    _translate_errors(engine, str(path))
    timeout_ms = int(busy_timeout_seconds * 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = FULL")
            # the WAL file shrinks back after each checkpoint instead of keeping its largest size: a big
            # run's WAL is not held on disk for ever, and a full disk shows at the next write, not only
            # once the kept file is used up (tests/reliability/test_state_disk_full.py)
            cur.execute("PRAGMA journal_size_limit = 0")
        finally:
            cur.close()

    return engine


SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_EXISTS = ("23505", "42P06")  # unique_violation, duplicate_schema: another connection created it first


def use_schema(engine: Engine, schema: str) -> None:
    """Every new connection of `engine` creates `schema` if it is missing, then sets its search_path to
    it alone: the unqualified tables of sync.state.schema (migrations, queries, the run lock) are that
    schema's. This runs before SQLAlchemy's first look at the server (`insert=True`), so the dialect's
    default schema is this one too. One database holds many tenants this way, one schema each."""
    if not SCHEMA_NAME.fullmatch(schema):
        raise StateUrlError(f"state.schema {schema!r}: use a-z, 0-9 and '_' (at most 63, not starting with a "
                            "digit)")
    quoted = f'"{schema}"'  # the pattern leaves nothing to escape

    @sa.event.listens_for(engine, "connect", insert=True)
    def _search_path(dbapi_conn: Any, _record: Any) -> None:
        autocommit = dbapi_conn.autocommit
        dbapi_conn.autocommit = True
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            if cur.fetchone() is None:
                try:
                    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
                except engine.dialect.loaded_dbapi.Error as exc:
                    if getattr(exc, "sqlstate", None) not in _EXISTS:
                        raise
            cur.execute(f"SET SESSION search_path TO {quoted}")
        finally:
            cur.close()
            dbapi_conn.autocommit = autocommit


def _translate_errors(engine: Engine, where: str) -> None:
    """Database errors an admin can act on leave the engine as `StateStoreError` (one sentence)."""

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: sa.engine.ExceptionContext) -> None:
        exc = context.sqlalchemy_exception
        if context.is_pre_ping:  # a dead pooled connection: the pool replaces it (with _retry_connect)
            return
        if exc is not None and translatable(exc, engine.dialect.name):
            raise describe(exc, where, disconnect=context.is_disconnect) from None


def _retry_connect(engine: Engine) -> None:
    """A database server that refuses a new connection (restarting, failing over) gets a few more
    tries over a few seconds before the error stands; a refused password is not retried."""

    @sa.event.listens_for(engine, "do_connect")
    def _connect(dialect: sa.engine.Dialect, _record: Any, cargs: Any, cparams: Any) -> Any:
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                return dialect.connect(*cargs, **cparams)
            except dialect.loaded_dbapi.OperationalError as exc:
                error = describe(exc, display_url(engine.url))
                if attempt == CONNECT_ATTEMPTS or not isinstance(error, StateStoreGoneError):
                    raise
                log.warning("state store %s: %s; trying again (%d of %d)", display_url(engine.url),
                            first_line(exc), attempt + 1, CONNECT_ATTEMPTS)
                time.sleep(min(CONNECT_BACKOFF * 2 ** (attempt - 1), CONNECT_BACKOFF_MAX))
        raise AssertionError("unreachable")  # pragma: no cover
