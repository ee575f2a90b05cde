"""Write intents: what a run was about to send when it died (mixed into `StateStore`).

The writer records a batch's intents in one transaction before sending it; the checkpoint that
records what the system confirmed (`record_writes` / `record_list_changes`, `answered=`) forgets the
intents the system answered for in the same transaction (`clear_pending_in`). Intents
left behind belong to a batch that was in flight when the process died: it may or may not have
landed. The next run reads them (`pending_fields`, `pending_lists`) so that:

- a `keep_manual`/`if_blank` field holding exactly the value leadsync was sending is recognised as
  leadsync's own write (adopted), not mistaken for a hand edit;
- a membership with an intent is uncertain: the planner sends the operation that matches the desired
  state again (adds and removes are idempotent in both systems), so nobody is left on two lists.

`clear_pending_before(run_id)` drops the intents of earlier runs once a run has planned and written
past them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from connectors.base import FieldUpdate, ListChange, Scalar
from sync.state import schema as s
from sync.state.bulk import delete_rows, upsert_rows, value_json
from sync.state.codec import scalar_from_json
from sync.state.records import FieldKey, MembershipKey
from sync.state.sql import IN_CHUNK, WRITE_CHUNK, chunks

PENDING_KEY = ("system", "kind", "target", "record_id", "field")


def _field_rows(system: str, updates: Sequence[FieldUpdate]) -> list[dict[str, object]]:
    return [{"system": system, "kind": "field", "target": u.object_type, "record_id": u.record_id,
             "field": f, "value": value_json(v)} for u in updates for f, v in u.values.items()]


def _list_rows(system: str, changes: Sequence[ListChange]) -> list[dict[str, object]]:
    return [{"system": system, "kind": f"list_{c.op}", "target": c.list_name, "record_id": c.record_id,
             "field": "", "value": None} for c in changes]


def clear_pending_in(conn: Connection, system: str, *, updates: Sequence[FieldUpdate] = (),
                     changes: Sequence[ListChange] = ()) -> None:
    """Delete these intents inside the caller's transaction (the checkpoint's own, so that the
    confirmation and the forgetting commit together)."""
    keys = [{"system": system, "kind": "field", "target": u.object_type, "record_id": u.record_id, "field": f}
            for u in updates for f in u.values]
    keys += [{"system": system, "kind": f"list_{c.op}", "target": c.list_name, "record_id": c.record_id,
              "field": ""} for c in changes]
    delete_rows(conn, s.pending_writes, keys)


def _any(conn: Connection, *where: sa.ColumnElement[bool]) -> bool:
    """Does any intent match? (served by the primary key's index)"""
    stmt = sa.select(sa.literal(1)).select_from(s.pending_writes).where(*where).limit(1)
    return conn.execute(stmt).first() is not None


class PendingWrites:
    engine: Engine

    def add_pending(self, system: str, *, updates: Sequence[FieldUpdate] = (),
                    changes: Sequence[ListChange] = (), run_id: int | None) -> int:
        """Record the intents of a batch about to be sent, in ONE transaction."""
        now = datetime.now(UTC)
        rows = [{**r, "run_id": run_id, "created_at": now}
                for r in _field_rows(system, updates) + _list_rows(system, changes)]
        if rows:
            with self.engine.begin() as conn:
                for part in chunks(rows, WRITE_CHUNK):
                    upsert_rows(conn, s.pending_writes, part, PENDING_KEY)
        return len(rows)

    def pending_fields(self, keys: Iterable[FieldKey]) -> dict[FieldKey, Scalar]:
        """The value an unfinished earlier batch was writing to each of these fields (if any)."""
        wanted = set(keys)
        by_system: dict[str, set[str]] = {}
        for system, _obj, rid, _field in wanted:
            by_system.setdefault(system, set()).add(rid)
        out: dict[FieldKey, Scalar] = {}
        p = s.pending_writes.c
        with self.engine.connect() as conn:
            for system, ids in by_system.items():
                if not _any(conn, p.system == system, p.kind == "field"):
                    continue  # the usual case after a clean run: one query instead of one per 500 ids
                columns = sa.select(p.target, p.record_id, p.field, p.value)
                for part in chunks(sorted(ids), IN_CHUNK):
                    for target, rid, fld, value in conn.execute(columns.where(
                            p.system == system, p.kind == "field", p.record_id.in_(part))):
                        key = (system, target, rid, fld)
                        if key in wanted:
                            out[key] = scalar_from_json(value)
        return out

    def pending_lists(self, system: str, record_ids: Iterable[str]) -> set[MembershipKey]:
        """Memberships of these records with an unfinished add or remove: uncertain."""
        p = s.pending_writes.c
        out: set[MembershipKey] = set()
        kinds = p.kind.in_(("list_add", "list_remove"))
        with self.engine.connect() as conn:
            if not _any(conn, p.system == system, kinds):
                return out
            for part in chunks(sorted(set(record_ids)), IN_CHUNK):
                for r in conn.execute(sa.select(p.target, p.record_id).where(
                        p.system == system, kinds, p.record_id.in_(part))):
                    out.add((system, r.target, r.record_id))
        return out

    def count_pending(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(s.pending_writes)).scalar_one())

    def clear_pending_before(self, run_id: int) -> int:
        """Drop the intents of runs before `run_id` (call once that run has written past them)."""
        p = s.pending_writes.c
        with self.engine.begin() as conn:
            result = conn.execute(s.pending_writes.delete().where(
                sa.or_(p.run_id.is_(None), p.run_id < run_id)))
            return int(result.rowcount or 0)
