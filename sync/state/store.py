"""The state store: everything leadsync remembers between runs (SQLAlchemy Core, any database URL).

Default: a SQLite file (created 0600, WAL mode, busy timeout). Any SQLAlchemy URL works
(PostgreSQL is tested); the schema is created and upgraded on `StateStore.open`.

What it holds, and the methods that read and write it:
- watermarks per stream ................ get_watermark / set_watermark / watermarks
- snapshots of pulled input ............ upsert_deals / iter_deals / get_deal, upsert_contacts / iter_contacts
- people a range of keys at a time ..... person_key_ranges / people_records / unusable_records
                                         (see `sync.state.people.PeopleIndex`)
- values leadsync last wrote ........... record_writes (the crash checkpoint) / last_written /
                                         last_written_map / iter_written
- list memberships leadsync manages .... get_memberships / add_memberships / remove_memberships /
                                         record_list_changes
- the task written per recycle cycle ... get_task / tasks_for / record_tasks
- the ids of the lists written to ....... list_ids / set_list_id (see `sync.state.list_ids.ListIds`)
- the org / portal it belongs to ........ bindings / bind (see `sync.state.bindings.Bindings`)
- runs and failed records .............. see `sync.state.runs.RunHistory` (mixed in)
- stage history and recycle cycles ...... record_standing / moves_of / cycles_of (see
                                         `sync.state.history.StageHistory`)
- write intents (crash recovery) ........ see `sync.state.pending.PendingWrites` (mixed in)
- mapping versions (console editor) ..... see `sync.state.mapping_versions.MappingVersions` (mixed in)
The first two rows are `sync.state.snapshots.Snapshots`, the next three `sync.state.ledger.Ledger`.

Bulk methods take iterables, write in batches (executemany) and iterate with streaming cursors.
Each `record_*` call is ONE transaction: after it returns, the batch survives a crash; if the process
dies inside it, none of the batch is recorded (and the next run redoes exactly that batch).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from sync.state import schema as s
from sync.state.bindings import Bindings
from sync.state.console_users import ConsoleUsers
from sync.state.errors import StateStoreError, describe
from sync.state.history import StageHistory
from sync.state.history_backfill import StageBackfill
from sync.state.ledger import Ledger
from sync.state.list_ids import ListIds
from sync.state.mapping_versions import MappingVersions
from sync.state.pending import PendingWrites
from sync.state.people import PeopleIndex
from sync.state.records import FieldKey, MembershipKey, PlanState, TaskCycle
from sync.state.runs import RunHistory
from sync.state.snapshots import Snapshots
from sync.state.sql import StateUrlError, create_engine, describe_os_error, display_url, sqlite_path


def _check_sqlite_file(path: Path, *, reset_empty: bool) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise describe_os_error(exc, path) from None
    if not path.is_file():
        raise StateStoreError(f"state store {path}: not a file; state.url must name a SQLite file")
    if size == 0 and not reset_empty:
        raise StateStoreError(
            f"state store {path}: the file is empty (0 bytes), which is not how leadsync leaves a store: "
            "it was truncated or replaced. Restore it from a backup; or, to start afresh (both systems are "
            "read in full again), run `leadsync sync --reset-state`")
    try:
        s.refuse_foreign(_sqlite_tables(path))
    except StateStoreError as exc:
        raise type(exc)(f"state store {path}: {exc}") from None


def _sqlite_tables(path: Path) -> list[str]:
    """The tables of a SQLite file, read without changing it (engine connections switch the file to
    WAL mode, which would rewrite a foreign file's header); [] when it cannot be read this way (the
    real open then says why)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    except (sqlite3.Error, UnicodeDecodeError):  # a damaged schema page: the real open says so
        return []
    finally:
        conn.close()


def _remove_new_file(path: Path) -> None:
    """Remove a store file this open created, if it is still empty (with its -wal and -shm files)."""
    try:
        if path.stat().st_size != 0:
            return
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
    except OSError:
        pass


def _driver_problem(exc: Exception) -> str:
    """What is wrong with the dialect or driver part of a URL, in words."""
    name = getattr(exc, "name", None)
    if isinstance(exc, ImportError) and name:
        return (f"its database driver (Python module {name!r}) is not installed: install it, or name an "
                "installed driver in the URL, e.g. postgresql+psycopg://user@host/db")
    return (f"{exc}; write the URL as dialect+driver://..., e.g. sqlite:///leadsync.db or "
            "postgresql+psycopg://user@host/db")


class StateStore(Snapshots, PeopleIndex, Ledger, ListIds, RunHistory, PendingWrites, Bindings, StageHistory,
                 StageBackfill, ConsoleUsers, MappingVersions):
    """Handle on one state database. Thread-safe (each call takes its own pooled connection)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, url: str = "sqlite:///leadsync.db", *, schema: str | None = None,
             busy_timeout_seconds: float = 30.0, reset_empty: bool = False) -> StateStore:
        """Connect, then create or upgrade the schema (idempotent).

        `schema` (PostgreSQL only; ignored for SQLite): the database schema that holds the state, created
        if missing, and every connection's search_path (a tenant's `leadsync_<name>`, sync.tenants).

        Raises `StateStoreError` (a message naming the store) for any store that cannot be used: a URL
        that cannot hold state (`StateUrlError`), a database a newer leadsync upgraded
        (`SchemaTooNewError`), a foreign database, a damaged file, a full disk, a server that is down.
        An existing SQLite file of 0 bytes is refused (leadsync never leaves one: a new store is written
        as soon as it is created) unless `reset_empty` says to start a new store in it."""
        try:
            parsed = make_url(url)
            path = sqlite_path(parsed)
        except StateUrlError:
            raise
        except (ArgumentError, ValueError) as exc:
            raise StateUrlError(f"state.url: {exc}") from None
        where = str(path) if path is not None else display_url(parsed)
        if schema is not None and path is None:
            where = f"{where} (schema {schema})"
        new_file = path is not None and not path.exists()
        if path is not None and not new_file:
            _check_sqlite_file(path, reset_empty=reset_empty)
        try:
            engine = create_engine(parsed, busy_timeout_seconds=busy_timeout_seconds, schema=schema)
        except (ArgumentError, ImportError) as exc:  # no such dialect, or its driver is not installed
            raise StateUrlError(f"state.url {where}: {_driver_problem(exc)}") from None
        try:
            try:
                s.migrate(engine)
            except UnicodeDecodeError as exc:  # SQLite decoding a damaged schema page (not a DBAPI error)
                raise describe(exc, where) from None
        except BaseException as exc:
            engine.dispose()
            if new_file and path is not None:
                _remove_new_file(path)  # else the next open would find a 0-byte file and refuse it
            if isinstance(exc, StateStoreError) and not str(exc).startswith("state store "):
                raise type(exc)(f"state store {where}: {exc}") from None
            raise
        return cls(engine)

    @property
    def url(self) -> str:
        """The database URL with any password hidden (safe to print)."""
        return display_url(self.engine.url)

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return s.current_version(conn)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the planner's view

    def plan_state(self, fields: Iterable[FieldKey], records: Mapping[str, Iterable[str]],
                   cycles: Iterable[TaskCycle]) -> PlanState:
        """Everything the planner needs to know about one chunk of people, in one call: what leadsync
        last wrote to these fields, the memberships it manages for these records (system -> record
        ids), the recycle cycles that already have a task (`recorded_cycles`), and what an interrupted
        run left pending."""
        keys = list(fields)
        memberships: set[MembershipKey] = set()
        uncertain: set[MembershipKey] = set()
        for system, ids in records.items():
            wanted = sorted(set(ids))
            memberships |= {(m.system, m.list_name, m.record_id)
                            for m in self.get_memberships(system, record_ids=wanted)}
            uncertain |= self.pending_lists(system, wanted)
        return PlanState(last_written=self.last_written_map(keys), memberships=memberships,
                         recorded_tasks=self.recorded_cycles(cycles),
                         pending=self.pending_fields(keys), uncertain=uncertain)
