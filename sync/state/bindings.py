"""The remote accounts a state store belongs to: the Salesforce org id and the HubSpot portal id.
Mixed into StateStore.

Everything the store remembers about a system (the values leadsync wrote, the memberships and tasks it
made, list ids, watermarks, snapshots, failed records) is true of one org or portal. A state file kept
while the org behind it changed (a sandbox refresh, settings pointed elsewhere, a portal restored from
backup) would make every run believe its values are already there and write nothing; so the ids are
bound on first use and a run against another account stops (sync.run.binding). Rebinding on purpose
forgets what the store believed of the old account in the same transaction as it binds the new one,
so the next plan writes everything again."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sync.state import schema as s
from sync.state.sql import at_or_now, upsert


class Bindings:
    engine: Engine

    def bindings(self) -> dict[str, str]:
        """System -> the remote account id this store is bound to."""
        c = s.bindings.c
        with self.engine.connect() as conn:
            return {r.system: r.remote_id for r in conn.execute(sa.select(c.system, c.remote_id))}

    def bind(self, system: str, remote_id: str, *, forget: bool = False,
             at: datetime | None = None) -> dict[str, int]:
        """Bind the store to `remote_id` for `system`. With `forget`, first forget everything the
        store believed of `system` (rows removed per table, returned), in the same transaction."""
        removed: dict[str, int] = {}
        with self.engine.begin() as conn:
            if forget:
                removed = _forget(conn, system)
            upsert(conn, s.bindings, [{"system": system, "remote_id": remote_id, "bound_at": at_or_now(at)}],
                   ["system"])
        return removed


def _forget(conn: Connection, system: str) -> dict[str, int]:
    """Delete what the store believes of `system`'s records; run history stays."""
    stmts: dict[str, sa.Delete] = {
        "written_values": s.written_values.delete().where(s.written_values.c.system == system),
        "list_memberships": s.list_memberships.delete().where(s.list_memberships.c.system == system),
        "list_ids": s.list_ids.delete().where(s.list_ids.c.system == system),
        "pending_writes": s.pending_writes.delete().where(s.pending_writes.c.system == system),
        "call_tasks": s.call_tasks.delete().where(s.call_tasks.c.system == system),
        "contacts": s.contacts.delete().where(s.contacts.c.system == system),
        "failures": s.failures.delete().where(s.failures.c.system == system),
        "watermarks": s.watermarks.delete().where(s.watermarks.c.stream.like(f"{system}.%")),
    }
    if system == "salesforce":  # deal snapshots are the SFA's records
        stmts["deals"] = s.deals.delete()
    names = {"salesforce": "deal", "hubspot": "contact"}.get(system)  # the names those snapshots gave
    if names:
        stmts["person_names"] = s.person_names.delete().where(s.person_names.c.source == names)
    return {name: conn.execute(stmt).rowcount or 0 for name, stmt in stmts.items()}
