"""The state store: everything leadsync remembers between runs (SQLAlchemy Core, any database URL).

Default: a SQLite file (created 0600, WAL mode, busy timeout). Any SQLAlchemy URL works
(PostgreSQL is tested); the schema is created and upgraded on `StateStore.open`.

What it holds, and the methods that read and write it:
- watermarks per stream ................ get_watermark / set_watermark / watermarks
- snapshots of pulled input ............ upsert_deals / iter_deals / get_deal, upsert_contacts / iter_contacts
- values leadsync last wrote ........... record_writes (the crash checkpoint) / last_written /
                                         last_written_map / iter_written
- list memberships leadsync manages .... get_memberships / add_memberships / remove_memberships /
                                         record_list_changes
- the task written per recycle cycle ... get_task / tasks_for / record_tasks
- runs and failed records .............. see `sync.state.runs.RunHistory` (mixed in)
- write intents (crash recovery) ........ see `sync.state.pending.PendingWrites` (mixed in)

Bulk methods take iterables, write in batches (executemany) and iterate with streaming cursors.
Each `record_*` call is ONE transaction: after it returns, the batch survives a crash; if the process
dies inside it, none of the batch is recorded (and the next run redoes exactly that batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import ContactRef, FieldUpdate, ListChange, LostDeal, Scalar
from mappings.emails import normalize_email
from sync.state import schema as s
from sync.state.codec import (
    deal_from_json,
    deal_to_json,
    properties_from_json,
    properties_to_json,
    scalar_from_json,
    scalar_to_json,
)
from sync.state.pending import PendingWrites, clear_pending_in
from sync.state.records import FieldKey, Membership, RecordedTask, WrittenValue
from sync.state.runs import RunHistory
from sync.state.sql import IN_CHUNK, WRITE_CHUNK, chunks, create_engine, display_url, upsert

STREAM_BATCH = 1_000  # rows fetched per round trip when iterating


def _now(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


class StateStore(RunHistory, PendingWrites):
    """Handle on one state database. Thread-safe (each call takes its own pooled connection)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, url: str = "sqlite:///leadsync.db", *, busy_timeout_seconds: float = 30.0) -> StateStore:
        """Connect, then create or upgrade the schema (idempotent). Raises `StateUrlError` for a URL
        that cannot hold state and `SchemaTooNewError` for a database a newer leadsync upgraded."""
        engine = create_engine(url, busy_timeout_seconds=busy_timeout_seconds)
        try:
            s.migrate(engine)
        except BaseException:
            engine.dispose()
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

    def _stream(self, stmt: sa.Select[Any]) -> Iterator[sa.Row[Any]]:
        """Rows of `stmt` fetched STREAM_BATCH at a time (server-side cursor where the driver has one)."""
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=STREAM_BATCH).execute(stmt)
            yield from result

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, stream: str) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(s.watermarks.c.value).where(s.watermarks.c.stream == stream)).scalar()

    def set_watermark(self, stream: str, value: datetime, *, at: datetime | None = None) -> None:
        """Move a stream's watermark. Call only after the data it covers is safely stored."""
        with self.engine.begin() as conn:
            upsert(conn, s.watermarks, [{"stream": stream, "value": value, "updated_at": _now(at)}],
                   ["stream"])

    def watermarks(self) -> dict[str, datetime]:
        with self.engine.connect() as conn:
            return {r.stream: r.value for r in conn.execute(sa.select(s.watermarks))}

    # ------------------------------------------------------------------ deal snapshots

    def upsert_deals(self, deals: Iterable[LostDeal], *, at: datetime | None = None) -> int:
        """Store (or replace) deal snapshots; returns how many. One transaction per WRITE_CHUNK."""
        stored_at, n = _now(at), 0
        for batch in chunks(deals, WRITE_CHUNK):
            rows = [{"opportunity_id": d.opportunity_id, "data": deal_to_json(d), "state": d.state,
                     "modified_at": d.modified_at, "is_deleted": d.is_deleted, "stored_at": stored_at}
                    for d in batch]
            with self.engine.begin() as conn:
                upsert(conn, s.deals, rows, ["opportunity_id"])
            n += len(rows)
        return n

    def iter_deals(self, *, include_deleted: bool = True,
                   ids: Iterable[str] | None = None) -> Iterator[LostDeal]:
        """Stream deal snapshots in id order. Deleted deals are included by default: their people must
        still be recomputed (so they leave the recycle groups)."""
        base = sa.select(s.deals.c.data).order_by(s.deals.c.opportunity_id)
        if not include_deleted:
            base = base.where(s.deals.c.is_deleted == sa.false())
        if ids is None:
            for row in self._stream(base):
                yield deal_from_json(row.data)
            return
        for part in chunks(ids, IN_CHUNK):
            with self.engine.connect() as conn:
                rows = conn.execute(base.where(s.deals.c.opportunity_id.in_(part))).all()
            for row in rows:
                yield deal_from_json(row.data)

    def get_deal(self, opportunity_id: str) -> LostDeal | None:
        return next(self.iter_deals(ids=[opportunity_id]), None)

    def count_deals(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(s.deals)).scalar_one())

    # ------------------------------------------------------------------ contact snapshots

    def upsert_contacts(self, system: str, contacts: Iterable[ContactRef], *,
                        at: datetime | None = None) -> int:
        """Store (or replace) contact snapshots of one system; returns how many.

        A contact's `merged_ids` (records merged into it) are marked `merged_into` it, so they no longer
        appear as people of their own. A contact that comes back itself is live again.
        """
        stored_at, n = _now(at), 0
        c = s.contacts.c
        for batch in chunks(contacts, WRITE_CHUNK):
            rows = [{"system": system, "contact_id": x.contact_id, "email": x.email,
                     "email_norm": normalize_email(x.email) or None,
                     "properties": properties_to_json(x.properties), "modified_at": x.modified_at,
                     "archived": x.archived, "merged_into": None, "stored_at": stored_at} for x in batch]
            merges = [{"m_id": old, "m_into": x.contact_id} for x in batch for old in x.merged_ids]
            with self.engine.begin() as conn:
                upsert(conn, s.contacts, rows, ["system", "contact_id"])
                if merges:
                    conn.execute(s.contacts.update().where(
                        c.system == system, c.contact_id == sa.bindparam("m_id"),
                    ).values(merged_into=sa.bindparam("m_into")), merges)
            n += len(rows)
        return n

    def iter_contacts(self, system: str, *, include_archived: bool = False, include_merged: bool = False,
                      emails: Iterable[str] | None = None,
                      ids: Iterable[str] | None = None) -> Iterator[ContactRef]:
        """Stream one system's contact snapshots in id order; `emails` (normalized) or `ids` narrow the
        search. Archived contacts and those merged into another are left out unless asked for."""
        c = s.contacts.c
        stmt = sa.select(c.contact_id, c.email, c.properties, c.modified_at, c.archived).where(
            c.system == system).order_by(c.contact_id)
        if not include_archived:
            stmt = stmt.where(c.archived == sa.false())
        if not include_merged:
            stmt = stmt.where(c.merged_into.is_(None))
        if emails is not None:
            rows: Iterable[sa.Row[Any]] = (r for part in chunks(emails, IN_CHUNK)
                                           for r in self._stream(stmt.where(c.email_norm.in_(part))))
        elif ids is not None:
            rows = (r for part in chunks(ids, IN_CHUNK)
                    for r in self._stream(stmt.where(c.contact_id.in_(part))))
        else:
            rows = self._stream(stmt)
        for r in rows:
            yield ContactRef(contact_id=r.contact_id, email=r.email,
                             properties=properties_from_json(r.properties),
                             modified_at=r.modified_at, archived=r.archived)

    def count_contacts(self, system: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(s.contacts).where(
                s.contacts.c.system == system)).scalar_one())

    # ------------------------------------------------------------------ written values (checkpoint)

    def record_writes(self, system: str, updates: Sequence[FieldUpdate], *, run_id: int | None,
                      mapping_version: int, at: datetime | None = None,
                      answered: Sequence[FieldUpdate] = ()) -> int:
        """Record confirmed field writes (one batch the system accepted) in ONE transaction.

        This is the crash checkpoint: call it right after each successful batch, with only the records
        the system confirmed; the `answered` intents (sync.state.pending) are forgotten in the same
        transaction. Returns the number of field values recorded.
        """
        written_at = _now(at)
        rows = [{"system": system, "object": u.object_type, "record_id": u.record_id, "field": f,
                 "value": scalar_to_json(v), "written_at": written_at, "mapping_version": mapping_version,
                 "run_id": run_id} for u in updates for f, v in u.values.items()]
        if rows or answered:
            with self.engine.begin() as conn:
                for part in chunks(rows, WRITE_CHUNK):
                    upsert(conn, s.written_values, part, ["system", "object", "record_id", "field"])
                clear_pending_in(conn, system, updates=answered)
        return len(rows)

    def last_written(self, system: str, object_type: str,
                     record_ids: Iterable[str]) -> dict[tuple[str, str], WrittenValue]:
        """What leadsync last wrote to these records: {(record_id, field): WrittenValue}."""
        w = s.written_values.c
        out: dict[tuple[str, str], WrittenValue] = {}
        with self.engine.connect() as conn:
            for part in chunks(record_ids, IN_CHUNK):
                for r in conn.execute(sa.select(s.written_values).where(
                        w.system == system, w.object == object_type, w.record_id.in_(part))):
                    out[(r.record_id, r.field)] = WrittenValue(
                        r.system, r.object, r.record_id, r.field, scalar_from_json(r.value), r.written_at,
                        r.mapping_version, r.run_id)
        return out

    def last_written_map(self, keys: Iterable[FieldKey]) -> dict[FieldKey, Scalar]:
        """The planner's view: {(system, object, record_id, field): value} for the given keys that have
        a recorded write (keys with none are absent)."""
        groups: dict[tuple[str, str], set[str]] = {}
        wanted = set(keys)
        for system, obj, rid, _field in wanted:
            groups.setdefault((system, obj), set()).add(rid)
        out: dict[FieldKey, Scalar] = {}
        for (system, obj), ids in groups.items():
            for (rid, fld), wv in self.last_written(system, obj, sorted(ids)).items():
                key = (system, obj, rid, fld)
                if key in wanted:
                    out[key] = wv.value
        return out

    def iter_written(self, system: str | None = None) -> Iterator[WrittenValue]:
        """Stream every recorded write (optionally of one system)."""
        stmt = sa.select(s.written_values).order_by(*s.written_values.primary_key.columns)
        if system is not None:
            stmt = stmt.where(s.written_values.c.system == system)
        for r in self._stream(stmt):
            yield WrittenValue(r.system, r.object, r.record_id, r.field, scalar_from_json(r.value),
                               r.written_at, r.mapping_version, r.run_id)

    # ------------------------------------------------------------------ list memberships

    def get_memberships(self, system: str, *, list_name: str | None = None,
                        record_ids: Iterable[str] | None = None) -> list[Membership]:
        """Memberships leadsync manages in one system, optionally narrowed to a list or to records."""
        m = s.list_memberships.c
        stmt = sa.select(s.list_memberships).where(m.system == system).order_by(m.list_name, m.record_id)
        if list_name is not None:
            stmt = stmt.where(m.list_name == list_name)
        parts: Iterable[list[str] | None] = [None] if record_ids is None else chunks(record_ids, IN_CHUNK)
        out: list[Membership] = []
        with self.engine.connect() as conn:
            for part in parts:
                q = stmt if part is None else stmt.where(m.record_id.in_(part))
                out.extend(Membership(r.system, r.list_name, r.record_id, r.added_at, r.run_id)
                           for r in conn.execute(q))
        return out

    def record_list_changes(self, system: str, changes: Sequence[ListChange], *, run_id: int | None,
                            at: datetime | None = None, answered: Sequence[ListChange] = ()) -> int:
        """Record confirmed list adds and removes in ONE transaction (checkpoint), forgetting the
        `answered` intents in it too; returns how many changes were recorded."""
        added_at = _now(at)
        adds = [{"system": system, "list_name": c.list_name, "record_id": c.record_id, "added_at": added_at,
                 "run_id": run_id} for c in changes if c.op == "add"]
        removes = [{"l": c.list_name, "r": c.record_id} for c in changes if c.op == "remove"]
        m = s.list_memberships.c
        with self.engine.begin() as conn:
            for part in chunks(adds, WRITE_CHUNK):
                upsert(conn, s.list_memberships, part, ["system", "list_name", "record_id"])
            if removes:
                conn.execute(s.list_memberships.delete().where(
                    m.system == system, m.list_name == sa.bindparam("l"), m.record_id == sa.bindparam("r")),
                    removes)
            clear_pending_in(conn, system, changes=answered)
        return len(adds) + len(removes)

    def add_memberships(self, system: str, list_name: str, record_ids: Iterable[str], *,
                        run_id: int | None, at: datetime | None = None) -> int:
        return self.record_list_changes(
            system, [ListChange(list_name, rid, "add") for rid in record_ids], run_id=run_id, at=at)

    def remove_memberships(self, system: str, list_name: str, record_ids: Iterable[str]) -> int:
        return self.record_list_changes(
            system, [ListChange(list_name, rid, "remove") for rid in record_ids], run_id=None)

    # ------------------------------------------------------------------ call tasks

    def tasks_for(self, cycle_keys: Iterable[str]) -> dict[str, RecordedTask]:
        """The recorded task of each of these recycle cycles that has one."""
        t = s.call_tasks.c
        out: dict[str, RecordedTask] = {}
        with self.engine.connect() as conn:
            for part in chunks(cycle_keys, IN_CHUNK):
                for r in conn.execute(sa.select(s.call_tasks).where(t.cycle_key.in_(part))):
                    out[r.cycle_key] = RecordedTask(r.cycle_key, r.system, r.task_id, r.created_at, r.run_id)
        return out

    def get_task(self, cycle_key: str) -> RecordedTask | None:
        return self.tasks_for([cycle_key]).get(cycle_key)

    def record_tasks(self, system: str, created: Sequence[tuple[str, str]], *, run_id: int | None,
                     at: datetime | None = None) -> int:
        """Record confirmed task creations [(cycle_key, task_id)] in ONE transaction (checkpoint)."""
        created_at = _now(at)
        rows = [{"cycle_key": key, "system": system, "task_id": task_id, "created_at": created_at,
                 "run_id": run_id} for key, task_id in created]
        if rows:
            with self.engine.begin() as conn:
                upsert(conn, s.call_tasks, rows, ["cycle_key"])
        return len(rows)
