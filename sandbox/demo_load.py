"""Load a demo book into the emulators' stores, as the records would have come to be in real systems.

Salesforce: Users, then per account the Account, its Contacts, and each Opportunity created at its
first stage and moved stage by stage with the historical timestamps (so the org writes the
OpportunityHistory rows), closed as "Closed Won", or "Closed Lost" / "Lost - No Budget" with the loss
reason; contact roles with the primary first. HubSpot: each person's contact created at its create
date, the engagement written at the last activity, a duplicate contact merged into it where the book
says so, archived contacts archived. Campaigns and lists are not created: leadsync creates them.

The store's Python handle is used (not the HTTP API), so loading costs no API calls, rate limits or
faults. Records stream: a million people load without holding the book in memory.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sandbox.demo_data import DemoAccount, DemoBook, DemoPerson, DemoUser
from sandbox.demo_pools import CLOSED_LOST_STAGES, CLOSED_WON
from sandbox.hubspot.defaults import numemployees_range

CLOSING_STAGES = (CLOSED_WON, *CLOSED_LOST_STAGES)


class _SalesforceStore(Protocol):
    def create(self, sobject: str, fields: dict[str, Any], *, at: datetime | None = None) -> str: ...
    def update(self, sobject: str, record_id: str, fields: dict[str, Any], *,
               at: datetime | None = None) -> None: ...
    def load(self, sobject: str, fields: dict[str, Any], *, at: datetime) -> str: ...
    def load_update(self, sobject: str, record_id: str, fields: dict[str, Any], *, at: datetime) -> None: ...


class _HubSpotStore(Protocol):
    def create_contact(self, properties: dict[str, str | None], *, at: datetime | None = None) -> str: ...
    def update_contact(self, contact_id: str, properties: dict[str, str | None], *,
                       at: datetime | None = None) -> None: ...
    def archive_contact(self, contact_id: str, *, at: datetime | None = None) -> None: ...
    def merge_contacts(self, primary_id: str, merged_id: str, *, at: datetime | None = None) -> None: ...


class _HasStore(Protocol):
    @property
    def store(self) -> Any: ...


@dataclass(frozen=True)
class LoadSummary:
    """What one load created."""

    users: int = 0
    accounts: int = 0
    contacts: int = 0
    opportunities: int = 0
    opportunity_history: int = 0  # stage steps written (the org adds one history row per step)
    contact_roles: int = 0
    hubspot_contacts: int = 0  # active primary contacts (merged duplicates and archived ones excluded)
    hubspot_archived: int = 0
    hubspot_merged: int = 0


def load_demo(book: DemoBook, *, salesforce: _HasStore | None = None, hubspot: _HasStore | None = None,
              progress: Callable[[int], None] | None = None, trusted: bool = True) -> LoadSummary:
    """Load `book` into the given emulators (either may be None). `progress(n)` is called after each
    account with the number of people it held.

    `trusted` (the default) writes Salesforce records through the store's unchecked `load` path: the
    book is generated here, so checking every field, reference and rule of a million writes (about 40 %
    of the load's CPU) proves nothing; the rows, ids, system fields, indexes and history rows are the
    ones the checked path (`trusted=False`, `create`/`update` as the API uses) builds, which
    tests/sandbox/test_demo_load.py proves by loading one book both ways and comparing every table.

    The cyclic garbage collector is paused while loading: loading makes no reference cycles, only
    millions of long-lived containers, and each full collection would walk all of them again (at a
    million people that was a large share of the load's CPU time)."""
    counts = dict.fromkeys(LoadSummary.__dataclass_fields__, 0)
    sf = _SalesforceLoader(salesforce.store, book, counts, trusted) if salesforce is not None else None
    hs = _HubSpotLoader(hubspot.store, counts) if hubspot is not None else None
    collecting = gc.isenabled()
    gc.disable()
    try:
        for account in book.accounts():
            if sf is not None:
                sf.account(account)
            if hs is not None:
                for person in account.people:
                    hs.person(person, account)
            if progress is not None:
                progress(len(account.people))
    finally:
        if collecting:
            gc.enable()
    release_free_memory()
    return LoadSummary(**counts)


_LIBC = ctypes.CDLL(None)  # the C library the interpreter runs on


def release_free_memory() -> None:
    """Give the heap memory loading freed back to the system (glibc `malloc_trim`; elsewhere nothing).
    Loading writes each opportunity several times and builds a transient dict per write; the freed
    blocks stay in the process (about 250 bytes a person at 100,000 people) unless trimmed. Only free
    pages are returned: nothing the emulators hold changes."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


class _SalesforceLoader:
    def __init__(self, store: _SalesforceStore, book: DemoBook, counts: dict[str, int], trusted: bool):
        self.store = store
        self.counts = counts
        self.create = store.load if trusted else store.create
        self.update = store.load_update if trusted else store.update
        self.users = {u.key: self.user(u, book.now - timedelta(days=5 * 365)) for u in book.users}

    def user(self, user: DemoUser, at: datetime) -> str:
        self.counts["users"] += 1
        return self.create("User", {
            "Username": user.username, "Email": user.email, "FirstName": user.first_name,
            "LastName": user.last_name, "Alias": user.alias, "IsActive": user.active,
        }, at=at)

    def account(self, account: DemoAccount) -> None:
        company = account.company
        if not company.in_salesforce:
            return
        create, update, owner = self.create, self.update, self.users[company.owner_key]
        account_id = create("Account", {
            "Name": company.name, "Industry": company.industry, "NumberOfEmployees": company.employees,
            "BillingCountry": company.country, "Website": f"https://www.{company.domain}", "OwnerId": owner,
        }, at=company.created_at)
        self.counts["accounts"] += 1
        contact_ids: dict[str, str] = {}
        for person in sorted((p for p in account.people if p.in_salesforce), key=lambda p: p.created_at):
            contact_ids[person.key] = create("Contact", {
                "FirstName": person.first_name, "LastName": person.last_name,
                "Email": person.salesforce_email, "AccountId": account_id, "OwnerId": owner,
                "Title": person.title, "HasOptedOutOfEmail": person.sf_opted_out,
                "MailingCountry": company.country,
            }, at=person.created_at)
        self.counts["contacts"] += len(contact_ids)
        for opp in account.opportunities:
            first = opp.path[0]
            expected_close = (first.at + timedelta(days=60)).date()
            opp_id = create("Opportunity", {
                "Name": opp.name, "AccountId": account_id, "OwnerId": self.users[opp.owner_key],
                "Amount": opp.amount, "StageName": first.stage, "CloseDate": expected_close,
            }, at=first.at)
            for role in opp.contact_roles:
                create("OpportunityContactRole", {
                    "OpportunityId": opp_id, "ContactId": contact_ids[role.person_key], "Role": role.role,
                    "IsPrimary": role.is_primary,
                }, at=first.at)
            for step in opp.path[1:]:
                fields: dict[str, Any] = {"StageName": step.stage}
                if step.stage in CLOSING_STAGES:
                    fields["CloseDate"] = opp.close_date
                    if opp.loss_reason:
                        fields["Loss_Reason__c"] = opp.loss_reason
                update("Opportunity", opp_id, fields, at=step.at)
            if opp.outcome == "open" and opp.close_date != expected_close:
                update("Opportunity", opp_id, {"CloseDate": opp.close_date}, at=opp.path[-1].at)
            self.counts["opportunities"] += 1
            self.counts["opportunity_history"] += len(opp.path)
            self.counts["contact_roles"] += len(opp.contact_roles)


def _ms(moment: datetime | None) -> str | None:
    return None if moment is None else str(int(moment.timestamp() * 1000))


class _HubSpotLoader:
    def __init__(self, store: _HubSpotStore, counts: dict[str, int]):
        self.store = store
        self.counts = counts

    def person(self, person: DemoPerson, account: DemoAccount) -> None:
        hs = person.hubspot
        if hs is None:
            return
        store = self.store
        base: dict[str, str | None] = {
            "email": hs.email, "firstname": person.first_name, "lastname": person.last_name,
            "company": account.company.name, "numemployees": numemployees_range(account.company.employees),
            "lifecyclestage": hs.lifecyclestage, "hs_lead_status": hs.lead_status,
            "inquiry_type": hs.inquiry_type, "hs_email_optout": "true" if hs.opted_out else None,
        }
        e = hs.engagement
        # a contact past lead became a lead when created and reached its stage later (halfway to its last
        # activity): HubSpot dates both stages (hs_lifecyclestage_<stage>_date), what backfill reads
        later = hs.lifecyclestage not in (None, "subscriber", "lead", "other")
        reached = (hs.created_at + (e.last_activity - hs.created_at) / 2
                   if later and e.last_activity is not None and e.last_activity > hs.created_at else None)
        first = {**base, "lifecyclestage": "lead"} if reached is not None else base
        contact_id = store.create_contact({k: v for k, v in first.items() if v is not None}, at=hs.created_at)
        if reached is not None:
            store.update_contact(contact_id, {"lifecyclestage": hs.lifecyclestage}, at=reached)
        if e.last_activity is not None or e.delivered:
            engagement = {
                "hs_email_delivered": str(e.delivered) if e.delivered else None,
                "hs_email_open": str(e.opens) if e.delivered else None,
                "hs_email_click": str(e.clicks) if e.delivered else None,
                "hs_email_last_open_date": _ms(e.last_open),
                "hs_email_last_click_date": _ms(e.last_click),
                "hs_analytics_num_page_views": str(e.page_views) if e.page_views else None,
                "hs_analytics_last_visit_timestamp": _ms(e.last_visit),
                "num_conversion_events": str(e.conversions) if e.conversions else None,
                "recent_conversion_date": _ms(e.last_conversion),
            }
            store.update_contact(contact_id, {k: v for k, v in engagement.items() if v is not None},
                                 at=e.last_activity or hs.created_at)
        if hs.duplicate_email and hs.merged_at and hs.duplicate_created_at:
            duplicate = store.create_contact({
                "email": hs.duplicate_email, "firstname": person.first_name, "lastname": person.last_name,
                "lifecyclestage": "subscriber",
            }, at=hs.duplicate_created_at)
            store.merge_contacts(contact_id, duplicate, at=hs.merged_at)
            self.counts["hubspot_merged"] += 1
        if hs.archived_at is not None:
            store.archive_contact(contact_id, at=hs.archived_at)
            self.counts["hubspot_archived"] += 1
        else:
            self.counts["hubspot_contacts"] += 1
