"""Run history and failed records: the part of the state store behind `leadsync runs` and
`leadsync failures` (mixed into `sync.state.store.StateStore`)."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sync.state import schema as s
from sync.state.codec import object_from_json, object_to_json
from sync.state.records import FailureRecord, NewFailure, RunRecord
from sync.state.sql import IN_CHUNK, at_or_now, chunks

MAX_ERROR_CHARS = 4_000

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=!-]+"), r"\1***"),
    (re.compile(r"(?i)\b((?:access_token|refresh_token|client_secret|security_token|session_?id|password|"
                r"passwd|secret|api_?key|token|sid)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}]+"), r"\1***"),
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]+"), "00D***"),  # Salesforce session id
    (re.compile(r"\bpat-[a-z0-9]+-[0-9a-f-]{20,}", re.IGNORECASE), "pat-***"),  # HubSpot private app token
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1***@"),  # credentials in URLs
)


def redact_secrets(text: str) -> str:
    """Mask what looks like a token, password or session id, so error text can be stored and shown."""
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


def _run(r: Any) -> RunRecord:
    return RunRecord(id=r.id, kind=r.kind, started_at=r.started_at, finished_at=r.finished_at,
                     status=r.status,
                     counts=object_from_json(r.counts), api_calls=object_from_json(r.api_calls),
                     mapping_version=r.mapping_version, error=r.error, pid=r.pid, host=r.host)


def _failure(r: Any) -> FailureRecord:
    return FailureRecord(id=r.id, run_id=r.run_id, system=r.system, record_key=r.record_key, stage=r.stage,
                         reason=r.reason, attempts=r.attempts, first_seen=r.first_seen, last_seen=r.last_seen,
                         resolved=r.resolved, resolved_at=r.resolved_at)


class RunHistory:
    """Runs (start, finish, history) and per-record failures (add, bump, resolve, list)."""

    engine: Engine

    # ------------------------------------------------------------------ runs

    def start_run(self, *, mapping_version: int | None, kind: str = "sync",
                  at: datetime | None = None) -> int:
        """Record a run as `running`; returns its id. Take the run lock first."""
        with self.engine.begin() as conn:
            result = conn.execute(s.runs.insert().values(
                kind=kind, started_at=at_or_now(at), status="running", counts="{}", api_calls="{}",
                mapping_version=mapping_version, pid=os.getpid(), host=socket.gethostname()))
            return int(result.inserted_primary_key[0])

    def update_run(self, run_id: int, *, counts: Mapping[str, Any] | None = None,
                   api_calls: Mapping[str, Any] | None = None) -> None:
        """Save progress counters while a run goes on (an interrupted run then shows how far it got)."""
        values: dict[str, Any] = {}
        if counts is not None:
            values["counts"] = object_to_json(counts)
        if api_calls is not None:
            values["api_calls"] = object_to_json(api_calls)
        if values:
            with self.engine.begin() as conn:
                conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(**values))

    def finish_run(self, run_id: int, *, status: str, counts: Mapping[str, Any] | None = None,
                   api_calls: Mapping[str, Any] | None = None, error: str | None = None,
                   at: datetime | None = None) -> None:
        """Close a run with its final status. `error` is redacted (tokens, passwords) and shortened."""
        if status not in s.RUN_STATUSES or status == "running":
            raise ValueError(f"status must be one of {', '.join(s.RUN_STATUSES[1:])}, not {status!r}")
        values: dict[str, Any] = {"status": status, "finished_at": at_or_now(at),
                                  "error": redact_secrets(error)[:MAX_ERROR_CHARS] if error else None}
        if counts is not None:
            values["counts"] = object_to_json(counts)
        if api_calls is not None:
            values["api_calls"] = object_to_json(api_calls)
        with self.engine.begin() as conn:
            updated = conn.execute(s.runs.update().where(s.runs.c.id == run_id).values(**values)).rowcount
        if updated != 1:
            raise KeyError(f"no run {run_id}")

    def get_run(self, run_id: int) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(s.runs).where(s.runs.c.id == run_id)).first()
        return _run(row) if row else None

    def list_runs(self, limit: int = 20, *, kind: str | None = None,
                  before: int | None = None) -> list[RunRecord]:
        """Most recent first; `before`: only runs with a smaller id (the next page of a keyset-paged
        history: pass the last id of the previous page)."""
        stmt = sa.select(s.runs).order_by(s.runs.c.id.desc()).limit(limit)
        if kind is not None:
            stmt = stmt.where(s.runs.c.kind == kind)
        if before is not None:
            stmt = stmt.where(s.runs.c.id < before)
        with self.engine.connect() as conn:
            return [_run(r) for r in conn.execute(stmt)]

    def mark_interrupted_runs(self, *, at: datetime | None = None) -> list[int]:
        """Close runs left `running` by a process that died; returns their ids.

        Call only while holding the run lock (then no other run can be live)."""
        with self.engine.begin() as conn:
            ids = [r.id for r in conn.execute(sa.select(s.runs.c.id).where(s.runs.c.status == "running"))]
            if ids:
                conn.execute(s.runs.update().where(s.runs.c.id.in_(ids)).values(
                    status="interrupted", finished_at=at_or_now(at),
                    error="the process stopped before the run finished (killed or crashed)"))
        return ids

    # ------------------------------------------------------------------ failures

    def add_failures(self, run_id: int | None, failures: Iterable[NewFailure], *,
                     at: datetime | None = None) -> int:
        """Record failed records in one transaction. A record already failing at that stage gets
        attempts + 1 and the new reason; a resolved one is reopened with attempts = 1."""
        when = at_or_now(at)
        latest: dict[tuple[str, str, str], NewFailure] = {}
        for f in failures:
            if f.stage not in s.FAILURE_STAGES:
                raise ValueError(f"failure stage must be one of {s.FAILURE_STAGES}, not {f.stage!r}")
            latest[(f.system, f.record_key, f.stage)] = f
        t = s.failures.c
        with self.engine.begin() as conn:
            for part in chunks(list(latest), IN_CHUNK):
                existing = {(r.system, r.record_key, r.stage): r for r in conn.execute(
                    sa.select(t.id, t.system, t.record_key, t.stage, t.attempts, t.resolved).where(
                        sa.tuple_(t.system, t.record_key, t.stage).in_(part)))}
                updates, inserts = [], []
                for key in part:
                    f, old = latest[key], existing.get(key)
                    if old is None:
                        inserts.append({"run_id": run_id, "system": f.system, "record_key": f.record_key,
                                        "stage": f.stage, "reason": f.reason, "attempts": 1,
                                        "first_seen": when, "last_seen": when, "resolved": False,
                                        "resolved_at": None})
                    else:
                        updates.append({"b_id": old.id, "b_run": run_id, "b_reason": f.reason,
                                        "b_attempts": 1 if old.resolved else old.attempts + 1,
                                        "b_first": when if old.resolved else None, "b_last": when})
                if inserts:
                    conn.execute(s.failures.insert(), inserts)
                if updates:
                    conn.execute(s.failures.update().where(t.id == sa.bindparam("b_id")).values(
                        run_id=sa.bindparam("b_run"), reason=sa.bindparam("b_reason"),
                        attempts=sa.bindparam("b_attempts"), last_seen=sa.bindparam("b_last"),
                        first_seen=sa.func.coalesce(sa.bindparam("b_first", type_=s.UTCDateTime),
                                                    t.first_seen),
                        resolved=False, resolved_at=None), updates)
        return len(latest)

    def add_failure(self, run_id: int | None, system: str, record_key: str, stage: str, reason: str, *,
                    at: datetime | None = None) -> None:
        self.add_failures(run_id, [NewFailure(system, record_key, stage, reason)], at=at)

    def bump_failure(self, failure_id: int, *, reason: str | None = None, run_id: int | None = None,
                     at: datetime | None = None) -> None:
        """One more failed attempt on a known failure (e.g. `leadsync failures retry` failed again)."""
        t = s.failures.c
        values: dict[str, Any] = {"attempts": t.attempts + 1, "last_seen": at_or_now(at)}
        if reason is not None:
            values["reason"] = reason
        if run_id is not None:
            values["run_id"] = run_id
        with self.engine.begin() as conn:
            if conn.execute(s.failures.update().where(t.id == failure_id).values(**values)).rowcount != 1:
                raise KeyError(f"no failure {failure_id}")

    def resolve_failures(self, system: str, record_keys: Iterable[str], *, stage: str | None = None,
                         at: datetime | None = None) -> int:
        """Mark open failures of these records resolved (they went through); returns how many."""
        t = s.failures.c
        n = 0
        with self.engine.begin() as conn:
            for part in chunks(record_keys, IN_CHUNK):
                stmt = s.failures.update().where(t.system == system, t.record_key.in_(part),
                                                 t.resolved == sa.false())
                if stage is not None:
                    stmt = stmt.where(t.stage == stage)
                n += conn.execute(stmt.values(resolved=True, resolved_at=at_or_now(at))).rowcount
        return n

    def list_failures(self, *, include_resolved: bool = False, system: str | None = None,
                      stage: str | None = None, below_attempts: int | None = None,
                      limit: int | None = None) -> list[FailureRecord]:
        """Failures, most recently seen first. `below_attempts` keeps those still worth retrying."""
        t = s.failures.c
        stmt = sa.select(s.failures).order_by(t.last_seen.desc(), t.id.desc())
        if not include_resolved:
            stmt = stmt.where(t.resolved == sa.false())
        if system is not None:
            stmt = stmt.where(t.system == system)
        if stage is not None:
            stmt = stmt.where(t.stage == stage)
        if below_attempts is not None:
            stmt = stmt.where(t.attempts < below_attempts)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [_failure(r) for r in conn.execute(stmt)]

    def failure_page(self, *, after: int | None = None, run_id: int | None = None,
                     include_resolved: bool = False, limit: int = 50) -> list[FailureRecord]:
        """Up to `limit` failures in id order after `after` (keyset paging: pass the last id of the
        previous page); open ones only unless `include_resolved`; `run_id`: those last hit by that run.
        One index range per page (migration 11: `ix_failures_open_id`, `ix_failures_run_id`)."""
        t = s.failures.c
        stmt = sa.select(s.failures).order_by(t.id).limit(limit)
        if not include_resolved:
            stmt = stmt.where(t.resolved == sa.false())
        if run_id is not None:
            stmt = stmt.where(t.run_id == run_id)
        if after is not None:
            stmt = stmt.where(t.id > after)
        with self.engine.connect() as conn:
            return [_failure(r) for r in conn.execute(stmt)]
