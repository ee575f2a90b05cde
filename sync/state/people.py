"""People a range of person keys at a time: the records identity resolution needs, found in the
database (`contacts.person_key`, `deal_contacts`), so a run, the report and `explain` hold one range of
people in memory, never all of them. Mixed into StateStore.

A person key is the normalized, usable email (`mappings.emails.parse_email`); keys sort in byte order
on every backend (`schema.PersonKey`). For a range of keys [lo, hi] the records are:
- the HubSpot contacts whose key is in the range (not archived, not merged into another);
- the Salesforce contacts named with a key in the range on some deal (`salesforce_ids`), and every
  deal any of them is on, so the resolver can tell which email each contact has now (the one on its
  most recently modified deal, which may lie outside the range: the resolver then leaves it out).
Records whose email is not usable have no key; `unusable_records` finds them for the quarantine.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.base import ContactRef, LostDeal
from sync.state import schema as s
from sync.state.codec import deal_from_json
from sync.state.sql import IN_CHUNK, chunks, stream_rows


@dataclass(frozen=True, slots=True)
class PeopleRecords:
    """What identity resolution needs for some people (see the module docstring)."""

    deals: tuple[LostDeal, ...]  # in id order, deleted ones included
    hubspot: tuple[ContactRef, ...]
    salesforce_ids: frozenset[str]


class PeopleIndex:
    engine: Engine

    if TYPE_CHECKING:  # from Snapshots
        def iter_contacts(self, system: str, *, key_range: tuple[str, str] | None = None,
                          unkeyed: bool = False) -> Iterator[ContactRef]: ...

    def person_key_ranges(self, size: int) -> Iterator[tuple[str, str]]:
        """Consecutive inclusive ranges [lo, hi] of person keys, in order, covering every key a
        HubSpot contact or a deal's contact has; each range holds at most 2 × `size` keys (a key
        named only by an older email of a Salesforce contact may resolve to nobody)."""
        c, dc = s.contacts.c, s.deal_contacts.c
        # no `system` term: only HubSpot contacts have a key, and the term would lead SQLite to the
        # primary key's index (every contact scanned per range) instead of the person key's
        hubspot = sa.select(c.person_key).where(c.archived == sa.false(), c.merged_into.is_(None))
        sources = ((hubspot, c.person_key), (sa.select(dc.person_key), dc.person_key))
        after: str | None = None
        while True:
            pages = []
            with self.engine.connect() as conn:
                for stmt, col in sources:
                    stmt = stmt.where(col.is_not(None) if after is None else col > after)
                    pages.append(list(conn.execute(stmt.distinct().order_by(col).limit(size)).scalars()))
            if not any(pages):
                return
            full = [page[-1] for page in pages if len(page) == size]
            hi = min(full) if full else max(page[-1] for page in pages if page)
            yield min(page[0] for page in pages if page), hi
            after = hi

    def people_records(self, lo: str, hi: str) -> PeopleRecords:
        """The records of the people whose key is in [lo, hi] (see the module docstring)."""
        dc = s.deal_contacts.c
        named = sa.select(dc.contact_id).where(dc.person_key.between(lo, hi))
        deal_ids = sa.select(dc.opportunity_id).where(dc.contact_id.in_(named))
        with self.engine.connect() as conn:
            salesforce_ids = frozenset(conn.execute(named.distinct()).scalars())
        d = s.deals.c
        rows = stream_rows(self.engine, sa.select(d.data).where(d.opportunity_id.in_(deal_ids))
                           .order_by(d.opportunity_id))
        deals = tuple(deal_from_json(r.data) for r in rows)
        hubspot = tuple(self.iter_contacts("hubspot", key_range=(lo, hi)))
        return PeopleRecords(deals, hubspot, salesforce_ids)

    def unusable_records(self, size: int) -> Iterator[PeopleRecords]:
        """The records whose email is not usable, `size` contacts at a time: Salesforce contacts
        named on some deal with such an email (with all their deals; the resolver decides from the
        latest), then HubSpot contacts (not archived, not merged)."""
        dc = s.deal_contacts.c
        unkeyed = sa.select(dc.contact_id).where(dc.person_key.is_(None)).distinct().order_by(dc.contact_id)
        for part in chunks((r.contact_id for r in stream_rows(self.engine, unkeyed)), size):
            yield PeopleRecords(self._deals_of(part), (), frozenset(part))
        for contacts in chunks(self.iter_contacts("hubspot", unkeyed=True), size):
            yield PeopleRecords((), tuple(contacts), frozenset())

    def deals_naming(self, email_norm: str) -> tuple[LostDeal, ...]:
        """Every stored deal (deleted too) with a contact carrying this normalized email."""
        dc = s.deal_contacts.c
        ids = sa.select(dc.opportunity_id).where(dc.email_norm == email_norm)
        rows = stream_rows(self.engine, sa.select(s.deals.c.data).where(s.deals.c.opportunity_id.in_(ids))
                           .order_by(s.deals.c.opportunity_id))
        return tuple(deal_from_json(r.data) for r in rows)

    def deal_emails_without_contact(self, stored_since: object) -> Iterator[str]:
        """Normalized emails of the people on deals stored at or after `stored_since` that no live
        HubSpot contact has (to be looked up in HubSpot by email), in order."""
        dc, c, d = s.deal_contacts.c, s.contacts.c, s.deals.c
        known = sa.select(c.contact_id).where(c.system == "hubspot", c.email_norm == dc.email_norm,
                                              c.archived == sa.false(), c.merged_into.is_(None))
        stmt = (sa.select(dc.email_norm).distinct()
                .join_from(s.deal_contacts, s.deals, d.opportunity_id == dc.opportunity_id)
                .where(d.stored_at >= stored_since, dc.email_norm.is_not(None), ~known.exists())
                .order_by(dc.email_norm))
        for r in stream_rows(self.engine, stmt):
            yield r.email_norm

    def _deals_of(self, contact_ids: list[str]) -> tuple[LostDeal, ...]:
        dc, found = s.deal_contacts.c, {}
        for part in chunks(contact_ids, IN_CHUNK):
            ids = sa.select(dc.opportunity_id).where(dc.contact_id.in_(part))
            for r in stream_rows(self.engine, sa.select(s.deals.c.opportunity_id, s.deals.c.data)
                                 .where(s.deals.c.opportunity_id.in_(ids))):
                found[r.opportunity_id] = r.data
        return tuple(deal_from_json(found[i]) for i in sorted(found))
