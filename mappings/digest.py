"""Fingerprints for the stage history: of the inputs a person's assignment was decided from, and of the
rules that decided it. Pure (no I/O, no clock, no process-dependent hashing).

When an assignment changes between two runs, comparing these tells why: the person's data changed
("facts"), the rules changed with the data the same ("mapping": a rule change moved them, not the
person), or neither ("time": a time-based rule such as the waiting period or score decay).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping as MappingABC
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from typing import Any

from mappings.compiled import Mapping
from mappings.facts import PersonFacts

_SIZE = 16  # bytes of the digest (32 hex characters)


def _canonical(value: Any) -> Any:
    """A value whose repr is the same in every process: sets sorted, mappings as sorted items,
    dataclasses and named tuples as tuples of their fields."""
    if value is None or isinstance(value, (str, int, float, bool, date, datetime)):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return (type(value).__name__, *(_canonical(getattr(value, f.name)) for f in fields(value)))
    if isinstance(value, MappingABC):
        return tuple(sorted(((repr(k), _canonical(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted((_canonical(v) for v in value), key=repr))
    if isinstance(value, (tuple, list)):
        return tuple(_canonical(v) for v in value)
    return repr(value)


def _digest(value: Any) -> str:
    return hashlib.blake2b(repr(_canonical(value)).encode("utf-8"), digest_size=_SIZE).hexdigest()


def rule_sources(m: Mapping) -> frozenset[str]:
    """Every value name the deciding rules read ("hubspot.lifecyclestage", ...)."""
    return frozenset({f"hubspot.{p}" for p in m.hubspot_properties()}
                     | {f"salesforce.{f}" for f in m.salesforce_fields()})


def facts_digest(person: PersonFacts, sources: frozenset[str]) -> str:
    """The inputs that decide a person's stage, rank and recycle group: the values the rules read
    (`rule_sources`; values leadsync itself writes are left out, so its own writes never count as the
    person changing) and their deals."""
    values = {k: v for k, v in person.values.items() if k in sources}
    return _digest((person.key, values, person.deals))


def rules_digest(m: Mapping) -> str:
    """The rules that decide stage, rank and recycle group (not the lists, fields or task texts)."""
    return _digest((m.stage_order, m.mql_score, m.phases, m.natives, m.behaviour, m.fit,
                    m.decay_half_life_days, m.score_max, m.ranks, _recycle_rules(m)))


def _recycle_rules(m: Mapping) -> tuple[Any, ...]:
    policy = m.recycle
    return tuple(_canonical(getattr(policy, f.name)) for f in fields(policy)
                 if f.name not in ("call_task", "exclude_display"))
