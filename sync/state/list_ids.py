"""The ids of the lists leadsync writes to, kept between runs: a list is looked up by name once (or
created by `leadsync setup`) and addressed by id afterwards. Mixed into StateStore.

An id that changes means the list behind the name is another list (deleted and created again, or found
anew after the system said the old id is gone): the memberships leadsync recorded for that name were in
the old list, so they are forgotten in the same transaction and the next plan adds everyone again."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.state import schema as s
from sync.state.sql import at_or_now, upsert


class ListIds:
    engine: Engine

    def list_ids(self, system: str) -> dict[str, str]:
        """List name -> id, as last found for `system`."""
        c = s.list_ids.c
        with self.engine.connect() as conn:
            return {r.list_name: r.list_id
                    for r in conn.execute(sa.select(c.list_name, c.list_id).where(c.system == system))}

    def set_list_id(self, system: str, list_name: str, list_id: str | None, *,
                    at: datetime | None = None) -> int:
        """Keep `list_id` for `list_name` (None: the system said the id is gone). When a different id
        was kept before, the memberships recorded for the name are forgotten with it; returns how many."""
        c = s.list_ids.c
        m = s.list_memberships.c
        with self.engine.begin() as conn:
            before = conn.execute(sa.select(c.list_id).where(
                c.system == system, c.list_name == list_name)).scalar()
            if before == list_id:
                return 0
            if list_id is None:
                conn.execute(s.list_ids.delete().where(c.system == system, c.list_name == list_name))
            else:
                upsert(conn, s.list_ids, [{"system": system, "list_name": list_name, "list_id": list_id,
                                           "found_at": at_or_now(at)}], ["system", "list_name"])
            if before is None:
                return 0  # first sighting: what is recorded was written by name to this same list
            return conn.execute(s.list_memberships.delete().where(
                m.system == system, m.list_name == list_name)).rowcount or 0
