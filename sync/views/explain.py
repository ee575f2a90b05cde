"""Explain one synced person from the local state store (no API calls): `leadsync mappings explain EMAIL`.

    explain_person(store, mapping, email, now) -> PersonExplanation | None

What it shows: the person's inputs from both systems (Salesforce contacts and the deals they are on,
with stage at loss, phase, loss reason, lost date, amount and state; HubSpot contacts with the
properties the mapping reads), the assignment at `now` and every rule that fired
(`mappings.render.explain`), what leadsync last wrote to each field of each of their records (time,
mapping version, run) next to what it would write now, the list memberships leadsync manages for
them, and the call tasks recorded for their recycle cycles.

Only this person is resolved, from indexed lookups of their own records (`sync.run.people.find_person`:
the same rules as a run, so a Salesforce contact whose newest deal carries another email is that
email's person); the deals shown are every stored deal with a contact carrying the email.
Emails are shown in full in the output (the user asked for this person), never logged above DEBUG.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from connectors.base import ContactRef, LostDeal, Scalar
from mappings import Mapping
from mappings.digest import rule_sources
from mappings.emails import mask_email, parse_email
from mappings.engine import assign
from mappings.facts import Assignment
from mappings.recycle import cycle_key
from mappings.render import explain, field_value
from sync.run import people
from sync.run.identity import Person, to_person_facts
from sync.run.plan import canonical
from sync.state.records import Membership, RecordedTask
from sync.state.store import StateStore
from sync.views.assignment import assignment_json
from sync.views.loss_labels import phase_label

log = logging.getLogger(__name__)



def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class SalesforceContactInput:
    contact_id: str
    email: str | None
    name: str
    opted_out: bool
    deal_ids: tuple[str, ...]


@dataclass(frozen=True)
class DealInput:
    deal_id: str
    name: str
    state: str
    stage_name: str
    stage_at_loss: str | None
    phase: str | None  # buying-process phase at loss ("unmapped" when the stage is not in [phases])
    loss_reason: str | None
    lost_date: date | None
    amount: float | None
    owner_id: str | None
    account_name: str | None
    contact_ids: tuple[str, ...]  # this person's contacts on the deal
    deleted: bool
    decides_group: bool  # the deal the recycle group was decided on
    lost_date_source: str | None = None  # "history" (entered closed-lost) or "close_date" (fallback)


@dataclass(frozen=True)
class HubSpotInput:
    contact_id: str
    email: str | None
    archived: bool  # archived contacts are not used (identity ignores them)
    modified_at: datetime | None
    properties: dict[str, str | None]  # those the mapping reads, plus the opt-out flag


@dataclass(frozen=True)
class WrittenField:
    """One field leadsync owns on one record: last write (if any) and what it would write now."""

    system: str
    object: str
    record_id: str
    field: str
    policy: str
    wanted: Scalar  # the value of the assignment at `now`
    written: Scalar  # last confirmed write (None: never written, see `written_at`)
    written_at: datetime | None
    mapping_version: int | None
    run_id: int | None

    @property
    def status(self) -> str:
        """One of: in sync; will change (the next run writes `wanted`, policy permitting); never written."""
        if self.written_at is None:
            return "never written"
        return "in sync" if canonical(self.written) == canonical(self.wanted) else "will change"


@dataclass(frozen=True)
class ListState:
    system: str
    list_name: str
    record_id: str
    managed_since: datetime | None  # None: wanted, not (yet) a managed member
    wanted: bool  # the assignment puts this record on this list


@dataclass(frozen=True)
class TaskState:
    cycle_key: str
    deal_id: str
    current: bool  # the cycle of the assignment at `now`
    task: RecordedTask | None


@dataclass(frozen=True)
class PersonExplanation:
    email: str  # the normalized email (the person's key)
    emails: tuple[str, ...]  # every spelling seen
    now: datetime
    opted_out_salesforce: bool
    opted_out_hubspot: bool
    salesforce: tuple[SalesforceContactInput, ...]
    deals: tuple[DealInput, ...]  # most recent loss first (as the engine sees them), then the others
    hubspot: tuple[HubSpotInput, ...]
    assignment: Assignment
    explanation: tuple[str, ...]  # mappings.render.explain
    fields: tuple[WrittenField, ...]
    lists: tuple[ListState, ...]
    tasks: tuple[TaskState, ...]
    mapping: Mapping

    def to_dict(self) -> dict[str, Any]:
        a = assignment_json(self.assignment, self.mapping)
        return {
            "email": self.email,
            "emails": list(self.emails),
            "now": self.now.isoformat(),
            "opted_out": {"salesforce": self.opted_out_salesforce, "hubspot": self.opted_out_hubspot},
            "salesforce": {"contacts": [asdict(c) for c in self.salesforce],
                           "deals": [{**asdict(d), "lost_date": _iso(d.lost_date)} for d in self.deals]},
            "hubspot": {"contacts": [{**asdict(h), "modified_at": _iso(h.modified_at)}
                                     for h in self.hubspot]},
            "assignment": a,
            "written": [{**asdict(f), "written_at": _iso(f.written_at), "status": f.status}
                        for f in self.fields],
            "lists": [{**asdict(m), "managed_since": _iso(m.managed_since)} for m in self.lists],
            "tasks": [{"cycle_key": t.cycle_key, "deal_id": t.deal_id, "current": t.current,
                       "task": None if t.task is None else {**asdict(t.task),
                                                           "created_at": _iso(t.task.created_at)}}
                      for t in self.tasks],
        }


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class Found:
    person: Person
    deals: tuple[LostDeal, ...]  # every stored deal with a contact carrying the email (deleted too)
    hubspot: tuple[ContactRef, ...]  # every HubSpot snapshot with the email (archived too)


def find_person(store: StateStore, key: str, optout_property: str) -> Found | None:
    """The person with normalized email `key`, resolved from their own records only (indexed lookups:
    `sync.run.people.find_person`), with every snapshot that names the email."""
    person = people.find_person(store, key, optout_property=optout_property)
    if person is None:
        return None
    return Found(person, store.deals_naming(key),
                 tuple(store.iter_contacts("hubspot", emails=[key], include_archived=True)))


def explain_person(store: StateStore, mapping: Mapping, email: str,
                   now: datetime) -> PersonExplanation | None:
    """Everything leadsync knows and did about the person with this email, or None if the store
    knows no such person (or the email is not usable)."""
    key, problem = parse_email(email)
    if key is None:
        log.debug("explain: %s is not a usable email: %s", mask_email(email), problem)
        return None
    found = find_person(store, key, mapping.hubspot_optout_property)
    if found is None:
        log.info("explain: no person %s in the state store", mask_email(key))
        return None
    person = found.person
    a = assign(to_person_facts(person, rule_sources(mapping)), mapping, now)
    return PersonExplanation(
        email=key, emails=person.emails, now=now,
        opted_out_salesforce=person.salesforce_opted_out, opted_out_hubspot=person.hubspot_opted_out,
        salesforce=_sf_contacts(person), deals=_deals(found, mapping, a),
        hubspot=_hubspot(found.hubspot, mapping), assignment=a, explanation=tuple(explain(a)),
        fields=_fields(store, mapping, person, a), lists=_lists(store, mapping, person, a),
        tasks=_tasks(store, person, a), mapping=mapping)


def _sf_contacts(person: Person) -> tuple[SalesforceContactInput, ...]:
    out = []
    for cid in person.salesforce_contact_ids:
        on = [d for d in person.deals if any(c.contact_id == cid for c in d.contacts)]
        latest = max(on, key=lambda d: d.modified_at) if on else None
        c = next((c for c in latest.contacts if c.contact_id == cid), None) if latest else None
        name = " ".join(p for p in ((c.first_name, c.last_name) if c else ()) if p)
        out.append(SalesforceContactInput(cid, c.email if c else None, name, bool(c and c.opted_out),
                                          tuple(sorted(d.opportunity_id for d in on))))
    return tuple(out)


def _deals(found: Found, mapping: Mapping, a: Assignment) -> tuple[DealInput, ...]:
    """The deals the engine saw (most recent first), then the deleted ones it ignored."""
    ids = set(found.person.salesforce_contact_ids)
    out = []
    for d in (*found.person.deals, *(d for d in found.deals if d.is_deleted)):
        phase = phase_label(d.stage_at_loss, mapping)
        out.append(DealInput(
            d.opportunity_id, d.name, d.state, d.stage_name, d.stage_at_loss,
            phase if d.state == "lost" else None, d.loss_reason, d.lost_date, d.amount, d.owner_id,
            d.account_name, tuple(c.contact_id for c in d.contacts if c.contact_id in ids), d.is_deleted,
            d.opportunity_id == a.deal_id, d.lost_date_source))
    return tuple(out)


def _hubspot(contacts: Iterable[ContactRef], mapping: Mapping) -> tuple[HubSpotInput, ...]:
    read = [*mapping.hubspot_properties(), mapping.hubspot_optout_property]
    return tuple(HubSpotInput(c.contact_id, c.email, c.archived, c.modified_at,
                              {p: c.properties.get(p) for p in dict.fromkeys(read)})
                 for c in sorted(contacts, key=lambda c: c.contact_id))


def _records(person: Person) -> dict[str, tuple[str, ...]]:
    return {"salesforce": person.salesforce_contact_ids, "hubspot": person.hubspot_contact_ids}


def _fields(store: StateStore, mapping: Mapping, person: Person, a: Assignment) -> tuple[WrittenField, ...]:
    out = []
    for system, ids in _records(person).items():
        mappings = mapping.fields_for(system)
        for obj in dict.fromkeys(fm.object for fm in mappings):
            last = store.last_written(system, obj, ids)
            for rid in ids:
                for fm in (fm for fm in mappings if fm.object == obj):
                    wv = last.get((rid, fm.field))
                    out.append(WrittenField(
                        system, obj, rid, fm.field, fm.policy, field_value(a, fm.from_name, mapping, system),
                        wv.value if wv else None, wv.written_at if wv else None,
                        wv.mapping_version if wv else None, wv.run_id if wv else None))
    return tuple(out)


def _lists(store: StateStore, mapping: Mapping, person: Person, a: Assignment) -> tuple[ListState, ...]:
    out = []
    for system, ids in _records(person).items():
        managed: dict[tuple[str, str], Membership] = {
            (m.list_name, m.record_id): m for m in store.get_memberships(system, record_ids=ids)}
        wanted = mapping.list_name(a.nurture_list, system) if a.nurture_list else None
        keys = set(managed) | ({(wanted, rid) for rid in ids} if wanted else set())
        for name, rid in sorted(keys):
            m = managed.get((name, rid))
            out.append(ListState(system, name, rid, m.added_at if m else None, name == wanted))
    return tuple(out)


def _tasks(store: StateStore, person: Person, a: Assignment) -> tuple[TaskState, ...]:
    """The recorded task of every recycle cycle of the person's lost deals, and the current cycle's
    (recorded or not)."""
    keys = {cycle_key(person.key, d.opportunity_id, day): d.opportunity_id
            for d in person.deals if d.state == "lost"
            for day in (d.lost_date, d.close_date) if day is not None}  # close_date: the former key
    current = a.task.cycle_key if a.task is not None else None
    if a.task is not None:
        keys[a.task.cycle_key] = a.task.deal_id
    recorded = store.tasks_for(sorted(keys)) if keys else {}
    return tuple(TaskState(k, deal_id, k == current, recorded.get(k))
                 for k, deal_id in keys.items() if k in recorded or k == current)
