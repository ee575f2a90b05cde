"""One run: lock → pull → snapshot → resolve → assign → plan → write (checkpointed) → record.

Every run recomputes every person from the stored snapshots (time-based rules — the waiting period,
score decay — change assignments with no new source data), but only what differs from the last
confirmed write is sent. Watermarks move only when a run got through its writes (ok or partial), to the
newest modification time actually seen, never to the wall clock.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from connectors.base import (
    AuthenticationError,
    BudgetExhausted,
    ConfigurationError,
    ConnectorError,
    ContactRef,
    LostDeal,
    RetriableAPIError,
    TaskState,
)
from mappings.digest import rule_sources, rules_digest
from mappings.engine import assign
from sync.exit_codes import EXIT_BAD_CONFIG, EXIT_LOCKED, EXIT_OK, EXIT_RECORD_FAILURES
from sync.run import binding, people, streams, verify
from sync.run.context import SyncContext
from sync.run.desired import Current, desired_for, email_lists, needs_current, records_of
from sync.run.identity import Person, to_person_facts
from sync.run.lock import LockHeld, LockLost, RunLock
from sync.run.plan import PlanState, PlanSummary, plan
from sync.run.plan_model import PersonDesired
from sync.run.setup import field_expectations, field_specs, located
from sync.run.stage_dates import lifecycle_dates
from sync.run.standing import standing
from sync.run.writer import StopRequested, Writer
from sync.state.errors import StateStoreError
from sync.state.history import Standing
from sync.state.records import TaskCycle
from sync.state.sql import chunks

log = logging.getLogger(__name__)

SNAPSHOT_CHUNK = 1_000  # records stored per transaction as they are read (at most sync.people_per_chunk)
LOOKUP_CHUNK = 10_000  # emails looked up in HubSpot per part

Progress = Callable[[str, int], None]  # (phase, items done so far)


@dataclass(frozen=True)
class RunOptions:
    dry_run: bool = False
    now: datetime | None = None  # the clock for time-based rules (tests and backfills inject it)
    kind: str = "sync"  # "sync" | "backfill" | "retry"
    since: datetime | None = None  # backfill window: re-read everything modified in [since, until)
    until: datetime | None = None
    stop: threading.Event | None = None
    sample_size: int = 20
    progress: Progress | None = None
    rebind: bool = False  # the state belongs to another org/portal: forget it and bind the new ones
    verify: bool = False  # re-read every record leadsync has written (else a sample: sync.verify_sample)


@dataclass
class RunResult:
    run_id: int | None
    status: str  # ok | partial | budget_stopped | interrupted | failed | locked | dry_run
    exit_code: int
    counts: dict[str, Any] = field(default_factory=dict)
    api_calls: dict[str, dict[str, int]] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration_seconds: float = 0.0
    lock_wait_seconds: float = 0.0  # waited for another run of the same state to end (lock_wait_seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "exit_code": self.exit_code,
                "counts": self.counts, "api_calls": self.api_calls, "plan": self.plan, "error": self.error,
                "duration_seconds": round(self.duration_seconds, 3),
                "lock_wait_seconds": round(self.lock_wait_seconds, 3)}


def run(ctx: SyncContext, options: RunOptions = RunOptions()) -> RunResult:
    """One run under the run lock. Never raises for expected trouble: the result says what happened."""
    started = time.monotonic()
    lock = RunLock(ctx.store.engine, wait_seconds=ctx.settings.state.lock_wait_seconds)
    try:
        lock.acquire()
    except LockHeld as exc:
        return RunResult(None, "locked", EXIT_LOCKED, error=str(exc), lock_wait_seconds=lock.waited)
    try:
        ctx.store.mark_interrupted_runs()
        return replace(_Run(ctx, options, lock).execute(started), lock_wait_seconds=lock.waited)
    finally:
        lock.release()


class PullIncomplete(ConnectorError):
    """A read failed for good; the run kept what it read and retried earlier failures (exit 1)."""


class _Run:
    def __init__(self, ctx: SyncContext, options: RunOptions, lock: RunLock):
        self.ctx, self.o, self.lock = ctx, options, lock
        self.now = options.now or datetime.now(UTC)
        self.counts: Counter[str] = Counter()
        self.summary = PlanSummary(sample_size=options.sample_size)
        self.marks: dict[str, datetime] = {}
        self.run_id: int | None = None
        self.writer: Writer | None = None
        # records per write call, as each system's connector sends them (the writer and the estimates)
        self.sizes = {"salesforce": ctx.salesforce.write_sizes, "hubspot": ctx.hubspot.write_sizes}
        self.verify_sf: set[str] = set()  # Salesforce records whose current values are re-read (drift)
        self.verify_now: dict[str, dict[str, object]] = {}  # their values, read once in the pull
        self.prepared_lists = False
        self.pull_error: ConnectorError | None = None  # a read that failed for good (pull_keeping)
        self.checked: set[str] = set()  # systems whose mapped fields passed the preflight this run
        self.snapshot_chunk = min(SNAPSHOT_CHUNK, ctx.settings.sync.people_per_chunk)
        # HubSpot fields leadsync writes but does not read back (overwrite only): a snapshot's value of
        # one (an older snapshot, or the drift check's) is not taken as current, except the drift check's
        self.unread_hubspot = ({fm.field for fm in ctx.mapping.fields_for("hubspot")}
                               - set(self.hubspot_properties()))
        self.verified_hs: set[str] = set()  # HubSpot contacts the drift check re-read this run
        # an explanation the mapping writes is compared for everyone: put it in words at once (the
        # engine's lazy path would decide twice)
        self.explained = any(fm.from_name == "explanation" for fm in ctx.mapping.field_mappings)
        self.sources = rule_sources(ctx.mapping)  # what a person's facts fingerprint covers
        self.standings: list[Standing] | None = None  # where this chunk's people stand (stage history)

    # ------------------------------------------------------------------ outline
    def execute(self, started: float) -> RunResult:
        ctx, o = self.ctx, self.o
        if not o.dry_run:
            self.run_id = ctx.store.start_run(mapping_version=ctx.mapping.version, kind=o.kind)
            self.writer = Writer(ctx.store, {"salesforce": ctx.salesforce, "hubspot": ctx.hubspot},
                                 ctx.salesforce, self.run_id, ctx.mapping.version, stop=o.stop,
                                 check_lock=self.lock.check, preflight=self.preflight, sizes=self.sizes,
                                 forget_snapshots=frozenset({streams.SF_CONTACTS.system}))
        status, code, error = "ok", EXIT_OK, None
        ctx.counter.counts.clear()  # this run's calls only
        try:
            ctx.salesforce.connect()
            ctx.hubspot.connect()  # one cheap call: a refused token stops the run before any read
            binding.check(ctx.store, ctx.salesforce, ctx.hubspot, rebind=o.rebind and not o.dry_run)
            self.pull_keeping()
            self.recompute()
            if self.writer is not None:
                self.writer.flush(final=True)
            if self.pull_error is not None:  # the run did not finish: failed, exit 1, no watermark moves
                raise self.pull_error
        except BudgetExhausted as exc:
            status, code, error = "budget_stopped", EXIT_RECORD_FAILURES, str(exc)
        except (StopRequested, LockLost) as exc:
            status, code, error = "interrupted", EXIT_RECORD_FAILURES, str(exc)
        except (AuthenticationError, ConfigurationError) as exc:
            status, code, error = "failed", EXIT_BAD_CONFIG, str(exc)
        except ConnectorError as exc:  # a TLS trust failure is configuration (ca_bundle), so exit 2
            tls = getattr(exc, "code", None) == "TLS"
            status, code, error = "failed", EXIT_BAD_CONFIG if tls else EXIT_RECORD_FAILURES, str(exc)
        except StateStoreError as exc:  # the store itself: record it if it still can, else the next run will
            with contextlib.suppress(StateStoreError):
                self._finish("failed", str(exc))
            raise
        except KeyboardInterrupt:  # a second Ctrl-C: stop at once (the write intents make it safe)
            self._finish("interrupted", "stopped at once by a second interrupt; the next run reconciles "
                         "the writes in flight")
            raise
        except BaseException as exc:
            self._finish("failed", f"{type(exc).__name__}: {exc}")
            raise
        if status == "ok":
            if self.writer is not None and self.writer.failures:
                status, code = "partial", EXIT_RECORD_FAILURES
            if not o.dry_run:
                if self.run_id is not None:  # this run planned and wrote past any earlier intents
                    ctx.store.clear_pending_before(self.run_id)
                for stream, mark in self.marks.items():
                    current = ctx.store.get_watermark(stream)
                    if current is None or mark > current:  # only forward (a backfill reads the past)
                        ctx.store.set_watermark(stream, mark)
        if o.dry_run and status == "ok":
            status = "dry_run"
        self._finish(status, error)
        return RunResult(self.run_id, status, code, self._counts(), ctx.counter.by_system(),
                         self.summary.to_dict(self.sizes), error, time.monotonic() - started)

    def preflight(self, system: str) -> None:
        """Before the first write to a system, and for Salesforce also before the first read that
        names the mapped fields: every mapped field/property exists, is writable and takes every value
        leadsync may write (one describe / properties read per run; each problem names the mapping
        file, line and key of the field). A mismatch stops the run
        as a configuration error naming the field and value; `leadsync setup` fixes HubSpot's side."""
        if system in self.checked:  # also checked before the first read that names mapped fields
            return
        mapping = self.ctx.mapping
        if system == "salesforce":
            problems = self.ctx.salesforce.check_fields(field_expectations(mapping, "salesforce"))
        else:
            problems = self.ctx.hubspot.ensure_properties(field_specs(mapping, "hubspot", "contacts"),
                                                          create_missing=False)
        if problems:
            hint = " (run `leadsync setup`)" if system == "hubspot" else ""
            raise ConfigurationError(f"{system} is not ready for the mapping{hint}: "
                                     + "; ".join(located(mapping, system, problems)))
        self.checked.add(system)

    def _counts(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(sorted(self.counts.items()))
        if self.writer is not None:
            out.update(sorted(self.writer.counts.items()))
        return out

    def _finish(self, status: str, error: str | None) -> None:
        if self.run_id is not None:
            self.ctx.store.finish_run(self.run_id, status=status, counts=self._counts(),
                                      api_calls=self.ctx.counter.by_system(), error=error)

    def _tick(self, phase: str, n: int) -> None:
        """After each chunk read or planned: a stop request ends the run here (nothing half-done)."""
        if self.o.stop is not None and self.o.stop.is_set():
            raise StopRequested(f"stop requested ({phase}); the next run carries on from here")
        if self.o.progress is not None:
            self.o.progress(phase, n)

    def _mark(self, stream: str, when: datetime | None) -> None:
        if when is not None and (stream not in self.marks or when > self.marks[stream]):
            self.marks[stream] = when

    # ------------------------------------------------------------------ pull
    def pull_keeping(self) -> None:
        """`pull`; when a read fails for good (its retries spent on transient errors; anything else,
        such as refused credentials, a 400, TLS or the budget, stops the run as before), what was read
        before is kept (stored as it came) and the run goes on to plan and write the records that
        failed in earlier runs only: they were planned from a complete read before, so retrying them
        does not act on half a read. The run still ends `failed` (exit 1) and moves no watermark."""
        try:
            self.pull()
        except RetriableAPIError as exc:  # transient trouble that outlasted the retries
            log.warning("the pull did not finish (%s): keeping what was read, retrying earlier failures",
                        exc)
            self.pull_error = PullIncomplete(f"the pull did not finish: {exc}; what was read is kept, "
                                             "records that failed before were retried, and the next run "
                                             "reads again from the same watermarks")
            self.counts["pull_incomplete"] = 1

    def pull(self) -> None:
        """Every stream of `sync.run.streams` in order (deals first: a deal won or re-opened after a
        loss takes its people out of recycling, so it must be known before the first assignment is
        written), then the HubSpot contacts of deal people not seen yet, by email."""
        ctx, o, store = self.ctx, self.o, self.ctx.store
        backfill = o.kind == "backfill"
        props = self.hubspot_properties()
        sources = streams.Sources(ctx.salesforce, ctx.hubspot, props, self.salesforce_fields(),
                                  self.watched_salesforce_fields(), o.until)
        marks = {s.name: store.get_watermark(s.name) for s in streams.STREAMS}
        pulled_from = datetime.now(UTC)  # deals stored from now on were read by this run
        for stream in streams.STREAMS:
            if not streams.due(stream, marks, backfill=backfill):
                continue
            since = streams.start(stream, watermark=marks[stream.name], backfill=backfill, since=o.since,
                                  lookback=streams.lookback(stream, sources))
            if stream.system == "salesforce" and sources.watch:
                self.preflight("salesforce")  # this read names the mapped Contact fields
            records = stream.read(sources, since)
            if records is None:
                continue
            if stream.snapshot == "deals":
                self._store_deals(records, stream.name)
            elif stream.snapshot == "tasks":
                self._store_task_states(records, stream.name)
            elif stream.system == "hubspot":
                self._store_contacts(records, stream.name)
            else:
                self._store_managed(records, stream.name)

        # people on the deals read now that no HubSpot contact is known for (found in the database; a
        # part of LOOKUP_CHUNK emails at a time, a multiple of the connector's 100 per call)
        for missing in chunks(store.deal_emails_without_contact(pulled_from), LOOKUP_CHUNK):
            found = self._store_contacts(ctx.hubspot.read_by_email(missing, props), None)
            self.counts["hubspot_looked_up_by_email"] += found
        self.pick_verified(sorted(set(props) | self.unread_hubspot))

    def pick_verified(self, props: Sequence[str]) -> None:
        """The drift check (`sync.run.verify`): re-read a sample of the HubSpot contacts leadsync wrote
        now (stored as snapshots, which the planner takes as current values) and choose the Salesforce
        contacts whose current values `desire` reads."""
        ctx, size, turn = self.ctx, self.ctx.settings.sync.verify_sample, self.run_id or 0
        hs_ids = verify.pick(ctx.store, "hubspot", size, turn, everything=self.o.verify)
        if hs_ids:
            refs = list(ctx.hubspot.read_by_email(verify.emails_of(ctx.store, "hubspot", hs_ids), props))
            self.verified_hs.update(r.contact_id for r in refs)
            for batch in chunks(refs, self.snapshot_chunk):
                ctx.store.upsert_contacts("hubspot", batch)
            values = {r.contact_id: dict(r.properties) for r in refs}
            self.counts["verify.hubspot.read"] += len(refs)
            self.counts["verify.hubspot.drifted"] += len(verify.drifted(ctx.store, ctx.mapping, "hubspot",
                                                                        values))
        self.verify_sf = set(verify.pick(ctx.store, "salesforce", size, turn, everything=self.o.verify))
        if self.verify_sf:  # the drift sample's current values, read once (not once per chunk)
            self.preflight("salesforce")
            self.verify_now = ctx.salesforce.read_current(sorted(self.verify_sf), self.salesforce_fields())

    def _store_deals(self, deals: Iterable[LostDeal], stream: str) -> None:
        """Store the deals (all states, also on a first run)."""
        for batch in streams.batches_keeping_partial(deals, self.snapshot_chunk):
            self.ctx.store.upsert_deals(batch)
            self.counts["deals_read"] += len(batch)
            for d in batch:
                self._mark(stream, d.modified_at)
            self._tick("salesforce deals", self.counts["deals_read"])

    def _store_task_states(self, states: Iterable[TaskState], stream: str) -> None:
        """The call tasks' status as Salesforce holds it now (completed by hand, deleted), stored on the
        recorded tasks, one transaction per batch. Dry runs read and store it too (a fact of the org,
        like the snapshots); only a finished real run moves the stream's watermark."""
        for batch in streams.batches_keeping_partial(states, self.snapshot_chunk):
            self.ctx.store.record_task_states(streams.TASKS.system, batch)
            self.counts["call_tasks_read"] += len(batch)
            for st in batch:
                self._mark(stream, st.modified_at)
            self._tick("salesforce call tasks", self.counts["call_tasks_read"])

    def _store_managed(self, managed: Iterable[ContactRef], stream: str) -> None:
        """Salesforce contacts leadsync has written to that changed since the last run, with the
        mapped fields: what they hold now, so a value edited by hand is seen (keep_manual)."""
        n = 0
        for batch in streams.batches_keeping_partial(managed, self.snapshot_chunk):
            self.ctx.store.upsert_contacts("salesforce", batch)
            for ref in batch:
                self._mark(stream, ref.modified_at)
            n += len(batch)
        self.counts["salesforce_managed_contacts_read"] = n

    def watched_salesforce_fields(self) -> list[str]:
        """The Salesforce contact fields a human may edit (policy other than overwrite); none: every
        field is leadsync's own, what a human wrote there does not matter."""
        return sorted({fm.field for fm in self.ctx.mapping.fields_for("salesforce", "Contact")
                       if fm.policy != "overwrite"})

    def salesforce_fields(self) -> list[str]:
        return sorted({fm.field for fm in self.ctx.mapping.fields_for("salesforce", "Contact")})

    def _store_contacts(self, contacts: Iterable[ContactRef], stream: str | None) -> int:
        n = 0
        for batch in streams.batches_keeping_partial(contacts, self.snapshot_chunk):
            self.ctx.store.upsert_contacts("hubspot", batch)
            n += len(batch)
            if stream is not None:
                for c in batch:
                    self._mark(stream, c.modified_at)
            self._tick("hubspot contacts", n)
        self.counts["hubspot_contacts_read"] += n
        return n

    def hubspot_properties(self) -> list[str]:
        """What to read from HubSpot: what the rules need, the fields leadsync writes whose policy
        compares the value there now (keep_manual, if_blank) and the contact's own opt-out flag (the
        connector adds what it always needs, such as the email). A field leadsync only overwrites (the
        explanation, the rank) is not read back: its last confirmed write says what it holds, and the
        drift check reads it for a sample. Also the lifecycle-stage dates of the stages the mapping
        names (`leadsync backfill` reads them from the snapshots; extra properties cost no call)."""
        mapping = self.ctx.mapping
        compared = {fm.field for fm in mapping.fields_for("hubspot") if fm.policy != "overwrite"}
        return sorted(set(mapping.hubspot_properties()) | compared | {mapping.hubspot_optout_property}
                      | set(lifecycle_dates(mapping)))

    # ------------------------------------------------------------------ recompute, plan, write
    def quarantine(self) -> None:
        """The records with no usable email: stored as failures (stage identity), counted."""
        store, n, optout = self.ctx.store, 0, self.ctx.mapping.hubspot_optout_property
        for batch in chunks(people.quarantined(store, optout_property=optout), self.snapshot_chunk):
            n += len(batch)
            if self.run_id is not None:
                store.add_failures(self.run_id, [q.as_failure() for q in batch])
        self.counts["quarantined"] = n

    def recompute(self) -> None:
        """Everyone, a range of people at a time (`sync.run.people`): assign, plan, hand to the writer."""
        mapping = self.ctx.mapping
        # the MA platform's lists as they are now: memberships recorded for a list that is gone are
        # forgotten (sync.state.list_ids) before the plan, so this run adds those people again. A check
        # that meets only transient errors is skipped: the kept ids stay, a 404 on a write still tells.
        try:
            self.ctx.hubspot.confirm_lists(sorted(set(mapping.list_names("hubspot").values())))
        except RetriableAPIError as exc:
            log.warning("could not check the lists' ids (%s); using the ids kept from earlier runs", exc)
        self.quarantine()
        lists = email_lists(mapping)
        retry_only = self.failed_records() if self.pull_error is not None else None
        rules = rules_digest(mapping)
        done = 0
        self.counts["people"] = self.counts["duplicates"] = 0
        for part in people.iter_people(self.ctx.store, optout_property=mapping.hubspot_optout_property,
                                       size=self.ctx.settings.sync.people_per_chunk):
            self.counts["people"] += len(part.people)
            self.counts["duplicates"] += len(part.duplicates)
            for dup in part.duplicates:
                log.info("duplicate: %s", dup.message())
            chunk = list(part.people.values())
            if retry_only is not None:
                chunk = [p for p in chunk if self.has_failed(p, retry_only)]
            # the stage history: only a run that writes and decides from a complete read records it
            self.standings = [] if self.writer is not None and retry_only is None else None
            desired, state = self.desire(chunk)
            if self.standings:
                self.counts["stage_moves"] += self.ctx.store.record_standing(
                    self.standings, run_id=self.run_id, at=self.now, mapping_version=mapping.version,
                    rules_digest=rules)
            wp = plan(desired, state, email_lists=lists)
            if (not self.prepared_lists and self.writer is not None
                    and any(c.op == "add" for c in wp.list_changes.get("salesforce", ()))):
                self.prepared_lists = True
                self.ctx.salesforce.prepare_lists(sorted(set(mapping.list_names("salesforce").values())))
            self.summary.add(wp)
            if self.writer is not None:
                self.writer.add(wp)
            done += len(part.people)
            self._tick("people", done)
        log.info("identity: %d people, %d quarantined, %d duplicate groups", self.counts["people"],
                 self.counts["quarantined"], self.counts["duplicates"])

    def failed_records(self) -> dict[str, set[str]]:
        """System -> ids of the records with an open write failure (a list change's key is
        `record@list`, a call task's `deal:lost date:person hash`, filed under its deal id)."""
        out: dict[str, set[str]] = {}
        for f in self.ctx.store.list_failures(include_resolved=False):
            if f.stage == "write":
                out.setdefault(f.system, set()).add(f.record_key.split("@", 1)[0].split(":", 1)[0])
        return out

    @staticmethod
    def has_failed(person: Person, failed: dict[str, set[str]]) -> bool:
        """Whether one of the person's records or deals (call tasks) has an open write failure."""
        if any(rid in failed.get(system, ()) for system, ids in records_of(person).items() for rid in ids):
            return True
        return any(d.opportunity_id in failed.get("salesforce", ()) for d in person.deals)

    def desire(self, chunk: Sequence[Person]) -> tuple[list[PersonDesired], PlanState]:
        """What leadsync wants for these people, with the current Salesforce values read where a
        keep_manual/if_blank field would change or an interrupted run left a write pending; and what
        the state store knows of them (last writes, memberships, tasks, intents)."""
        mapping, now = self.ctx.mapping, self.now
        pairs = []
        for p in chunk:
            facts = to_person_facts(p, self.sources)
            a = assign(facts, mapping, now, explained=self.explained)
            if self.standings is not None:
                self.standings.append(standing(
                    facts, a, mapping, self.sources, p.deals,
                    records=(len(p.salesforce_contact_ids), len(p.hubspot_contact_ids))))
            self.counts[f"group.{a.recycle_group or 'none'}"] += 1
            self.counts[f"rank.{a.rank}"] += 1
            self.counts[f"stage.{a.stage}"] += 1
            if a.review:
                self.counts["needs_review"] += 1
            pairs.append((p, a))
        current: dict[str, dict[str, dict[str, object]]] = {"salesforce": {}, "hubspot": {}}
        for p, _ in pairs:
            if len(p.hubspot_contact_ids) == 1:  # merged view == the record's own values
                hs_id = p.hubspot_contact_ids[0]
                current["hubspot"][hs_id] = (dict(p.hubspot_properties) if hs_id in self.verified_hs else
                                             {k: v for k, v in p.hubspot_properties.items()
                                              if k not in self.unread_hubspot})
        sf_known = [cid for p, _ in pairs for cid in p.salesforce_contact_ids]
        for ref in self.ctx.store.iter_contacts("salesforce", ids=sf_known):
            current["salesforce"][ref.contact_id] = dict(ref.properties)
        check = sorted(self.verify_sf.intersection(sf_known))
        if check:  # the drift check: what the sampled contacts hold now
            self.preflight("salesforce")
            now_values = {cid: self.verify_now[cid] for cid in check if cid in self.verify_now}
            current["salesforce"].update(now_values)
            self.counts["verify.salesforce.read"] += len(now_values)
            self.counts["verify.salesforce.drifted"] += len(verify.drifted(
                self.ctx.store, mapping, "salesforce", now_values))
        desired = [desired_for(p, a, mapping, current) for p, a in pairs]
        records: dict[str, set[str]] = {"salesforce": set(), "hubspot": set()}
        for d in desired:
            for system, rid in d.touched():
                records.setdefault(system, set()).add(rid)
        state = self.ctx.store.plan_state((t.key for d in desired for t in d.fields), records,
                                          (TaskCycle(tt.task.cycle_key, tt.former_key, tt.lost_on)
                                           for d in desired for tt in d.tasks))
        sf_ids: set[str] = set()
        for d in desired:
            sf_ids |= needs_current(d, state.last_written, "salesforce", state.pending)
        if not sf_ids:
            return desired, state
        # only the fields a human may edit are compared (needs_current): read those, and only those
        # come with the deal read (small enough to keep for the run)
        fields = self.watched_salesforce_fields()
        self.preflight("salesforce")  # the read names mapped Contact fields
        for cid, values in self.ctx.salesforce.read_current(sorted(sf_ids), fields).items():
            current["salesforce"][cid] = {**current["salesforce"].get(cid, {}), **values}
        self.counts["salesforce_contacts_checked"] += len(sf_ids)
        return [self._with_current(d, current) if any(t.record_id in sf_ids for t in d.fields) else d
                for d in desired], state

    @staticmethod
    def _with_current(d: PersonDesired, current: Current) -> PersonDesired:
        fields = []
        for t in d.fields:
            rec = current.get(t.system, {}).get(t.record_id)
            fields.append(replace(t, current=rec[t.field]) if rec is not None and t.field in rec else t)
        return replace(d, fields=tuple(fields))
