"""What leadsync wrote and the systems confirmed: the value last written to each field, the list
memberships leadsync created (and so manages), and the task of each recycle cycle. Each `record_*` call
is the crash checkpoint of one batch: ONE transaction. Mixed into StateStore."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import FieldUpdate, ListChange, Scalar, TaskState
from sync.state import schema as s
from sync.state.bulk import delete_rows, upsert_rows, value_json
from sync.state.codec import (
    scalar_from_json,
)
from sync.state.pending import clear_pending_in
from sync.state.records import FieldKey, Membership, RecordedTask, TaskCycle, WrittenValue
from sync.state.sql import IN_CHUNK, WRITE_CHUNK, at_or_now, chunks, stream_rows

DELETED_TASK = "(deleted)"  # call_tasks.status of a task deleted in the SFA (neither open nor completed)


def _written_value(text: str) -> Scalar:
    """`scalar_from_json`, with the common cases first: a JSON string without escapes (the encoder
    escapes every quote, backslash and control character inside a string) is its text unquoted; an
    integer, true, false and null are read directly. Anything else goes through the JSON parser."""
    if text[:1] == '"':
        if len(text) >= 2 and text[-1] == '"' and "\\" not in text and text.count('"') == 2:
            return text[1:-1]
    elif text in _LITERALS:
        return _LITERALS[text]
    elif _INTEGER.fullmatch(text):
        return int(text)
    return scalar_from_json(text)


_LITERALS: dict[str, Scalar] = {"true": True, "false": False, "null": None}
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")  # JSON's integer grammar (ASCII digits, no leading zero)


class Ledger:
    engine: Engine

    # ------------------------------------------------------------------ written values (checkpoint)

    def record_writes(self, system: str, updates: Sequence[FieldUpdate], *, run_id: int | None,
                      mapping_version: int, at: datetime | None = None,
                      answered: Sequence[FieldUpdate] = (), forget_snapshots: bool = False) -> int:
        """Record confirmed field writes (one batch the system accepted) in ONE transaction.

        This is the crash checkpoint: call it right after each successful batch, with only the records
        the system confirmed; the `answered` intents (sync.state.pending) are forgotten in the same
        transaction. `forget_snapshots`: the stored contact snapshots of these records are dropped too
        (a snapshot read before the write would otherwise pass for what the record holds now; for a
        system whose snapshots only mirror a watch stream, which may never read the record again).
        Returns the number of field values recorded.
        """
        written_at = at_or_now(at)
        rows = [{"system": system, "object": u.object_type, "record_id": u.record_id, "field": f,
                 "value": value_json(v), "written_at": written_at, "mapping_version": mapping_version,
                 "run_id": run_id} for u in updates for f, v in u.values.items()]
        if rows or answered:
            with self.engine.begin() as conn:
                for part in chunks(rows, WRITE_CHUNK):
                    upsert_rows(conn, s.written_values, part, ["system", "object", "record_id", "field"])
                clear_pending_in(conn, system, updates=answered)
                if forget_snapshots:
                    c = s.contacts.c
                    for part in chunks(sorted({u.record_id for u in updates}), IN_CHUNK):
                        conn.execute(s.contacts.delete().where(c.system == system, c.contact_id.in_(part)))
                        if system == "hubspot":  # the names of those snapshots (see schema.person_names)
                            n = s.person_names.c
                            conn.execute(s.person_names.delete().where(n.source == "contact",
                                                                       n.record_id.in_(part)))
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
        w = s.written_values.c
        with self.engine.connect() as conn:  # three columns, and only the wanted values decoded
            for (system, obj), ids in groups.items():
                for part in chunks(sorted(ids), IN_CHUNK):
                    for rid, fld, value in conn.execute(sa.select(w.record_id, w.field, w.value).where(
                            w.system == system, w.object == obj, w.record_id.in_(part))):
                        key = (system, obj, rid, fld)
                        if key in wanted:
                            out[key] = _written_value(value)
        return out

    def written_record_ids(self, system: str, *, offset: int = 0, limit: int | None = None) -> list[str]:
        """The records of `system` leadsync has a recorded field write for, sorted (all of them, or
        the window of `limit` from `offset`)."""
        c = s.written_values.c
        stmt = sa.select(c.record_id).where(c.system == system).distinct().order_by(c.record_id)
        if offset or limit is not None:
            stmt = stmt.offset(offset).limit(limit)
        return [r.record_id for r in stream_rows(self.engine, stmt)]

    def count_written_records(self, system: str) -> int:
        c = s.written_values.c
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count(sa.distinct(c.record_id))).where(
                c.system == system)).scalar_one())

    def iter_written(self, system: str | None = None) -> Iterator[WrittenValue]:
        """Stream every recorded write (optionally of one system)."""
        stmt = sa.select(s.written_values).order_by(*s.written_values.primary_key.columns)
        if system is not None:
            stmt = stmt.where(s.written_values.c.system == system)
        for r in stream_rows(self.engine, stmt):
            yield WrittenValue(r.system, r.object, r.record_id, r.field, scalar_from_json(r.value),
                               r.written_at, r.mapping_version, r.run_id)

    # ------------------------------------------------------------------ list memberships

    def get_memberships(self, system: str, *, list_name: str | None = None,
                        record_ids: Iterable[str] | None = None) -> list[Membership]:
        """Memberships leadsync manages in one system, optionally narrowed to a list or to records."""
        m = s.list_memberships.c
        stmt = sa.select(s.list_memberships).where(m.system == system)
        if list_name is not None:
            stmt = stmt.where(m.list_name == list_name)
        if record_ids is None:
            with self.engine.connect() as conn:
                return [Membership(r.system, r.list_name, r.record_id, r.added_at, r.run_id)
                        for r in conn.execute(stmt.order_by(m.list_name, m.record_id))]
        # by record: no ORDER BY in SQL (SQLite would then walk the primary key, every row of the system,
        # instead of seeking ix_list_memberships_record); the few rows are sorted here
        out: list[Membership] = []
        with self.engine.connect() as conn:
            for part in chunks(record_ids, IN_CHUNK):
                out.extend(Membership(r.system, r.list_name, r.record_id, r.added_at, r.run_id)
                           for r in conn.execute(stmt.where(m.record_id.in_(part))))
        out.sort(key=lambda x: (x.list_name, x.record_id))
        return out

    def record_list_changes(self, system: str, changes: Sequence[ListChange], *, run_id: int | None,
                            at: datetime | None = None, answered: Sequence[ListChange] = ()) -> int:
        """Record confirmed list adds and removes in ONE transaction (checkpoint), forgetting the
        `answered` intents in it too; returns how many changes were recorded."""
        added_at = at_or_now(at)
        adds = [{"system": system, "list_name": c.list_name, "record_id": c.record_id, "added_at": added_at,
                 "run_id": run_id} for c in changes if c.op == "add"]
        removes = [{"system": system, "list_name": c.list_name, "record_id": c.record_id}
                   for c in changes if c.op == "remove"]
        with self.engine.begin() as conn:
            for part in chunks(adds, WRITE_CHUNK):
                upsert_rows(conn, s.list_memberships, part, ["system", "list_name", "record_id"])
            delete_rows(conn, s.list_memberships, removes)
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

    def recorded_cycles(self, cycles: Iterable[TaskCycle]) -> set[str]:
        """Keys of `cycles` that already have their task: recorded under the key itself, or under its
        former (CloseDate-based) key by a task created on or after the current lost date. A task under
        the former key created before that day belongs to an earlier loss (the deal was reopened and
        lost again), so it does not count."""
        cycles = list(cycles)
        keys = sorted({k for c in cycles for k in (c.key, c.former_key) if k})
        found = self.tasks_for(keys) if keys else {}
        out = {c.key for c in cycles if c.key in found}
        for c in cycles:
            former = found.get(c.former_key) if c.former_key else None
            if former is not None and (c.lost_on is None or former.created_at.date() >= c.lost_on):
                out.add(c.key)
        return out

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
        created_at = at_or_now(at)
        rows = [{"cycle_key": key, "system": system, "task_id": task_id, "created_at": created_at,
                 "run_id": run_id} for key, task_id in created]
        if rows:
            with self.engine.begin() as conn:
                upsert_rows(conn, s.call_tasks, rows, ["cycle_key"])
        return len(rows)

    def record_task_states(self, system: str, states: Sequence[TaskState]) -> int:
        """Store what the SFA says of the call tasks leadsync created (read back by the task stream) in
        ONE transaction: each recorded task's `status` and `closed_at` (when it was closed; NULL while
        open). A deleted task gets status DELETED_TASK and no closing time. A task matches on its cycle
        key and task id (a task this state did not record is left out). Returns the rows updated."""
        t = s.call_tasks.c
        rows = [{"k": st.cycle_key, "i": st.task_id,
                 "st": DELETED_TASK if st.is_deleted else (st.status or ""),
                 "ca": None if st.is_deleted or not st.is_closed else st.closed_at} for st in states]
        if not rows:
            return 0
        stmt = (s.call_tasks.update()
                .where(t.system == system, t.cycle_key == sa.bindparam("k"), t.task_id == sa.bindparam("i"))
                .values(status=sa.bindparam("st"), closed_at=sa.bindparam("ca")))
        with self.engine.begin() as conn:
            result = conn.execute(stmt, rows)
        return max(0, result.rowcount or 0)

