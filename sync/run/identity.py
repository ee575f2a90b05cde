"""Identity: one person per normalized email, joining Salesforce and HubSpot contacts.

Rules
- Normalization and what makes an email usable: `mappings.emails`.
- Salesforce contacts come from the deals they are on (`LostDeal.contacts`); a contact id seen on
  several deal snapshots takes its email and opt-out from the most recently modified deal.
  HubSpot contacts come as `ContactRef`; archived ones are ignored (listed in `Resolution.ignored`).
- Several records of ONE system with the same email all stay on the person (every id is kept, so
  writes go to each of them) and are reported in `Resolution.duplicates`; nothing is merged away.
- A record without a usable email is quarantined (`Resolution.quarantined`, with the reason), never
  dropped silently; the runner stores these as failures at stage "identity".
- HubSpot properties of a person with several HubSpot records: for each property, the first
  non-blank value in order of (modified_at newest first, then contact id) wins.
- Opted out = opted out in either system (any of the person's records).

Emails are never logged in full above DEBUG: use `mask_email()`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.base import MA_NAME_PROPERTIES, ContactRef, LostDeal
from mappings.emails import mask_email, parse_email
from mappings.facts import DealFacts, PersonFacts
from sync.state.records import NewFailure

log = logging.getLogger(__name__)

_EPOCH = datetime.min.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Person:
    """One human: every system id that carries their normalized email, and what the systems say."""

    key: str  # the normalized email
    emails: tuple[str, ...]  # every spelling seen, trimmed, sorted
    salesforce_contact_ids: tuple[str, ...]  # sorted
    hubspot_contact_ids: tuple[str, ...]  # sorted
    deals: tuple[LostDeal, ...]  # not deleted, most recent first (see `deal_recency`)
    hubspot_properties: Mapping[str, str | None] = field(default_factory=dict)
    salesforce_opted_out: bool = False
    hubspot_opted_out: bool = False

    @property
    def opted_out(self) -> bool:
        return self.salesforce_opted_out or self.hubspot_opted_out

    @property
    def masked(self) -> str:
        return mask_email(self.key)


@dataclass(frozen=True, slots=True)
class Quarantined:
    """A record left out of identity resolution, with the reason. Store it as a failure."""

    system: str
    record_id: str
    reason: str
    email_masked: str

    def as_failure(self) -> NewFailure:
        return NewFailure(self.system, self.record_id, "identity", self.reason)


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Several records of one system share a person's email. All are kept on the person."""

    key: str
    system: str
    record_ids: tuple[str, ...]

    def message(self) -> str:
        return (f"{len(self.record_ids)} {self.system} records share {mask_email(self.key)}: "
                f"{', '.join(self.record_ids)} (all kept; merge them in {self.system} "
                "if they are one person)")


@dataclass(frozen=True, slots=True)
class Resolution:
    people: dict[str, Person]
    quarantined: tuple[Quarantined, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    ignored: tuple[tuple[str, str, str], ...] = ()  # (system, record_id, why) e.g. archived


def deal_recency(deal: LostDeal) -> tuple[datetime, datetime, str]:
    """Sort key, larger = more recent: lost date (else last modification), then modification, then id."""
    lost = (datetime(deal.lost_date.year, deal.lost_date.month, deal.lost_date.day, tzinfo=UTC)
            if deal.lost_date else deal.modified_at)
    return lost, deal.modified_at, deal.opportunity_id


# --------------------------------------------------------------------------- resolver


@dataclass(slots=True)
class _SfContact:
    seen_at: datetime
    email: str | None
    opted_out: bool
    deal_ids: set[str]


@dataclass(slots=True)
class _Builder:
    emails: set[str] = field(default_factory=set)
    sf_ids: list[str] = field(default_factory=list)
    hs: list[ContactRef] = field(default_factory=list)
    deal_ids: set[str] = field(default_factory=set)
    sf_opted_out: bool = False


class IdentityResolver:
    """Collects deals and contacts (streamed in any order, any number of calls), then `resolve()`s.

    Later snapshots of the same deal or HubSpot contact replace earlier ones (by modified_at)."""

    def __init__(self, *, optout_property: str) -> None:
        self.optout_property = optout_property  # the MA platform's own opt-out flag (mapping's [optout])
        self._deals: dict[str, LostDeal] = {}
        self._hubspot: dict[str, ContactRef] = {}

    def add_deals(self, deals: Iterable[LostDeal]) -> None:
        for d in deals:
            old = self._deals.get(d.opportunity_id)
            if old is None or d.modified_at >= old.modified_at:
                self._deals[d.opportunity_id] = d

    def add_contacts(self, contacts: Iterable[ContactRef]) -> None:
        for c in contacts:
            old = self._hubspot.get(c.contact_id)
            if old is None or (c.modified_at or _EPOCH) >= (old.modified_at or _EPOCH):
                self._hubspot[c.contact_id] = c

    def resolve(self, *, salesforce_ids: Collection[str] | None = None,
                keys: tuple[str, str] | None = None) -> Resolution:
        """Everyone the records name; or, to resolve a part of the people (`sync.state.people`), only
        the Salesforce contacts in `salesforce_ids` (those whose every deal was added) and only the
        people whose key is in the inclusive range `keys`."""
        builders: dict[str, _Builder] = {}
        quarantined: list[Quarantined] = []
        ignored: list[tuple[str, str, str]] = []

        for cid, sfc in sorted(self._salesforce_contacts(salesforce_ids).items()):
            key, problem = parse_email(sfc.email)
            if key is None:
                quarantined.append(
                    Quarantined("salesforce", cid, problem or "no email", mask_email(sfc.email)))
                continue
            if keys is not None and not keys[0] <= key <= keys[1]:
                continue
            b = builders.get(key) or builders.setdefault(key, _Builder())
            b.emails.add(sfc.email.strip() if sfc.email else key)
            b.sf_ids.append(cid)
            b.deal_ids |= sfc.deal_ids
            b.sf_opted_out = b.sf_opted_out or sfc.opted_out

        for cid, hc in sorted(self._hubspot.items()):
            if hc.archived:
                ignored.append(("hubspot", cid, "archived"))
                continue
            key, problem = parse_email(hc.email)
            if key is None:
                quarantined.append(Quarantined("hubspot", cid, problem or "no email", mask_email(hc.email)))
                continue
            if keys is not None and not keys[0] <= key <= keys[1]:
                continue
            b = builders.get(key) or builders.setdefault(key, _Builder())
            b.emails.add(hc.email.strip() if hc.email else key)
            b.hs.append(hc)

        people: dict[str, Person] = {}
        duplicates: list[Duplicate] = []
        for key in sorted(builders):
            person = self._person(key, builders[key])
            people[key] = person
            for system, ids in (("salesforce", person.salesforce_contact_ids),
                                ("hubspot", person.hubspot_contact_ids)):
                if len(ids) > 1:
                    duplicates.append(Duplicate(key, system, ids))
        log.log(logging.INFO if keys is None else logging.DEBUG,
                "identity: %d people, %d quarantined, %d duplicate groups, %d ignored",
                len(people), len(quarantined), len(duplicates), len(ignored))
        for q in quarantined:
            log.debug("identity: quarantined %s %s (%s): %s", q.system, q.record_id, q.email_masked, q.reason)
        return Resolution(people, tuple(quarantined), tuple(duplicates), tuple(ignored))

    def _salesforce_contacts(self, only: Collection[str] | None) -> dict[str, _SfContact]:
        out: dict[str, _SfContact] = {}
        for deal in self._deals.values():
            for c in deal.contacts:
                if only is not None and c.contact_id not in only:
                    continue
                known = out.get(c.contact_id)
                if known is None:
                    out[c.contact_id] = _SfContact(deal.modified_at, c.email, c.opted_out,
                                                   {deal.opportunity_id})
                    continue
                known.deal_ids.add(deal.opportunity_id)
                if deal.modified_at > known.seen_at:
                    known.seen_at, known.email, known.opted_out = deal.modified_at, c.email, c.opted_out
        return out

    def _person(self, key: str, b: _Builder) -> Person:
        if len(b.deal_ids) == 1:  # the usual case: nothing to order
            (deal,) = (self._deals[i] for i in b.deal_ids)
            deals = [] if deal.is_deleted else [deal]
        else:
            deals = [self._deals[i] for i in b.deal_ids]
            deals = sorted((d for d in deals if not d.is_deleted), key=deal_recency, reverse=True)
        props: dict[str, str | None]
        if len(b.hs) <= 1:  # the usual case: one record's properties are the merge below, as they are
            hs = b.hs
            props = dict(hs[0].properties) if hs else {}
        else:
            hs = sorted(b.hs, key=lambda c: c.contact_id)
            hs.sort(key=lambda c: c.modified_at or _EPOCH, reverse=True)  # stable: ties keep id order
            props = {}
            for c in hs:
                for name, value in c.properties.items():
                    if props.get(name) in (None, "") and value not in (None, ""):
                        props[name] = value
                    else:
                        props.setdefault(name, value)
        hs_opted_out = any(
            str(c.properties.get(self.optout_property) or "").strip().lower() == "true" for c in hs)
        return Person(key=key, emails=tuple(sorted(b.emails)), salesforce_contact_ids=tuple(sorted(b.sf_ids)),
                      hubspot_contact_ids=tuple(sorted(c.contact_id for c in hs)), deals=tuple(deals),
                      hubspot_properties=props, salesforce_opted_out=b.sf_opted_out,
                      hubspot_opted_out=hs_opted_out)


def resolve(deals: Iterable[LostDeal], contacts: Iterable[ContactRef], *,
            optout_property: str) -> Resolution:
    """One-shot `IdentityResolver`."""
    resolver = IdentityResolver(optout_property=optout_property)
    resolver.add_deals(deals)
    resolver.add_contacts(contacts)
    return resolver.resolve()


# --------------------------------------------------------------------------- engine input


def deal_facts(deal: LostDeal) -> DealFacts:
    return DealFacts(deal_id=deal.opportunity_id, state=deal.state, stage_at_loss=deal.stage_at_loss,
                     loss_reason=deal.loss_reason, lost_on=deal.lost_date, amount=deal.amount,
                     owner_id=deal.owner_id, name=deal.name, lost_on_source=deal.lost_date_source,
                     close_date=deal.close_date if deal.state == "lost" else None,
                     closed_on=deal.close_date if deal.state == "won" else None)


# a person's name as the MA platform holds it: read for the console's search, not an input of the rules
_NAME_VALUES = tuple(f"hubspot.{p}" for p in MA_NAME_PROPERTIES)


def to_person_facts(person: Person, sources: Collection[str] = ()) -> PersonFacts:
    """What the mapping engine needs about a person.

    values: "hubspot.<prop>" = raw HubSpot strings (merged, see module docstring), except the name
    properties (`MA_NAME_PROPERTIES`, which the connector always reads for the console's search) unless
    they are among `sources`, the values the mapping's rules read (`mappings.digest.rule_sources`): a
    name the rules do not use is no input of the person's standing;
    "salesforce.Account.NumberOfEmployees" / ".Industry" / ".Name" from the most recent deal's account
    (only when the person has a deal); "salesforce.Contact.HasOptedOutOfEmail" (only when the person
    has a Salesforce contact). Deals keep the most-recent-first order.
    """
    values: dict[str, object] = {f"hubspot.{k}": v for k, v in person.hubspot_properties.items()}
    for name in _NAME_VALUES:
        if name not in sources:
            values.pop(name, None)
    if person.deals:
        latest = person.deals[0]
        values["salesforce.Account.NumberOfEmployees"] = latest.account_employees
        values["salesforce.Account.Industry"] = latest.account_industry
        values["salesforce.Account.Name"] = latest.account_name
    if person.salesforce_contact_ids:
        values["salesforce.Contact.HasOptedOutOfEmail"] = person.salesforce_opted_out
    return PersonFacts(key=person.key, values=values, opted_out=person.opted_out,
                       deals=tuple(deal_facts(d) for d in person.deals))
