"""Every version of the mapping file the console saved, rolled back to, or found on disk
(`mapping_versions`, migration 11). Mixed into StateStore. The console computes the texts and diffs;
this module only keeps them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.state import schema as s

ACTIONS = ("found", "save", "rollback")


@dataclass(frozen=True, slots=True)
class MappingVersion:
    id: int
    version: int  # the file's own `version` value
    saved_at: datetime
    saved_by: str | None  # None: found on disk
    action: str  # found | save | rollback
    restored_from: int | None  # a rollback: the id of the version it restored
    text: str | None = None  # None in listings (`mapping_versions`)
    diff: str | None = None


class MappingVersions:
    engine: Engine

    def record_mapping_version(self, version: int, text: str, diff: str, *, action: str,
                               saved_by: str | None, restored_from: int | None = None) -> MappingVersion:
        """A new row (one transaction); returns it with its id."""
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        at = datetime.now(UTC)
        with self.engine.begin() as conn:
            row_id = conn.execute(sa.insert(s.mapping_versions).values(
                version=version, saved_at=at, saved_by=saved_by, action=action, text=text, diff=diff,
                restored_from=restored_from)).inserted_primary_key[0]
        return MappingVersion(int(row_id), version, at, saved_by, action, restored_from, text, diff)

    def mapping_versions(self) -> list[MappingVersion]:
        """Every version, newest first, without text and diff."""
        m = s.mapping_versions.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(m.id, m.version, m.saved_at, m.saved_by, m.action,
                                          m.restored_from).order_by(m.id.desc())).all()
        return [MappingVersion(r.id, r.version, r.saved_at, r.saved_by, r.action, r.restored_from)
                for r in rows]

    def mapping_version(self, version_id: int) -> MappingVersion | None:
        """One version with its text and diff."""
        return self._mapping_version(s.mapping_versions.c.id == version_id)

    def latest_mapping_version(self) -> MappingVersion | None:
        """The newest row (highest id) with its text, None when there is none."""
        m = s.mapping_versions.c
        return self._mapping_version(m.id == sa.select(sa.func.max(m.id)).scalar_subquery())

    def highest_mapping_version(self) -> int:
        """The highest `version` number recorded (0 when none)."""
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(s.mapping_versions.c.version))).scalar() or 0)

    def _mapping_version(self, where: sa.ColumnElement[bool]) -> MappingVersion | None:
        m = s.mapping_versions.c
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(m.id, m.version, m.saved_at, m.saved_by, m.action, m.restored_from,
                                       m.text, m.diff).where(where)).first()
        return (MappingVersion(r.id, r.version, r.saved_at, r.saved_by, r.action, r.restored_from, r.text,
                               r.diff) if r else None)
