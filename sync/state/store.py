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
- the ids of the lists written to ....... list_ids / set_list_id (see `sync.state.list_ids.ListIds`)
- the org / portal it belongs to ........ bindings / bind (see `sync.state.bindings.Bindings`)
- runs and failed records .............. see `sync.state.runs.RunHistory` (mixed in)
- write intents (crash recovery) ........ see `sync.state.pending.PendingWrites` (mixed in)
The first two rows are `sync.state.snapshots.Snapshots`, the next three `sync.state.ledger.Ledger`.

Bulk methods take iterables, write in batches (executemany) and iterate with streaming cursors.
Each `record_*` call is ONE transaction: after it returns, the batch survives a crash; if the process
dies inside it, none of the batch is recorded (and the next run redoes exactly that batch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy.engine import Engine

from sync.state import schema as s
from sync.state.bindings import Bindings
from sync.state.ledger import Ledger
from sync.state.list_ids import ListIds
from sync.state.pending import PendingWrites
from sync.state.records import FieldKey, MembershipKey, PlanState, TaskCycle
from sync.state.runs import RunHistory
from sync.state.snapshots import Snapshots
from sync.state.sql import create_engine, display_url


class StateStore(Snapshots, Ledger, ListIds, RunHistory, PendingWrites, Bindings):
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
