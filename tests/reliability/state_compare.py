"""The final state of both emulators, as far as leadsync writes it, captured for comparison.

`capture(box)` reads, through the emulators' Python handles (no API calls, no faults):

- Salesforce: every Contact's mapped fields (from the mapping: Lead_Stage__c, Lead_Score__c,
  Lead_Rank__c, Recycle_Group__c, Nurture_List__c, Leadsync_Explanation__c); Campaigns by name with
  their member contacts; Tasks by `Leadsync_Cycle_Key__c` with the fields leadsync sets;
- HubSpot: every contact's mapped properties (`leadsync_*`); the members of each list the mapping uses.

Everything is keyed by what is stable between two sandboxes loaded with the same people, seed and
`now` (record ids of the demo book, campaign and list names, cycle keys), never by the ids of records
leadsync created, so an interrupted run's final state can be compared with a clean run's.
Duplicates (a second Campaign of one name, a contact twice in one campaign, two tasks for one cycle)
are collected in `FinalState.duplicates` rather than folded away.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from functools import cache
from typing import Any

from mappings import Mapping
from sandbox.launcher import Sandbox
from sync.inputs import load_mapping_file
from sync.run.plan import canonical
from sync.state.store import StateStore

TASK_KEY = "Leadsync_Cycle_Key__c"
# Task fields leadsync sets (Id, audit fields and timestamps differ between runs by design)
TASK_FIELDS = ("Subject", "Description", "ActivityDate", "Status", "Priority", "WhoId", "WhatId", "OwnerId")

Records = dict[str, dict[str, Any]]


@cache
def default_mapping() -> Mapping:
    """The bundled mapping the reliability tests run with."""
    return load_mapping_file(None)


def salesforce_fields(mapping: Mapping) -> tuple[str, ...]:
    return tuple(fm.field for fm in mapping.fields_for("salesforce", "Contact"))


def hubspot_properties(mapping: Mapping) -> tuple[str, ...]:
    return tuple(fm.field for fm in mapping.fields_for("hubspot"))


def hubspot_list_names(mapping: Mapping) -> tuple[str, ...]:
    return tuple(sorted({mapping.list_name(k, "hubspot") for k in mapping.nurture_lists}))


@dataclass(frozen=True)
class FinalState:
    sf_contacts: Records  # Contact id -> {mapped field: value}
    campaigns: dict[str, frozenset[str]]  # Campaign name -> member Contact ids
    tasks: Records  # cycle key -> {TASK_FIELDS}
    hs_contacts: Records  # contact id -> {mapped property: value}
    hs_lists: dict[str, frozenset[str]]  # list name -> member contact ids
    duplicates: tuple[str, ...]  # what should exist at most once but does not

    def leadsync_writes(self) -> int:
        """How many leadsync values are in the systems (0 before the first run)."""
        fields = sum(1 for rec in (*self.sf_contacts.values(), *self.hs_contacts.values())
                     for v in rec.values() if v not in (None, ""))
        members = sum(len(m) for m in (*self.campaigns.values(), *self.hs_lists.values()))
        return fields + members + len(self.tasks)


def capture(box: Sandbox, mapping: Mapping | None = None) -> FinalState:
    """What leadsync has written to both emulators right now."""
    mapping = mapping or default_mapping()
    sf = box.salesforce.store
    fields = salesforce_fields(mapping)
    sf_contacts = {c["Id"]: {f: c.get(f) for f in fields} for c in sf.all("Contact")}
    duplicates: list[str] = []

    campaign_names: dict[str, str] = {}
    for n, count in Counter(c["Name"] for c in sf.all("Campaign")).items():
        if count > 1:
            duplicates.append(f"salesforce: {count} Campaigns named {n!r}")
    for c in sf.all("Campaign"):
        campaign_names[c["Id"]] = c["Name"]
    members: dict[str, set[str]] = {}
    pairs: Counter[tuple[str, str]] = Counter()
    for m in sf.all("CampaignMember"):
        who = m.get("ContactId") or m.get("LeadId")
        name = campaign_names.get(m["CampaignId"], f"<unknown campaign {m['CampaignId']}>")
        pairs[(name, who)] += 1
        members.setdefault(name, set()).add(who)
    duplicates += [f"salesforce: {who} is {n} times in campaign {name!r}" for (name, who), n in pairs.items()
                   if n > 1]

    tasks: Records = {}
    keys: Counter[str | None] = Counter()
    for t in sf.all("Task"):
        keys[t.get(TASK_KEY)] += 1
        if t.get(TASK_KEY) is not None:
            tasks[t[TASK_KEY]] = {f: t.get(f) for f in TASK_FIELDS}
    duplicates += [f"salesforce: {n} tasks for cycle {key!r}" for key, n in keys.items() if n > 1]

    props = hubspot_properties(mapping)
    hs = box.hubspot.store
    hs_contacts = {c["id"]: {p: c["properties"].get(p) for p in props}
                   for c in hs.contacts(include_archived=True)}
    hs_lists: dict[str, frozenset[str]] = {}
    for name in hubspot_list_names(mapping):
        try:
            hs_lists[name] = frozenset(hs.list_members(name))
        except KeyError:  # not created yet (before `setup`)
            hs_lists[name] = frozenset()
    return FinalState(sf_contacts, {k: frozenset(v) for k, v in members.items()}, tasks, hs_contacts,
                      hs_lists, tuple(sorted(duplicates)))


def differences(expected: FinalState, actual: FinalState, *, limit: int = 25) -> list[str]:
    """Human-readable differences (at most `limit`, then a count of the rest); [] when equal."""
    out: list[str] = list(actual.duplicates)
    out += _records("salesforce Contact", expected.sf_contacts, actual.sf_contacts)
    out += _sets("salesforce campaign", expected.campaigns, actual.campaigns)
    out += _records("salesforce task", expected.tasks, actual.tasks)
    out += _records("hubspot contact", expected.hs_contacts, actual.hs_contacts)
    out += _sets("hubspot list", expected.hs_lists, actual.hs_lists)
    if len(out) > limit:
        return out[:limit] + [f"... and {len(out) - limit} more"]
    return out


def differing_keys(expected: FinalState, actual: FinalState) -> set[tuple[str, str]]:
    """(system, failure record key) of every record whose state differs, in the form the writer keys
    its failures: a record id (fields), `record_id@list name` (memberships), a cycle key (tasks)."""
    keys: set[tuple[str, str]] = set()
    for system, exp, act in (("salesforce", expected.sf_contacts, actual.sf_contacts),
                             ("hubspot", expected.hs_contacts, actual.hs_contacts)):
        keys |= {(system, rid) for rid in exp.keys() | act.keys() if exp.get(rid) != act.get(rid)}
    for system, exp_l, act_l in (("salesforce", expected.campaigns, actual.campaigns),
                                 ("hubspot", expected.hs_lists, actual.hs_lists)):
        for name in exp_l.keys() | act_l.keys():
            a, b = exp_l.get(name, frozenset()), act_l.get(name, frozenset())
            keys |= {(system, f"{rid}@{name}") for rid in a ^ b}
    keys |= {("salesforce", k) for k in expected.tasks.keys() | actual.tasks.keys()
             if expected.tasks.get(k) != actual.tasks.get(k)}
    return keys


def checkpoint_mismatches(store: StateStore, box: Sandbox, mapping: Mapping | None = None) -> list[str]:
    """Where the state store's checkpoints and the systems disagree, both ways: a value, membership
    or task recorded as written that is not in the system, or one leadsync put in a system that the
    store does not know about. [] after a run that stopped cleanly (not after a kill: a write whose
    checkpoint was lost is legitimately in the system only, until the next run adopts it)."""
    mapping = mapping or default_mapping()
    state = capture(box, mapping)
    out: list[str] = []
    current = {"salesforce": state.sf_contacts, "hubspot": state.hs_contacts}
    recorded: dict[tuple[str, str, str], Any] = {}
    for w in store.iter_written():
        recorded[(w.system, w.record_id, w.field)] = w.value
        have = current[w.system].get(w.record_id, {}).get(w.field)
        if canonical(have) != canonical(w.value):
            out.append(f"{w.system} {w.record_id}.{w.field}: recorded {w.value!r}, system has {have!r}")
    for system, records in current.items():
        for rid, values in records.items():
            for f, v in values.items():
                if v not in (None, "") and (system, rid, f) not in recorded:
                    out.append(f"{system} {rid}.{f} = {v!r} is not recorded in the state store")
    lists = {"salesforce": state.campaigns, "hubspot": state.hs_lists}
    for system, by_name in lists.items():
        stored = {(m.list_name, m.record_id) for m in store.get_memberships(system)}
        actual = {(name, rid) for name, ids in by_name.items() for rid in ids}
        out += [f"{system} {r}@{n}: recorded, not in the system" for n, r in sorted(stored - actual)]
        out += [f"{system} {r}@{n}: in the system, not recorded" for n, r in sorted(actual - stored)]
    known = set(store.tasks_for(state.tasks))
    out += [f"salesforce task {k}: in the system, not recorded" for k in sorted(set(state.tasks) - known)]
    return out


def _records(what: str, expected: MappingABC[str, dict[str, Any]],
             actual: MappingABC[str, dict[str, Any]]) -> list[str]:
    out = []
    for key in sorted(expected.keys() | actual.keys()):
        a, b = expected.get(key), actual.get(key)
        if a == b:
            continue
        if a is None or b is None:
            out.append(f"{what} {key}: {'missing' if b is None else 'unexpected'}")
            continue
        changed = {f: (a.get(f), b.get(f)) for f in a.keys() | b.keys() if a.get(f) != b.get(f)}
        out.append(f"{what} {key}: " + ", ".join(f"{f} expected {_short(x)} got {_short(y)}"
                                                 for f, (x, y) in sorted(changed.items())))
    return out


def _short(value: Any, width: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def _sets(what: str, expected: MappingABC[str, frozenset[str]],
          actual: MappingABC[str, frozenset[str]]) -> list[str]:
    out = []
    for name in sorted(expected.keys() | actual.keys()):
        a, b = expected.get(name, frozenset()), actual.get(name, frozenset())
        if a - b:
            out.append(f"{what} {name!r}: missing members {sorted(a - b)[:10]} ({len(a - b)})")
        if b - a:
            out.append(f"{what} {name!r}: unexpected members {sorted(b - a)[:10]} ({len(b - a)})")
    return out


def history_rows(store: StateStore) -> list[tuple[Any, ...]]:
    """The stage history (moves and recycle cycles) without what differs between runs by design (run
    ids, row ids): a killed run followed by a completing one must leave exactly what one uninterrupted
    run leaves (every move once, none half-recorded)."""
    moves = sorted((m.person_key, m.dimension, m.from_value, m.to_value, m.cause, m.at.isoformat(),
                    m.mapping_version, m.deal_id, m.why, m.next_value, str(m.next_at))
                   for m in store.iter_moves())
    cycles = sorted(tuple(sorted((k, str(v)) for k, v in c.items() if k != "run_id"))
                    for c in store.iter_cycles())
    return [*moves, *cycles, *store.flow_rows()]
