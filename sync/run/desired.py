"""What leadsync wants written for one person: an Assignment turned into planner targets. Pure.

For every record of the person in each system: the mapped fields (with their write policies and, when
known, the value the system holds now), the nurture list of the assignment, and, for the high recycle
group, one call task for the deal owner on the person's contact on that deal.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC

from connectors.base import CallTask, Scalar
from mappings import Mapping
from mappings.facts import Assignment
from mappings.render import field_value
from sync.run.identity import Person
from sync.run.plan import canonical
from sync.run.plan_model import UNKNOWN, FieldTarget, ListTarget, PersonDesired, TaskTarget

# current values: system -> record_id -> field -> value (absent record or field: not known)
Current = MappingABC[str, MappingABC[str, MappingABC[str, object]]]


def email_lists(mapping: Mapping) -> set[tuple[str, str]]:
    """(system, list name) of every list that sends email: opted-out people never go on one."""
    return {(system, mapping.list_name(key, system))
            for key, nl in mapping.nurture_lists.items() if nl.email
            for system in ("salesforce", "hubspot")}


def records_of(person: Person) -> dict[str, tuple[str, ...]]:
    return {"salesforce": person.salesforce_contact_ids, "hubspot": person.hubspot_contact_ids}


def task_contact(person: Person, deal_id: str | None) -> str | None:
    """The person's contact on the deal the task is about (else their first Salesforce contact)."""
    ids = set(person.salesforce_contact_ids)
    for deal in person.deals:
        if deal.opportunity_id == deal_id:
            for c in deal.contacts:
                if c.contact_id in ids:
                    return c.contact_id
    return person.salesforce_contact_ids[0] if person.salesforce_contact_ids else None


def desired_for(person: Person, a: Assignment, mapping: Mapping, current: Current) -> PersonDesired:
    fields: list[FieldTarget] = []
    lists: list[ListTarget] = []
    records: list[tuple[str, str]] = []
    for system, ids in records_of(person).items():
        mappings = mapping.fields_for(system)
        values = [(fm, field_value(a, fm.from_name, mapping, system)) for fm in mappings]
        list_name = mapping.list_name(a.nurture_list, system) if a.nurture_list else None
        known = current.get(system, {})
        for rid in ids:
            records.append((system, rid))
            now_values = known.get(rid)
            for fm, value in values:
                cur = UNKNOWN if now_values is None or fm.field not in now_values else now_values[fm.field]
                fields.append(FieldTarget(system, fm.object, rid, fm.field, value, fm.policy,  # type: ignore[arg-type]
                                          cur))  # type: ignore[arg-type]
            if list_name:
                lists.append(ListTarget(system, list_name, rid, note=f"rank {a.rank}, group "
                                                                     f"{a.recycle_group or 'none'}"))
    tasks: tuple[TaskTarget, ...] = ()
    if a.task is not None:
        contact = task_contact(person, a.task.deal_id)
        if contact is not None:
            tasks = (TaskTarget("salesforce", CallTask(
                cycle_key=a.task.cycle_key, contact_id=contact, owner_id=a.task.owner_id,
                subject=a.task.subject, description=a.task.description, due_date=a.task.due_on,
                what_id=a.task.deal_id), a.task.former_cycle_key, a.task.lost_on),)
    return PersonDesired(key=person.key, fields=tuple(fields), lists=tuple(lists), tasks=tasks,
                         opted_out=person.opted_out, records=tuple(records))


def needs_current(d: PersonDesired, last_written: MappingABC[tuple[str, str, str, str], Scalar],
                  system: str, pending: MappingABC[tuple[str, str, str, str], Scalar]) -> set[str]:
    """Records of `system` whose current values must be read before planning: a field with a
    keep_manual or if_blank policy that leadsync would change (its value differs from the last write)
    or that an interrupted run was writing. Steady state (nothing to change) reads nothing."""
    out: set[str] = set()
    for t in d.fields:
        if t.system != system or t.policy == "overwrite" or t.current is not UNKNOWN:
            continue
        if (t.key in pending or t.key not in last_written
                or canonical(last_written[t.key]) != canonical(t.value)):
            out.add(t.record_id)
    return out

