"""The impact preview of a mapping change: what a draft mapping would do to everyone in the state store
compared with the current one, from the stored snapshots only (no API call, nothing written).

    preview(store, current, draft, now=..., progress=..., sample=20, sizes=...) -> Impact

Everyone is resolved the way a run resolves them (`sync.run.people.iter_people`, a range of person keys
at a time) and decided with the run's own engine (`mappings.engine.assign`) under both mappings at the
same `now`. Counted: stage, rank and recycle-group changes (from → to), list adds and removes per
nurture list, the call tasks the draft would create (a recycle cycle the current mapping does not give
a task to and that has no recorded task), and the writes per system with an API-call estimate (records
to update, list members and tasks, divided by the connectors' batch sizes, the same estimate as a dry
run: `sync.run.plan_model`). No write plan is built: the counts are enough.

The write count is an upper bound: a `keep_manual` or `if_blank` field the next run would leave alone
is counted. A field carrying the explanation or the mapping version is counted on every record when the
draft differs at all from the current mapping, whatever its own `version`: saving a change bumps the
version, which both name.

Only the sampled people (the first `sample` people who change, in key order) are put in words: their
before → after and the engine's words for the rules behind what changed (`sync.run.standing.why`, the
stage history's words).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from collections.abc import Mapping as MappingABC
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from connectors.base import BatchSizes
from mappings import Mapping
from mappings.digest import rule_sources, rules_digest
from mappings.engine import assign_many
from mappings.facts import Assignment
from mappings.render import field_value
from sync.run import people as run_people
from sync.run.desired import task_contact
from sync.run.identity import Person, to_person_facts
from sync.run.plan_model import _estimate, _Shape
from sync.run.standing import why
from sync.state import schema as s
from sync.state.records import TaskCycle
from sync.state.store import StateStore

Progress = Callable[[str, int, int | None], None]  # (phase, done, total)
VERSIONED = frozenset({"explanation", "mapping_version"})  # field values that name the mapping version
TASK_SYSTEM = "salesforce"  # the system call tasks go to (sync.run.desired makes them there)


@dataclass(frozen=True)
class Standing:
    """Where a person stands under one mapping."""

    stage: str
    score: int
    rank: str
    group: str | None
    nurture_list: str | None
    task: str | None  # the call task's cycle key

    @classmethod
    def of(cls, a: Assignment) -> Standing:
        return cls(a.stage, a.score, a.rank, a.recycle_group, a.nurture_list,
                   a.task.cycle_key if a.task is not None else None)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "score": self.score, "rank": self.rank, "group": self.group,
                "nurture_list": self.nurture_list, "task": self.task}


@dataclass(frozen=True)
class Moved:
    """One sampled person who changes: before → after and the rules that moved them."""

    key: str
    name: str | None  # their name in the systems (CRM text: escape it)
    before: Standing
    after: Standing
    # (what changed: stage/rank/group/list/score/task, the current mapping's words, the draft's words)
    rules: tuple[tuple[str, str, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "before": self.before.to_dict(),
                "after": self.after.to_dict(),
                "rules": [{"changed": c, "was": w, "why": n} for c, w, n in self.rules]}


@dataclass
class Impact:
    people: int = 0
    changed: int = 0  # people with any change (stage, score, rank, group, list or task)
    stage: Counter[tuple[str, str]] = field(default_factory=Counter)
    rank: Counter[tuple[str, str]] = field(default_factory=Counter)
    group: Counter[tuple[str, str]] = field(default_factory=Counter)  # "none" for no group
    score: int = 0  # people whose score changes
    list_adds: Counter[str] = field(default_factory=Counter)  # list key -> people added
    list_removes: Counter[str] = field(default_factory=Counter)
    call_tasks: int = 0
    writes: dict[str, Counter[str]] = field(default_factory=dict)  # system -> records/list_adds/...
    api_calls: dict[str, int] = field(default_factory=dict)
    sample: list[Moved] = field(default_factory=list)
    _shape: _Shape = field(default_factory=_Shape, repr=False)

    def merge(self, other: Impact, sample: int) -> None:
        self.people += other.people
        self.changed += other.changed
        self.score += other.score
        self.call_tasks += other.call_tasks
        for mine, theirs in ((self.stage, other.stage), (self.rank, other.rank), (self.group, other.group),
                             (self.list_adds, other.list_adds), (self.list_removes, other.list_removes)):
            mine.update(theirs)
        for system, c in other.writes.items():
            self.writes.setdefault(system, Counter()).update(c)
        self._shape.add(other._shape)
        self.sample.extend(other.sample[:max(0, sample - len(self.sample))])

    def to_dict(self) -> dict[str, Any]:
        def pairs(c: Counter[tuple[str, str]]) -> list[dict[str, Any]]:
            return [{"from": a, "to": b, "people": n} for (a, b), n in sorted(c.items())]

        lists = sorted(set(self.list_adds) | set(self.list_removes))
        return {
            "people": self.people, "changed": self.changed, "score_changes": self.score,
            "stage": pairs(self.stage), "rank": pairs(self.rank), "group": pairs(self.group),
            "lists": [{"list": k, "adds": self.list_adds[k], "removes": self.list_removes[k]} for k in lists],
            "call_tasks": self.call_tasks,
            "writes": {s: dict(sorted(c.items())) for s, c in sorted(self.writes.items())},
            "estimated_api_calls": dict(self.api_calls),
            "sample": [m.to_dict() for m in self.sample],
        }


def same_mapping(a: Mapping, b: Mapping) -> bool:
    """Whether two mappings decide and write exactly alike (then saving changes nothing)."""
    return (a.version == b.version and rules_digest(a) == rules_digest(b)
            and dict(a.nurture_lists) == dict(b.nurture_lists)
            and dict(a.nurture_groups) == dict(b.nurture_groups)
            and a.field_mappings == b.field_mappings and a.recycle.call_task == b.recycle.call_task
            and a.optout_sources == b.optout_sources)


def preview(store: StateStore, current: Mapping, draft: Mapping, *, now: datetime,
            progress: Progress | None = None, sample: int = 20,
            sizes: MappingABC[str, BatchSizes] | None = None,
            size: int = run_people.PEOPLE_RANGE, workers: int | None = None) -> Impact:
    """The impact of replacing `current` by `draft` over everyone in `store` (see the module
    docstring). `sizes`: records per write call per system (the connectors' `write_sizes`; a system
    missing counts one call per record). `progress(phase, done, total)` is called per range.
    `workers`: processes deciding ranges side by side (default: one per CPU, up to `MAX_WORKERS`, for a
    store of at least `PARALLEL_FROM` people on a file or a server; 1 = in this process). The result is
    the same whatever the number of workers (ranges are merged in key order)."""
    total = count_people(store)
    if progress is not None:
        progress("people", 0, total)
    # read as the ranges are decided (in a pool, by its feeder thread while the workers start)
    ranges = store.person_key_ranges(size)
    if workers is None:
        workers = min(MAX_WORKERS, os.cpu_count() or 1) if total >= PARALLEL_FROM else 1
    if not _shareable(store):
        workers = 1
    out = Impact()
    job = _Work(current, draft, now, sample)
    for part in _parts(store, job, ranges, min(workers, max(1, -(-total // size)))):
        out.merge(part, sample)
        if progress is not None:
            progress("people", out.people, max(total, out.people))
    out.api_calls = _estimate(out._shape, sizes or {})
    if progress is not None:
        progress("done", out.people, out.people)
    return out


MAX_WORKERS = 2
PARALLEL_FROM = 20_000  # fewer people: starting processes costs more than it saves
_SHARED: tuple[StateStore, _Work] | None = None  # what a forked worker inherits (mappings do not pickle)


def _shareable(store: StateStore) -> bool:
    """Whether other processes can open the same database (not an in-memory SQLite one), and can be
    forked to (a pool of workers inherits the mappings: they do not pickle)."""
    url = store.engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")
    return not in_memory and "fork" in multiprocessing.get_all_start_methods()


def _parts(store: StateStore, job: _Work, ranges: Iterator[tuple[str, str]],
           workers: int) -> Iterator[Impact]:
    """Each range's impact, in key order: here, or in a pool of forked workers."""
    if workers <= 1:
        for lo, hi in ranges:
            with _gc_paused():
                part = job.range(store, _people(store, job, lo, hi))
            yield part
        return
    global _SHARED
    _SHARED = (store, job)
    try:
        with multiprocessing.get_context("fork").Pool(workers, initializer=_forked) as pool:
            yield from pool.imap(_range_in_worker, ranges)
            pool.close()  # every range done: the workers end on their own (terminate only on an error)
            pool.join()
    finally:
        _SHARED = None


def _people(store: StateStore, job: _Work, lo: str, hi: str) -> list[Person]:
    return list(run_people.people_in_range(store, lo, hi,
                                           optout_property=job.draft.hubspot_optout_property).people.values())


def _forked() -> None:
    """In a new worker: the default SIGTERM and no SIGINT (a forked worker inherits the parent's Python
    handlers: with the run's or uvicorn's SIGTERM handler it would outlive the pool's terminate() and
    the parent would wait for it for ever; Ctrl-C is the parent's to handle), and its own database
    connections (never the parent's)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    assert _SHARED is not None
    _SHARED[0].engine.dispose(close=False)


def _range_in_worker(bounds: tuple[str, str]) -> Impact:
    assert _SHARED is not None
    store, job = _SHARED
    with _gc_paused():
        return job.range(store, _people(store, job, *bounds))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a range is resolved and decided. A range makes some 100,000
    short-lived objects (records, people, facts, assignments), freed by reference counting when the
    range is done; the collector would meanwhile walk them, and every long-lived object of the process,
    again and again: about a third of the preview's CPU. Collection resumes after the range (if it was
    on: a preview in another thread may have paused it too; whoever paused it from on turns it back)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def count_people(store: StateStore) -> int:
    """About how many people `iter_people` goes through (for the progress: every person key a live
    HubSpot contact or a deal's contact has; a few may resolve to nobody)."""
    c, dc = s.contacts.c, s.deal_contacts.c
    keys = sa.union(
        sa.select(c.person_key).where(c.archived == sa.false(), c.merged_into.is_(None),
                                      c.person_key.is_not(None)),
        sa.select(dc.person_key).where(dc.person_key.is_not(None))).subquery()
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(keys)).scalar_one())


class _Work:
    """Deciding and counting a range of people (the same for every range)."""

    def __init__(self, current: Mapping, draft: Mapping, now: datetime, sample: int) -> None:
        self.current, self.draft, self.now, self.sample = current, draft, now, sample
        self.sources = rule_sources(current) | rule_sources(draft)  # what either mapping's rules read
        rewritten = not same_mapping(current, draft)
        # list keys both mappings have, named otherwise in a system by the draft
        self.renamed = {system: {k for k in draft.nurture_lists if k in current.nurture_lists
                                 and current.list_name(k, system) != draft.list_name(k, system)}
                        for system in ("salesforce", "hubspot")}
        self.fields: dict[str, list[tuple[str, str, bool, str | None]]] = {}
        for system in ("salesforce", "hubspot"):
            old = {(fm.object, fm.field): fm.from_name for fm in current.fields_for(system)}
            # (object, from name, written to everyone, the current mapping's from name for this field)
            self.fields[system] = [
                (fm.object, fm.from_name, rewritten and fm.from_name in VERSIONED,
                 old.get((fm.object, fm.field)))
                for fm in draft.fields_for(system)]
        # the objects written whatever the person's standing, and those with a field naming their list
        self.always = {system: {obj for obj, name, everyone, old in fields if everyone or old != name}
                       for system, fields in self.fields.items()}
        self.list_objects = {system: {obj for obj, name, _e, _o in fields if name == "nurture_list"}
                             for system, fields in self.fields.items()}

    def range(self, store: StateStore, chunk: list[Person]) -> Impact:
        out = Impact(people=len(chunk))
        current, draft, now = self.current, self.draft, self.now
        tasks: list[tuple[TaskCycle, Person, Assignment, Assignment]] = []
        changed: list[tuple[Person, Assignment, Assignment]] = []
        records = {"salesforce": 0, "hubspot": 0}
        facts = [to_person_facts(p, self.sources) for p in chunk]
        for p, a, b in zip(chunk, assign_many(facts, current, now), assign_many(facts, draft, now),
                           strict=True):
            records["salesforce"], records["hubspot"] = (len(p.salesforce_contact_ids),
                                                         len(p.hubspot_contact_ids))
            moved = False
            if a.stage != b.stage:
                out.stage[(a.stage, b.stage)] += 1
                moved = True
            if a.rank != b.rank:
                out.rank[(a.rank, b.rank)] += 1
                moved = True
            if a.recycle_group != b.recycle_group:
                out.group[(a.recycle_group or "none", b.recycle_group or "none")] += 1
                moved = True
            if a.score != b.score:
                out.score += 1
                moved = True
            if a.nurture_list != b.nurture_list:
                moved = True
                for system, n in records.items():
                    if not n:
                        continue
                    if a.nurture_list is not None:
                        out._shape.members[(system, current.list_name(a.nurture_list, system), "remove")] += n
                    if b.nurture_list is not None:
                        out._shape.members[(system, draft.list_name(b.nurture_list, system), "add")] += n
                if a.nurture_list is not None:
                    out.list_removes[a.nurture_list] += 1
                if b.nurture_list is not None:
                    out.list_adds[b.nurture_list] += 1
            elif b.nurture_list is not None:
                for system, n in records.items():  # the same list, renamed in a system: a move there
                    if n and b.nurture_list in self.renamed[system]:
                        out._shape.members[(system, current.list_name(b.nurture_list, system), "remove")] += n
                        out._shape.members[(system, draft.list_name(b.nurture_list, system), "add")] += n
            bt = b.task
            if (bt is not None and (a.task is None or a.task.cycle_key != bt.cycle_key)
                    and task_contact(p, bt.deal_id) is not None):
                    tasks.append((TaskCycle(bt.cycle_key, bt.former_cycle_key, bt.lost_on), p, a, b))
            for system, n in records.items():
                if n:
                    self._field_writes(out, system, n, a, b, moved)
            if moved:
                changed.append((p, a, b))
        if tasks:
            recorded = store.recorded_cycles(t for t, _, _, _ in tasks)
            moved_keys = {p.key for p, _, _ in changed}
            for t, p, a, b in tasks:
                if t.key not in recorded:
                    out.call_tasks += 1
                    out._shape.tasks[TASK_SYSTEM] += 1
                    if p.key not in moved_keys:
                        changed.append((p, a, b))
        out.changed = len(changed)
        changed.sort(key=lambda item: item[0].key)
        out.sample = [_moved(p, a, b) for p, a, b in changed[:self.sample]]
        for system, c in _writes(out._shape).items():
            out.writes[system] = c
        return out

    def _field_writes(self, out: Impact, system: str, n: int, a: Assignment, b: Assignment,
                      moved: bool) -> None:
        """Count the person's `n` records of `system` once per object with a field that changes."""
        if not moved:  # what the loop below finds when nothing about the person changes
            objects = self.always[system]
            if b.nurture_list in self.renamed[system]:
                objects = objects | self.list_objects[system]
            for obj in objects:
                out._shape.fields[(system, obj)] += n
            return
        objects = set()
        for obj, name, everyone, old_name in self.fields[system]:
            if obj in objects:
                continue
            if (everyone or old_name != name
                    or (name == "nurture_list" and b.nurture_list in self.renamed[system])
                    or (moved and field_value(a, name, self.current, system)
                        != field_value(b, name, self.draft, system))):
                objects.add(obj)
        for obj in objects:
            out._shape.fields[(system, obj)] += n


def _writes(shape: _Shape) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for (system, _obj), n in shape.fields.items():
        out.setdefault(system, Counter())["records"] += n
    for (system, _list, op), n in shape.members.items():
        out.setdefault(system, Counter())["list_adds" if op == "add" else "list_removes"] += n
    for system, n in shape.tasks.items():
        out.setdefault(system, Counter())["tasks"] += n
    return out


def _name(p: Person) -> str | None:
    ids = set(p.salesforce_contact_ids)
    for deal in p.deals:
        for c in deal.contacts:
            if c.contact_id in ids and (c.first_name or c.last_name):
                return " ".join(x for x in (c.first_name, c.last_name) if x)
    first, last = p.hubspot_properties.get("firstname"), p.hubspot_properties.get("lastname")
    return " ".join(x for x in (first, last) if x) or None


def _moved(p: Person, a: Assignment, b: Assignment) -> Moved:
    """A sampled person, with the engine's words for what changed under each mapping (the current
    mapping's words say what held them, the draft's what moves them)."""
    was, now = why(a), why(b)
    rules: list[tuple[str, str, str]] = []
    for dim, changed in (("stage", a.stage != b.stage), ("rank", a.rank != b.rank),
                         ("group", a.recycle_group != b.recycle_group)):
        if changed:
            rules.append((dim, was.get(dim, ""), now.get(dim, "")))
    if a.nurture_list != b.nurture_list:
        rules.append(("list", _words(a, "nurture"), _words(b, "nurture")))
    if a.score != b.score and a.rank == b.rank:
        rules.append(("score", _words(a, "score."), _words(b, "score.")))
    if (b.task is not None) and (a.task is None or a.task.cycle_key != b.task.cycle_key):
        rules.append(("task", "", f"call task {b.task.cycle_key}"))
    return Moved(p.key, _name(p), Standing.of(a), Standing.of(b), tuple(rules))


def _words(a: Assignment, rule: str) -> str:
    """The words of the reasons of `rule` (a prefix when it ends with a dot)."""
    return " ".join(r.text for r in a.reasons
                    if (r.rule.startswith(rule) if rule.endswith(".") else r.rule == rule))
