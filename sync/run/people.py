"""Identity resolution a range of people at a time, from the state store (`sync.state.people`): the
same rules and the same people as resolving everyone at once (`sync.run.identity`), in key order, with
memory bounded by one range of people and their deals, whatever the number of people.

    for part in iter_people(store, optout_property=..., size=2_000): part.people, part.duplicates
    people_in_range(store, lo, hi, optout_property=...)   one range of store.person_key_ranges(size)
    quarantined(store, optout_property=...)     the records with no usable email
    find_person(store, key, optout_property=...)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from sync.run.identity import IdentityResolver, Person, Quarantined, Resolution
from sync.state.people import PeopleRecords

PEOPLE_RANGE = 2_000  # person keys per range (a range may hold up to twice as many, see the store)


class PeopleSource(Protocol):
    def person_key_ranges(self, size: int) -> Iterator[tuple[str, str]]: ...

    def people_records(self, lo: str, hi: str) -> PeopleRecords: ...

    def unusable_records(self, size: int) -> Iterator[PeopleRecords]: ...


def _resolve(records: PeopleRecords, optout_property: str, keys: tuple[str, str] | None) -> Resolution:
    resolver = IdentityResolver(optout_property=optout_property)
    resolver.add_deals(records.deals)
    resolver.add_contacts(records.hubspot)
    return resolver.resolve(salesforce_ids=records.salesforce_ids, keys=keys)


def iter_people(store: PeopleSource, *, optout_property: str,
                size: int = PEOPLE_RANGE) -> Iterator[Resolution]:
    """Every person, a range of keys at a time, in key order (each `Resolution` has the people and
    duplicate groups of its range; quarantined records come from `quarantined`)."""
    for lo, hi in store.person_key_ranges(size):
        yield people_in_range(store, lo, hi, optout_property=optout_property)


def people_in_range(store: PeopleSource, lo: str, hi: str, *, optout_property: str) -> Resolution:
    """The people of one range of `person_key_ranges` (what `iter_people` yields for it)."""
    res = _resolve(store.people_records(lo, hi), optout_property, (lo, hi))
    return Resolution(res.people, (), res.duplicates, ())


def quarantined(store: PeopleSource, *, optout_property: str,
                size: int = PEOPLE_RANGE) -> Iterator[Quarantined]:
    """The records left out for want of a usable email, Salesforce ones first (as `resolve` lists
    them), each with the reason."""
    for records in store.unusable_records(size):
        yield from _resolve(records, optout_property, ("", "")).quarantined


def find_person(store: PeopleSource, key: str, *, optout_property: str) -> Person | None:
    """The one person with this key, from their own records."""
    return _resolve(store.people_records(key, key), optout_property, (key, key)).people.get(key)
