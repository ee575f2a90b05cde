"""Nurture lists as Salesforce Campaign membership.

Campaigns are found by name in one query (names compare case-insensitively, as SOQL does); missing
campaigns for adds are created. Adds create CampaignMember rows through sObject Collections (a
DUPLICATE_VALUE answer means "already a member": success). Removes look the member rows up with IN
queries and delete them through Collections (a member that is already gone: success).

Creating a campaign is the one write that a blind retry could duplicate (a POST whose answer was lost),
so it is attempted once per round and followed by a fresh lookup by name before any new attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from simple_salesforce import format_soql

from connectors.base import ListChange, RetriableAPIError, WriteResult
from connectors.retry import backoff_delay
from connectors.salesforce.client import COLLECTIONS, SalesforceClient
from connectors.salesforce.read import MAX_IN_IDS, chunks
from connectors.salesforce.write import collections, delete_records, in_batches, record_result

log = logging.getLogger(__name__)

LEAD_PREFIX = "00Q"
CAMPAIGN_PAGE = 2000  # the REST query's largest page


def _add(found: dict[str, str], rows: Iterable[Mapping[str, Any]]) -> None:
    """Campaign rows (oldest first) into lower name -> id; with duplicates the oldest wins (a warning)."""
    for row in rows:
        key = str(row["Name"]).lower()
        if key in found:
            if found[key] != row["Id"]:
                log.warning(
                    "salesforce: more than one campaign is named %r; using the oldest (%s)",
                    row["Name"],
                    found[key],
                )
            continue
        found[key] = row["Id"]


def find_campaigns(client: SalesforceClient, names: Sequence[str]) -> dict[str, str]:
    """lower-cased name -> Campaign id; with duplicates, the oldest campaign wins (and a warning)."""
    found: dict[str, str] = {}
    for chunk in chunks(sorted(set(names)), MAX_IN_IDS):
        soql = format_soql(
            "SELECT Id, Name FROM Campaign WHERE Name IN {} ORDER BY CreatedDate, Id", list(chunk)
        )
        _add(found, client.query(soql))
    return found


class CampaignIndex:
    """lower campaign name -> id for one run. The first use reads the org's campaigns as one query
    (oldest first; one page holds 2,000): when they all fit, every later name is answered from memory
    and a name not there is known to be missing (created without another lookup). An org with more
    campaigns than one page keeps what the page held and looks other names up by IN list, as before."""

    def __init__(self) -> None:
        self.ids: dict[str, str] = {}
        self.loaded = False
        self.complete = False  # `ids` holds every campaign the org had when read (plus those created)

    def load(self, client: SalesforceClient) -> None:
        self.loaded = True
        pages = client.query_pages("SELECT Id, Name FROM Campaign ORDER BY CreatedDate, Id",
                                   page_size=CAMPAIGN_PAGE)
        try:
            page = next(pages, [])
            _add(self.ids, page)
            self.complete = (client.last_total_size or 0) <= len(page)
        finally:
            pages.close()


def ensure_campaigns(client: SalesforceClient, names: Sequence[str],
                     known: Mapping[str, str] | None = None) -> dict[str, str]:
    """Find the campaigns named `names`, creating the missing ones (active). lower name -> id.
    `known`: what a complete lookup just found (lower name -> id), so the first lookup is skipped; a
    failed creation is still followed by a fresh lookup."""
    wanted = sorted({n for n in names}, key=str.lower)
    found = dict(known) if known is not None else find_campaigns(client, wanted)
    single = replace(client.policy, max_attempts=1)
    for round_ in range(1, client.policy.max_attempts + 1):
        missing = list({n.lower(): n for n in wanted if n.lower() not in found}.values())
        if not missing:
            return found
        client.check_budget()
        records = [{"attributes": {"type": "Campaign"}, "Name": n, "IsActive": True} for n in missing]
        try:
            body = {"allOrNone": False, "records": records}
            response = client.call(
                COLLECTIONS,
                lambda body=body: client.sf.restful("composite/sobjects", method="POST", json=body),
                policy=single,
            )
        except RetriableAPIError as exc:
            log.warning(
                "creating %d campaign(s) failed (%s); looking them up again before retrying",
                len(missing),
                exc,
            )
            client.sleep(backoff_delay(client.policy, round_))
            found = find_campaigns(client, wanted)
            continue
        for name, item in zip(missing, response or [], strict=False):
            result = record_result(name, item, keep_id=True)
            if result.ok and result.created_id:
                found[name.lower()] = result.created_id
                log.info("salesforce: created campaign %r (%s)", name, result.created_id)
            else:
                log.warning(
                    "salesforce: could not create campaign %r: %s %s", name, result.error_code, result.message
                )
        return found
    return found


def _member_record(campaign_id: str, record_id: str) -> dict[str, object]:
    ref = "LeadId" if record_id.startswith(LEAD_PREFIX) else "ContactId"
    return {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign_id, ref: record_id}


def _members(
    client: SalesforceClient, campaign_ids: Sequence[str], record_ids: Sequence[str]
) -> dict[tuple[str, str], str]:
    """(campaign id, contact/lead id) -> CampaignMember id, in IN-list queries."""
    out: dict[tuple[str, str], str] = {}
    for chunk in chunks(sorted(set(record_ids)), MAX_IN_IDS):
        leads = [r for r in chunk if r.startswith(LEAD_PREFIX)]
        contacts = [r for r in chunk if not r.startswith(LEAD_PREFIX)]
        who = []
        if contacts:
            who.append(format_soql("ContactId IN {}", contacts))
        if leads:
            who.append(format_soql("LeadId IN {}", leads))
        soql = (
            format_soql(
                "SELECT Id, CampaignId, ContactId, LeadId FROM CampaignMember WHERE CampaignId IN {} AND ",
                sorted(set(campaign_ids)),
            )
            + f"({' OR '.join(who)})"
        )
        for row in client.query(soql):
            out[(row["CampaignId"], row.get("ContactId") or row.get("LeadId"))] = row["Id"]
    return out


def change_lists(client: SalesforceClient, changes: Sequence[ListChange],
                 index: CampaignIndex | None = None) -> list[WriteResult]:
    """Apply adds and removes; one WriteResult per change (record_id = the contact/lead id), in order.
    Removes are applied before adds. `index` (one per run) caches campaigns across calls: the org's
    campaigns are read once (`CampaignIndex`); only names it cannot answer are looked up (or created),
    and what is found or created is added to it."""
    results: list[WriteResult | None] = [None] * len(changes)
    adds = [i for i, c in enumerate(changes) if c.op == "add"]
    removes = [i for i, c in enumerate(changes) if c.op == "remove"]
    idx = index if index is not None else CampaignIndex()
    if index is not None and not idx.loaded:
        idx.load(client)
    cache = idx.ids
    names = {c.list_name.lower(): c.list_name for c in changes}
    unknown = [name for low, name in names.items() if low not in cache]
    if unknown and not idx.complete:
        cache.update(find_campaigns(client, unknown))
    add_names = [changes[i].list_name for i in adds if changes[i].list_name.lower() not in cache]
    if add_names:
        cache.update(ensure_campaigns(client, add_names, known=cache if idx.complete else None))
    campaigns = {low: cache[low] for low in names if low in cache}

    # ---- removes
    remove_ids = [i for i in removes if changes[i].list_name.lower() in campaigns]
    for i in removes:
        if i not in remove_ids:
            results[i] = WriteResult(changes[i].record_id, ok=True, message="no such campaign: not a member")
    if remove_ids:
        members = _members(
            client,
            [campaigns[changes[i].list_name.lower()] for i in remove_ids],
            [changes[i].record_id for i in remove_ids],
        )
        to_delete: dict[str, list[int]] = {}
        for i in remove_ids:
            key = (campaigns[changes[i].list_name.lower()], changes[i].record_id)
            member = members.get(key)
            if member is None:
                results[i] = WriteResult(changes[i].record_id, ok=True, message="not a member")
            else:
                to_delete.setdefault(member, []).append(i)
        deleted = delete_records(client, list(to_delete))
        for member_id, result in zip(to_delete, deleted, strict=True):
            for i in to_delete[member_id]:
                results[i] = replace(result, record_id=changes[i].record_id)

    # ---- adds
    pending: list[int] = []
    for i in adds:
        if changes[i].list_name.lower() in campaigns:
            pending.append(i)
        else:
            results[i] = WriteResult(
                changes[i].record_id,
                ok=False,
                error_code="CAMPAIGN_NOT_CREATED",
                message=f"campaign {changes[i].list_name!r} could not be created",
            )

    def submit(batch: Sequence[int]) -> list[WriteResult]:
        records = [
            _member_record(campaigns[changes[i].list_name.lower()], changes[i].record_id) for i in batch
        ]
        items = collections(client, "POST", records)
        return [
            record_result(changes[i].record_id, r, ok_codes=frozenset({"DUPLICATE_VALUE"}), keep_id=True)
            for i, r in zip(batch, items, strict=True)
        ]

    for i, result in zip(
        pending, in_batches(client, pending, submit, key=lambda i: changes[i].list_name), strict=True
    ):
        results[i] = result
    return [r for r in results if r is not None]
