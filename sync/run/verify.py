"""The drift check: are the values leadsync believes in sync still there?

leadsync writes only what differs from its last confirmed write, so a value changed behind its back
without the record looking changed to an incremental read (a portal or org restored from backup, a
bulk fix that keeps timestamps, a record it never reads back) would never be written again. Each run
therefore re-reads the current values of a sample of the records it has written (`sync.verify_sample`
per system, a window that moves on each run so that consecutive runs cover them all) and plans them
with those values known: the planner then writes any overwrite field that differs, and a
keep_manual/if_blank field follows its policy (a changed value is a hand edit and is left). Records a
run reads anyway (changed HubSpot contacts, watched Salesforce contacts) are planned with their read
values already. `leadsync sync --verify` re-reads every written record.

Covered: field values. Not covered: list memberships and call tasks removed by hand (re-reading them
needs one call per list or a query per campaign; see the decisions file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from connectors.base import Scalar
from mappings import Mapping as MappingFile
from sync.run.plan import canonical
from sync.state.store import StateStore

DEFAULT_SAMPLE = 200  # records per system per run (see sync.settings.SyncSettings.verify_sample)


def pick(store: StateStore, system: str, size: int, turn: int, *, everything: bool = False) -> list[str]:
    """The records of `system` to re-read this run: all of them with `everything`, else a window of
    `size` records of the sorted written records starting at `turn * size` (wrapping), so runs
    1, 2, 3... cover every record within ceil(n / size) runs (only the window is read from the store)."""
    n = store.count_written_records(system)
    if everything or size >= n:
        return store.written_record_ids(system)
    if size <= 0:
        return []
    window = store.written_record_ids(system, offset=(turn * size) % n, limit=size)
    if len(window) < size:  # wrap around
        window += store.written_record_ids(system, limit=size - len(window))
    return window


def drifted(store: StateStore, mapping: MappingFile, system: str,
            values: Mapping[str, Mapping[str, object]]) -> set[str]:
    """Records whose current `values` (record id -> field -> value) differ from what leadsync last
    wrote to a mapped field of theirs."""
    objects = {fm.field: fm.object for fm in mapping.fields_for(system)}
    keys = [(system, objects[f], rid, f) for rid, fields in values.items() for f in fields if f in objects]
    last = store.last_written_map(keys)
    return {key[2] for key, wrote in last.items()
            if canonical(_scalar(values[key[2]].get(key[3]))) != canonical(wrote)}


def _scalar(value: object) -> Scalar:
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def emails_of(store: StateStore, system: str, ids: Iterable[str]) -> list[str]:
    """The emails the contact snapshots hold for these records (to re-read them by email)."""
    return sorted({c.email for c in store.iter_contacts(system, ids=sorted(set(ids))) if c.email})
