"""Send planned writes in API-maximal batches and checkpoint every confirmed batch at once.

Plans arrive a chunk of people at a time; the writer buffers them per endpoint (system + object, list +
operation, tasks) and sends a batch only when it is full (or at the end of the run), so a run makes
ceil(n / batch size) write calls per endpoint however its people were chunked. Right after a batch
answers, the records it confirmed are recorded in the state store in one transaction: a crash loses at
most the batch in flight, which the next run plans and sends again (field writes, list adds and
upserted tasks are idempotent in both systems). Each batch's intents are recorded before it is sent
(sync.state.pending), so that next run can tell leadsync's own landed-but-unrecorded values from hand
edits and re-send uncertain list changes.

Contacts the state store's snapshots know are gone are resolved before a batch is sent: one merged
into another is written to the survivor, an archived one is not sent and fails with its reason.
A record the system refused is kept as a failure (reason included) and planned again next run; one bad
record never stops the batch or the run. Between batches the writer checks the stop event (SIGTERM from
the scheduler) and the run lock.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from connectors.base import (
    BatchSizes,
    CallTask,
    FatalAPIError,
    FieldUpdate,
    ListChange,
    RecordSink,
    RetriableAPIError,
    TaskSink,
    WriteResult,
)
from sync.run.plan_model import FieldTarget, WritePlan
from sync.state.records import NewFailure
from sync.state.store import StateStore

log = logging.getLogger(__name__)
T = TypeVar("T")

class StopRequested(Exception):
    """A stop was asked for (signal); raised between batches, never inside one."""


@dataclass
class Writer:
    store: StateStore
    sinks: Mapping[str, RecordSink]
    task_sink: TaskSink
    run_id: int | None
    mapping_version: int
    stop: threading.Event | None = None
    check_lock: Callable[[], None] | None = None
    preflight: Callable[[str], None] | None = None  # once per system, before its first write
    sizes: Mapping[str, BatchSizes] = field(kw_only=True)  # per system: its connector's `write_sizes`
    # systems whose stored contact snapshots only mirror what a watch stream saw: a confirmed write
    # makes them stale, so they are forgotten with the checkpoint (the ledger says what the record holds)
    forget_snapshots: frozenset[str] = field(default=frozenset(), kw_only=True)
    counts: Counter[str] = field(default_factory=Counter)
    failures: list[NewFailure] = field(default_factory=list)
    _fields: dict[tuple[str, str], list[FieldUpdate]] = field(default_factory=dict)
    _lists: dict[tuple[str, str, str], list[ListChange]] = field(default_factory=dict)
    _tasks: list[CallTask] = field(default_factory=list)
    _ready: set[str] = field(default_factory=set)
    _open_failures: bool = True  # set by __post_init__ from the store

    def __post_init__(self) -> None:
        self._open_failures = bool(self.store.list_failures(stage="write", limit=1))

    # ------------------------------------------------------------------ intake
    def add(self, plan: WritePlan) -> None:
        """Buffer one chunk's plan; send every batch that is full."""
        self._record_adopted(plan.adopted)
        for key, ups in plan.field_updates.items():
            self._fields.setdefault(key, []).extend(ups)
        for system, changes in plan.list_changes.items():
            for ch in changes:
                # a Salesforce batch may mix campaigns (CampaignMember rows name their campaign): one
                # buffer per operation; a HubSpot membership call names one list
                name = ch.list_name if system != "salesforce" else ""
                self._lists.setdefault((system, name, ch.op), []).append(ch)
        for system, tasks in plan.tasks.items():
            if system != "salesforce":
                raise ValueError(f"call tasks go to the SFA, not {system}")
            self._tasks.extend(tasks)
        self.flush(final=False)

    def flush(self, *, final: bool = True) -> None:
        """Send full batches (all remaining ones when `final`)."""
        for (system, _obj), buf in self._fields.items():
            self._drain(system, buf, self.sizes[system].fields, final,
                        lambda b, s=system: self._send_fields(s, b))
        for (system, _name, _op), buf in self._lists.items():
            self._drain(system, buf, self.sizes[system].list_members, final,
                        lambda b, s=system: self._send_lists(s, b))
        self._drain("salesforce", self._tasks, self.sizes["salesforce"].tasks, final, self._send_tasks)

    def pending(self) -> int:
        return (sum(len(b) for b in self._fields.values()) + sum(len(b) for b in self._lists.values())
                + len(self._tasks))

    # ------------------------------------------------------------------ sending
    def _drain(self, system: str, buf: list[T], size: int, final: bool,
               send: Callable[[list[T]], None]) -> None:
        while len(buf) >= size or (final and buf):
            self._between_batches()
            if system not in self._ready:
                if self.preflight is not None:
                    self.preflight(system)  # raises ConfigurationError: nothing of that system is sent
                self._ready.add(system)
            batch = buf[:size]
            send(batch)
            del buf[:size]

    def _between_batches(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise StopRequested("stop requested; remaining writes are left for the next run")
        if self.check_lock is not None:
            self.check_lock()

    def _call(self, system: str, what: str, records: Sequence[str],
              send: Callable[[], list[WriteResult]]) -> tuple[list[WriteResult], bool]:
        """One batch call -> (a result per record, whether the system answered for each). A whole-batch
        API error becomes a failure of each record, but an unanswered batch may have landed (its
        intents stay pending: the next run treats those writes as uncertain)."""
        try:
            results = send()
        except (FatalAPIError, RetriableAPIError) as exc:
            log.warning("%s %s batch of %d failed: %s", system, what, len(records), exc)
            return [WriteResult(r, False, getattr(exc, "code", None) or type(exc).__name__, str(exc))
                    for r in records], False
        if len(results) != len(records):
            raise RuntimeError(f"{system} {what}: {len(results)} results for {len(records)} records")
        return results, True

    def _live(self, system: str, what: str, batch: list[T], record_id: Callable[[T], str],
              moved: Callable[[T, str], T], key: Callable[[T], str]) -> list[T]:
        """The batch with records the snapshots know are gone resolved first: a record merged into
        another is written to the survivor; an archived one is not sent, and fails with its reason."""
        fates = self.store.contact_fates(system, {record_id(item) for item in batch})
        if not fates:
            return batch
        live: list[T] = []
        gone: list[NewFailure] = []
        for item in batch:
            rid = record_id(item)
            if rid not in fates:
                live.append(item)
            elif (survivor := fates[rid]) is not None:
                log.info("%s record %s was merged into %s: writing to %s", system, rid, survivor, survivor)
                live.append(moved(item, survivor))
            else:
                gone.append(NewFailure(system, key(item), "write", f"{what}: ARCHIVED: record {rid} is "
                                       f"archived (deleted) in {system}; restore it there to have it "
                                       "written again"))
        if gone:
            self.failures.extend(gone)
            self.store.add_failures(self.run_id, gone)
            self.counts[f"{system}.write_failures"] += len(gone)
            self._open_failures = True
        return live

    def _send_fields(self, system: str, batch: list[FieldUpdate]) -> None:
        batch = self._live(system, "field update", batch, lambda u: u.record_id,
                           lambda u, rid: replace(u, record_id=rid), key=lambda u: u.record_id)
        if not batch:
            return
        self.store.add_pending(system, updates=batch, run_id=self.run_id)
        results, answered = self._call(system, "field update", [u.record_id for u in batch],
                                       lambda: self.sinks[system].update_fields(batch))
        ok = [u for u, r in zip(batch, results, strict=True) if r.ok]
        self.store.record_writes(system, ok, run_id=self.run_id, mapping_version=self.mapping_version,
                                 answered=batch if answered else ok,
                                 forget_snapshots=system in self.forget_snapshots)
        self.counts[f"{system}.records_updated"] += len(ok)
        self.counts[f"{system}.fields_written"] += sum(len(u.values) for u in ok)
        self._settle(system, "field update", batch, results, key=lambda u: u.record_id)

    def _send_lists(self, system: str, batch: list[ListChange]) -> None:
        batch = self._live(system, "list change", batch, lambda c: c.record_id,
                           lambda c, rid: replace(c, record_id=rid),
                           key=lambda c: f"{c.record_id}@{c.list_name}")
        if not batch:
            return
        self.store.add_pending(system, changes=batch, run_id=self.run_id)
        results, answered = self._call(system, "list change", [c.record_id for c in batch],
                                       lambda: self.sinks[system].change_lists(batch))
        ok = [c for c, r in zip(batch, results, strict=True) if r.ok]
        self.store.record_list_changes(system, ok, run_id=self.run_id, answered=batch if answered else ok)
        self.counts[f"{system}.list_adds"] += sum(1 for c in ok if c.op == "add")
        self.counts[f"{system}.list_removes"] += sum(1 for c in ok if c.op == "remove")
        self._settle(system, "list change", batch, results,
                     key=lambda c: f"{c.record_id}@{c.list_name}")

    def _send_tasks(self, batch: list[CallTask]) -> None:
        results, _answered = self._call("salesforce", "task", [t.cycle_key for t in batch],
                                        lambda: self.task_sink.create_tasks(batch))  # upserts: idempotent
        created = [(t.cycle_key, r.created_id or r.record_id)
                   for t, r in zip(batch, results, strict=True) if r.ok]
        self.store.record_tasks("salesforce", created, run_id=self.run_id)
        self.counts["salesforce.tasks_created"] += len(created)
        self._settle("salesforce", "task", batch, results, key=lambda t: t.cycle_key)

    def _settle(self, system: str, what: str, batch: Sequence[T], results: Sequence[WriteResult],
                key: Callable[[T], str]) -> None:
        failed = [NewFailure(system, key(item), "write",
                             f"{what}: {r.error_code or 'ERROR'}: {r.message or ''}")
                  for item, r in zip(batch, results, strict=True) if not r.ok]
        done = [key(item) for item, r in zip(batch, results, strict=True) if r.ok]
        if failed:
            self.failures.extend(failed)
            self.store.add_failures(self.run_id, failed)
            self.counts[f"{system}.write_failures"] += len(failed)
            self._open_failures = True
        if done and self._open_failures:  # nothing to resolve (and no transaction) when none are open
            self.store.resolve_failures(system, done, stage="write")

    def _record_adopted(self, adopted: Sequence[FieldTarget]) -> None:
        """Values already right in the system: record them so later runs compare against them."""
        by_system: dict[str, list[FieldUpdate]] = {}
        for t in adopted:
            by_system.setdefault(t.system, []).append(FieldUpdate(t.object, t.record_id, {t.field: t.value}))
        for system, ups in by_system.items():
            self.store.record_writes(system, ups, run_id=self.run_id, mapping_version=self.mapping_version)
            self.counts[f"{system}.fields_adopted"] += len(ups)
