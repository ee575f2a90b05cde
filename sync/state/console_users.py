"""Who may sign in to the admin console, and what they did there (`console_users`, `console_audit`).
Mixed into StateStore. The store keeps password HASHES only: `sync.console.auth` hashes and verifies;
no password ever reaches this module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.state import schema as s

ROLES = ("admin", "viewer")


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    name: str
    role: str
    password_hash: str

    def __repr__(self) -> str:  # the hash stays out of logs and tracebacks
        return f"ConsoleUser(name={self.name!r}, role={self.role!r})"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    user_name: str | None
    action: str
    detail: str | None


class ConsoleUsers:
    engine: Engine

    def set_console_user(self, name: str, role: str, password_hash: str) -> None:
        """Create the user, or change their role and password hash."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        u = s.console_users
        with self.engine.begin() as conn:
            values = {"role": role, "password_hash": password_hash, "updated_at": datetime.now(UTC)}
            if conn.execute(sa.update(u).where(u.c.name == name).values(values)).rowcount == 0:
                conn.execute(sa.insert(u).values(name=name, **values))

    def console_user(self, name: str) -> ConsoleUser | None:
        u = s.console_users.c
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(u.name, u.role, u.password_hash).where(u.name == name)).first()
        return ConsoleUser(r.name, r.role, r.password_hash) if r else None

    def console_users(self) -> list[ConsoleUser]:
        u = s.console_users.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(u.name, u.role, u.password_hash).order_by(u.name)).all()
        return [ConsoleUser(r.name, r.role, r.password_hash) for r in rows]

    def audit(self, user_name: str | None, action: str, detail: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.insert(s.console_audit).values(at=datetime.now(UTC), user_name=user_name,
                                                          action=action, detail=detail))

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The latest entries first."""
        a = s.console_audit.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(a.id, a.at, a.user_name, a.action, a.detail)
                                .order_by(a.id.desc()).limit(limit)).all()
        return [AuditEntry(r.id, r.at, r.user_name, r.action, r.detail) for r in rows]
