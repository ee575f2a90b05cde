"""The fewest API calls a run could make with the APIs' batch sizes, per endpoint, next to what it made.

Definitions (n = records the run had to read or write through that endpoint):

Salesforce
- every query stream (one SOQL result set, first page + queryMore pages): ceil(n / 2000), at least 1
  when the stream is needed at all (2,000 rows is the REST query's largest page, and child rows of a
  parent-child subquery count toward it: SOAP API Developer Guide, QueryOptions). The streams:
  - Opportunity: the deals in the window WITH their contact roles as a subquery, n = deals + their
    OpportunityContactRole rows (one result set carries both; roles need no stream of their own, so
    the OpportunityContactRole minimum is 0). The people's current values of the mapped Contact fields
    and the owners' IsActive come in the same rows as relationship fields (no Contact or User stream);
  - OpportunityHistory: the stage history of the lost deals only (a subquery would read every deal's
    history: 44,064 rows instead of 23,995 at 20k people), n = their history rows;
  - Contact: the managed-contacts stream (contacts with a keep_manual/if_blank field set that changed
    since the last run), always asked when such fields exist (1 page at least); on a no-op run also the
    drift-check sample, re-read once: ceil(sample / 2000). Current values for planning come with the
    deals (see Opportunity), so a first sync needs no other Contact read;
  - Campaign (the org's campaigns, read once per run: n = campaigns in the org before the run, at least
    1 page when the run adds members), Task (which cycle keys already have a task, read once per run:
    n = the org's tasks with a cycle key before the run, deleted ones included, at least 1 page when
    the run creates tasks; 0 rows on a first sync), OpportunityStage (closed stage names, once);
  - User, Organization: 0 (owners' activity comes with the deals; the org id with the login answer,
    except with auth = "session", where no login answers);
- sObject Collections: ceil(n / 200) for contact updates, campaign-member inserts and tasks each, plus 1
  when the run had to create campaigns (all missing campaigns in one POST);
- login: 1; describe: 1 (the field check before the first read or write naming mapped fields).

HubSpot
- first full read: the list endpoint, ceil(n / 100) (its largest page) + 2 searches (a probe, newest
  first, and a catch-up from the probe's newest timestamp; a book under 200 contacts is the probe
  alone): twice the calls of search's 200-row pages, but on the 10-second window instead of search's
  5 requests/s, so about three times faster (benchmarks/peers.py); the minimum counts the read made;
- search (a no-op run's window): ceil(n / 200) pages for the contacts in the window (200 = search's
  largest page);
- batch read by email: ceil(n / 100) for the Salesforce emails HubSpot's window did not contain;
- batch update: ceil(n / 100);
- list memberships: per list, ceil(n / 500) (500 = leadsync's chunk; HubSpot documents no smaller cap);
- properties: 1 (the pre-write property check).

Reads only what the emulators' stores say was there; writes from the run's own confirmed counts.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

SOQL_PAGE = 2000
COLLECTION = 200
SEARCH_PAGE = 200
LIST_PAGE = 100  # GET /crm/v3/objects/contacts: limit at most 100
HS_BATCH = 100
MEMBERSHIP = 500


def pages(n: int, size: int, *, needed: bool | None = None) -> int:
    """ceil(n / size); with `needed`, at least 1 (a stream that must be asked even when empty)."""
    base = math.ceil(n / size) if n > 0 else 0
    return max(base, 1) if (needed if needed is not None else n > 0) else base


def logins(calls: dict[str, int]) -> int:
    """Salesforce logins of either kind: SOAP login() (salesforce.login) or the OAuth token endpoint
    (salesforce.token: JWT bearer, the sandbox settings' default, client credentials, password flow)."""
    return calls.get("salesforce.login", 0) + calls.get("salesforce.token", 0)


@dataclass(frozen=True)
class Row:
    system: str
    endpoint: str
    records: int | None
    made: int
    minimum: int

    @property
    def over(self) -> float | None:
        return None if self.minimum == 0 else round(100.0 * (self.made - self.minimum) / self.minimum, 1)

    def as_dict(self) -> dict[str, Any]:
        return {"system": self.system, "endpoint": self.endpoint, "records": self.records, "made": self.made,
                "minimum": self.minimum, "over_minimum_pct": self.over}


@dataclass(frozen=True)
class DataFacts:
    """What the sandbox held before the run (from the emulators' stores)."""

    opportunities: int
    lost_opportunities: int
    lost_history_rows: int
    contact_roles: int
    people_with_lost_deal: int
    sf_emails_missing_in_hubspot: int
    hubspot_active: int
    hubspot_archived: int
    campaigns: int = 0  # Campaign rows before the run
    keyed_tasks: int = 0  # Task rows with a cycle key before the run, deleted ones included

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def data_facts(salesforce: Any, hubspot: Any) -> DataFacts:
    """Count the streams' rows in the emulators' stores (Python handles, in this process)."""
    store = salesforce.store
    opps = store.table("Opportunity").rows
    lost_stages = {r["MasterLabel"] for r in store.table("OpportunityStage").rows.values()
                   if r.get("IsClosed") and not r.get("IsWon")}
    lost = {rid for rid, r in opps.items() if r.get("StageName") in lost_stages and not r.get("IsDeleted")}
    history = sum(1 for r in store.table("OpportunityHistory").rows.values()
                  if r.get("OpportunityId") in lost)
    roles = store.table("OpportunityContactRole").rows
    people_lost = {r.get("ContactId") for r in roles.values()
                   if r.get("OpportunityId") in lost and not r.get("IsDeleted")}
    contacts = store.table("Contact").rows
    role_contacts = {r.get("ContactId") for r in roles.values() if not r.get("IsDeleted")}
    sf_emails = {str(contacts[c]["Email"]).strip().lower() for c in role_contacts
                 if c in contacts and contacts[c].get("Email")}
    hs_emails = {(c.prop("email") or "").lower() for c in hubspot.store.all_active()}
    archived = sum(1 for c in hubspot.store._iter(True) if c.archived_at is not None)
    return DataFacts(
        opportunities=len(opps), lost_opportunities=len(lost), lost_history_rows=history,
        contact_roles=len(roles), people_with_lost_deal=len(people_lost),
        sf_emails_missing_in_hubspot=len(sf_emails - hs_emails), hubspot_active=len(hubspot.store),
        hubspot_archived=archived, campaigns=len(store.table("Campaign").rows),
        keyed_tasks=sum(1 for r in store.table("Task").rows.values() if r.get("Leadsync_Cycle_Key__c")))


def first_sync_rows(run: dict[str, Any], facts: DataFacts, server: dict[str, Any],
                    list_members: dict[str, int], campaigns_after: int | None = None) -> list[Row]:
    """Calls made (server side, retries included) versus the minimum, per endpoint, for a first sync.
    `campaigns_after`: Campaign rows after the run (more than before: the run created some)."""
    counts: dict[str, int] = run.get("counts", {})
    calls: dict[str, int] = server["calls"]
    first: dict[str, int] = server["soql_by_object"]
    more: dict[str, int] = server["soql_more_by_object"]
    tasks = counts.get("salesforce.tasks_created", 0)
    deals = counts.get("deals_read", 0)
    # deals and their roles are one result set (subquery rows count toward the 2,000-row page)
    roles = facts.contact_roles if deals else 0
    streams = {
        "Opportunity": (deals + roles, True),
        "OpportunityHistory": (facts.lost_history_rows, facts.lost_opportunities > 0),
        "OpportunityContactRole": (0, False),  # in the Opportunity result set
        "OpportunityStage": (0, True),
        # current values come with the deals; the managed-contacts stream is asked once (0 rows on a
        # first sync, nothing written yet)
        "Contact": (counts.get("salesforce_managed_contacts_read", 0), True),
        "Campaign": (facts.campaigns, counts.get("salesforce.list_adds", 0) > 0),
        "Task": (facts.keyed_tasks, tasks > 0),
        "CampaignMember": (counts.get("salesforce.list_removes", 0), None),
    }
    rows = [Row("salesforce", "login", None, logins(calls), 1)]
    for obj in sorted(set(streams) | set(first) | set(more)):
        n, needed = streams.get(obj, (0, None))
        made = first.get(obj, 0) + more.get(obj, 0)
        rows.append(Row("salesforce", f"query {obj}", n, made, pages(n, SOQL_PAGE, needed=needed)))
    writes = (counts.get("salesforce.records_updated", 0), counts.get("salesforce.list_adds", 0), tasks)
    created = 1 if campaigns_after is not None and campaigns_after > facts.campaigns else 0
    rows.append(Row("salesforce", "collections (updates, members, tasks, new campaigns)", sum(writes),
                    calls.get("salesforce.collections", 0),
                    sum(pages(n, COLLECTION) for n in writes) + created))
    rows.append(Row("salesforce", "describe", None, calls.get("salesforce.describe", 0), 1))
    rows += _others(calls, "salesforce", {"login", "token", "query", "query_more", "collections", "describe"})

    active = facts.hubspot_active  # a first read reads every active contact
    rows.append(Row("hubspot", "full read (list + search)", active,
                    calls.get("hubspot.contacts", 0) + calls.get("hubspot.search", 0),
                    1 if active < SEARCH_PAGE else pages(active, LIST_PAGE) + 2))
    rows.append(Row("hubspot", "batch read by email", facts.sf_emails_missing_in_hubspot,
                    calls.get("hubspot.batch_read", 0), pages(facts.sf_emails_missing_in_hubspot, HS_BATCH)))
    updated = counts.get("hubspot.records_updated", 0)
    rows.append(Row("hubspot", "batch update", updated, calls.get("hubspot.batch_update", 0),
                    pages(updated, HS_BATCH)))
    rows.append(Row("hubspot", "list memberships", sum(list_members.values()),
                    calls.get("hubspot.memberships", 0),
                    sum(pages(n, MEMBERSHIP) for n in list_members.values())))
    rows.append(Row("hubspot", "properties", None, calls.get("hubspot.properties", 0), 1))
    rows.append(Row("hubspot", "lists (ids by name)", len(list_members), calls.get("hubspot.lists", 0),
                    1 if list_members else 0))
    rows += _others(calls, "hubspot", {"search", "contacts", "batch_read", "batch_update", "memberships",
                                       "properties", "lists"})
    return rows


def _others(calls: dict[str, int], system: str, known: set[str]) -> list[Row]:
    """Endpoints the minimum has no use for (minimum 0), each on its own row."""
    prefix = f"{system}."
    return [Row(system, k.removeprefix(prefix), None, v, 0) for k, v in sorted(calls.items())
            if k.startswith(prefix) and k.removeprefix(prefix) not in known]


def noop_rows(run: dict[str, Any], server: dict[str, Any], archived: int, window: int) -> list[Row]:
    """A run with nothing to write: the reads its watermark windows need, and no write at all.
    `window`: the HubSpot contacts modified since the watermark minus the lookback (counted in the
    emulator); deals and managed Salesforce contacts (keep_manual fields changed since the last run)
    in their windows are what the run reported reading; archived contacts cannot be filtered by date,
    so listing them costs ceil(archived / 100) every run."""
    counts: dict[str, int] = run.get("counts", {})
    calls: dict[str, int] = server["calls"]
    first: dict[str, int] = server["soql_by_object"]
    more: dict[str, int] = server["soql_more_by_object"]
    deals = counts.get("deals_read", 0)
    rows = [Row("salesforce", "login", None, logins(calls), 1)]
    managed = counts.get("salesforce_managed_contacts_read", 0)
    sample = counts.get("verify.salesforce.read", 0)
    # the deals in the window carry their roles (a few rows: the same pages); the history of the lost
    # ones among them is asked only when there is one, which the run's counts do not tell: minimum 0
    # (a window with a lost deal shows its one call as +1, never a minimum too high); the drift sample
    # is re-read once
    needed = {"Opportunity": pages(deals, SOQL_PAGE, needed=True),
              "Contact": pages(managed, SOQL_PAGE, needed=True) + pages(sample, SOQL_PAGE),
              "OpportunityStage": 1 if deals else 0}
    for obj in sorted(set(needed) | set(first) | set(more)):
        made = first.get(obj, 0) + more.get(obj, 0)
        records = {"Opportunity": deals, "Contact": managed + sample}.get(obj)
        rows.append(Row("salesforce", f"query {obj}", records, made, needed.get(obj, 0)))
    rows.append(Row("salesforce", "describe", None, calls.get("salesforce.describe", 0), 1))
    rows += _others(calls, "salesforce", {"login", "token", "query", "query_more", "describe"})
    listed = calls.get("hubspot.contacts", 0)
    rows.append(Row("hubspot", "search", window, calls.get("hubspot.search", 0),
                    pages(window, SEARCH_PAGE, needed=True)))
    rows.append(Row("hubspot", "contacts (archived listing)", archived, listed,
                    pages(archived, 100, needed=True)))
    rows += _others(calls, "hubspot", {"search", "contacts"})
    return rows


WRITE_ENDPOINTS = frozenset({"salesforce.collections", "salesforce.sobject", "salesforce.bulk",
                             "hubspot.batch_update", "hubspot.batch_upsert", "hubspot.batch_create",
                             "hubspot.batch_archive", "hubspot.memberships"})


def split_reads_writes(calls: dict[str, int]) -> tuple[Counter[str], Counter[str]]:
    """Server-side calls split into writes and reads (a Bulk call counts as a write: leadsync's sync
    only writes through Bulk; a membership GET would be a read, but leadsync never pages members)."""
    reads, writes = Counter[str](), Counter[str]()
    for k, v in calls.items():
        (writes if k in WRITE_ENDPOINTS else reads)[k] += v
    return reads, writes


def totals(rows: list[Row]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for system in ("salesforce", "hubspot", "all"):
        sel = [r for r in rows if system in ("all", r.system)]
        made, minimum = sum(r.made for r in sel), sum(r.minimum for r in sel)
        out[system] = {"made": made, "minimum": minimum,
                       "over_minimum_pct": round(100.0 * (made - minimum) / minimum, 1) if minimum else None}
    return out
