"""The Salesforce connector: the `SalesSystem` of `connectors.base`, built on simple-salesforce.

Every request goes through the one retry policy (`connectors.retry`), is counted per endpoint in the
run's CallCounter, and updates the daily API budget from `Sforce-Limit-Info`; a batch is not started
when fewer than `daily_reserve` calls remain (BudgetExhausted). The work lives in small modules:
`salesforce_settings` (the settings model), `salesforce_auth` (login), `salesforce_client` (requests,
retries, budget), `salesforce_read` (deals, contacts), `salesforce_write` (field updates, tasks),
`salesforce_campaigns` (lists), `salesforce_bulk` (Bulk API 2.0), `salesforce_describe` (field checks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

import requests

from connectors.base import (
    Allowance,
    BatchSizes,
    CallCounter,
    CallTask,
    ConfigurationError,
    ContactRef,
    FieldUpdate,
    ListChange,
    LostDeal,
    OwnerOutlook,
    Scalar,
    TaskState,
    WriteResult,
)
from connectors.retry import RetryPolicy
from connectors.salesforce import campaigns as salesforce_campaigns
from connectors.salesforce import describe as salesforce_describe
from connectors.salesforce import owners as salesforce_owners
from connectors.salesforce import task_status as salesforce_task_status
from connectors.salesforce import write as salesforce_write
from connectors.salesforce.bulk import BulkOptions
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.read import (
    DealReader,
    RunCache,
    as_text,
    iter_managed,
    parse_datetime,
    read_records,
)
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.task_index import TaskIndex


class SalesforceConnector:
    """Reads deals and contacts from, and writes field values, campaign membership and call tasks to,
    one Salesforce org. Not thread-safe: one connector per run."""

    system: Literal["salesforce"] = "salesforce"
    # sObject Collections: 200 records per request for fields, campaign members and tasks alike
    write_sizes: BatchSizes = BatchSizes(fields=salesforce_write.MAX_COLLECTION,
                                         list_members=salesforce_write.MAX_COLLECTION,
                                         tasks=salesforce_write.MAX_COLLECTION)

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        counter: CallCounter,
        policy: RetryPolicy,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        bulk_options: BulkOptions = BulkOptions(),
    ):
        self.config = settings  # checked (ConfigurationError) on connect()
        # how far before a watermark the runner starts an incremental read (the connector reads from
        # the `since` it is given; see sync.run.streams)
        self.lookback = timedelta(minutes=settings.lookback_minutes)
        self.client = SalesforceClient(
            self.config, counter=counter, policy=policy, session=session, sleep=sleep
        )
        self.bulk_options = bulk_options
        self._campaigns = salesforce_campaigns.CampaignIndex()  # campaigns read once, created this run
        self._tasks = TaskIndex(self.client)  # cycle keys with a Task, read once per run
        # what the deal read learned this run: contacts' current values, users' IsActive (task owners),
        # account owners of inactive-owned lost deals
        self._cache = RunCache()
        self._users_active = self._cache.users_active
        self._org_id: str | None = None  # account_id(), read once
        self._reader = DealReader(
            self.client,
            loss_reason_field=self.config.loss_reason_field,
            bulk_threshold=self.config.bulk_read_threshold,
            bulk_options=bulk_options,
            cache=self._cache,
        )

    def connect(self) -> None:
        """Log in by the configured auth mode (later expiries: one re-login per request, then an error).
        A run starts here: what the connector learned in an earlier run of the same process (campaigns,
        task keys, contact values, owners) is forgotten, so a long-lived process never plans from it."""
        self.client.connect()
        self._campaigns = salesforce_campaigns.CampaignIndex()
        self._tasks = TaskIndex(self.client)
        self._cache = RunCache()
        self._users_active = self._cache.users_active
        self._reader.cache = self._cache

    def account_id(self) -> str:
        """The org's id (18 characters), once per connector: from the login answer when there was one
        (the OAuth token response's identity URL, SOAP login()'s organizationId: no call), else
        `SELECT Id FROM Organization` (one query call; the `session` mode, where no login answers).
        The Organization object is queryable (Object Reference for the Salesforce Platform,
        "Organization": supported calls include query(); PARTLY VERIFIED: the stored copies searched did
        not include that page, see docs/sandbox-salesforce.md)."""
        if self._org_id is None and self.client.login_org_id is not None:
            self._org_id = self.client.login_org_id  # what the login answered: no call
        if self._org_id is None:
            rows = list(self.client.query("SELECT Id FROM Organization LIMIT 1", budgeted=False))
            if not rows or not rows[0].get("Id"):
                raise ConfigurationError("salesforce: the org's id could not be read (SELECT Id FROM "
                                         "Organization returned no row)")
            self._org_id = str(rows[0]["Id"])
        return self._org_id

    # ------------------------------------------------------------------ reads
    def iter_deals(
        self,
        since: datetime | None,
        until: datetime | None = None,
        *,
        lost_only: bool = False,
        page_size: int = 2000,
        contact_fields: Sequence[str] = (),
    ) -> Iterator[LostDeal]:
        """Opportunities with SystemModstamp >= since (and < until), all states unless
        `lost_only`, deleted ones included (is_deleted=True), page by page. In REST mode they come ordered
        by SystemModstamp, Id; with `bulk_read_threshold` set (0, the default, is never) and more matches
        than it, they come from a Bulk API 2.0 job in no particular order, so advance a watermark only
        after the iterator is exhausted.
        `contact_fields`: Contact fields whose current values to read with the people (relationship
        fields, no extra call); `read_current` then answers for those people without a query."""
        yield from self._reader.iter_deals(since, until, lost_only=lost_only, page_size=page_size,
                                           contact_fields=contact_fields)

    def read_contacts(self, ids: Sequence[str], fields: Sequence[str]) -> Iterator[dict]:
        """Contacts by id with `fields` (plus Id), in batched IN queries; unknown ids are skipped."""
        yield from read_records(self.client, "Contact", ids, fields)

    def read_current(self, ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict[str, Scalar]]:
        """Contact id -> the current value of each of `fields` (as Salesforce returns it: text, number,
        bool or None), for the contacts `ids` that exist (unknown ids are left out). Contacts whose
        values this run already read (with the deals, `contact_fields`, or the managed-contacts stream)
        cost nothing; the rest are read in batched IN queries like `read_contacts`."""
        out: dict[str, dict[str, Scalar]] = {}
        rest: list[str] = []
        for cid in ids:
            known = self._cache.current(cid, fields)
            if known is None:
                rest.append(cid)
            else:
                out[cid] = known
        if rest:
            out.update({row["Id"]: {f: row.get(f) for f in fields}
                        for row in read_records(self.client, "Contact", rest, fields)})
        return out

    def iter_managed_contacts(self, fields: Sequence[str], watch: Sequence[str],
                              since: datetime | None) -> Iterator[ContactRef]:
        """Contacts where any of the `watch` fields is set, changed at or after `since`, oldest change
        first, as ContactRefs whose properties hold `fields`' current values as text. Lets a run see
        values edited by hand (keep_manual) without reading every contact."""
        remember = not self._cache.fields or set(fields) == set(self._cache.fields)
        if remember and not self._cache.fields:
            self._cache.fields = tuple(fields)
        for row in iter_managed(self.client, "Contact", fields, watch, since):
            if remember:
                self._cache.remember_contact(row["Id"], row)
            yield ContactRef(row["Id"], None, {f: as_text(row.get(f)) for f in fields},
                             parse_datetime(row["SystemModstamp"]))

    def iter_task_states(self, since: datetime | None, until: datetime | None = None) -> Iterator[TaskState]:
        """The call tasks leadsync created (a cycle key set) changed at or after `since` (and before
        `until`), deleted ones included, ordered by SystemModstamp, Id: one query call per 2,000
        (`salesforce_task_status`)."""
        yield from salesforce_task_status.iter_task_states(self.client, since, until)

    # ------------------------------------------------------------------ writes
    def update_fields(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        self._cache.forget(u.record_id for u in updates if u.object_type == "Contact")
        return salesforce_write.update_fields(
            self.client,
            updates,
            bulk_threshold=self.config.bulk_write_threshold,
            bulk_options=self.bulk_options,
        )

    def change_lists(self, changes: Sequence[ListChange]) -> list[WriteResult]:
        return salesforce_campaigns.change_lists(self.client, changes, self._campaigns)

    def prepare_lists(self, names: Sequence[str]) -> dict[str, str]:
        """Find the campaigns named `names` and create every missing one in one sObject Collections
        POST (the org's campaigns are read once per run, `CampaignIndex`), so that later `change_lists`
        batches, which each name only their own campaigns, create none. Name -> Campaign id of those
        that exist (a creation that failed is left out: its adds fail later with CAMPAIGN_NOT_CREATED).
        The run calls it once, before its first campaign add; a caller that never does still works
        (`change_lists` creates what is missing, one POST per batch that meets new names)."""
        index = self._campaigns
        if not index.loaded:
            index.load(self.client)
        unknown = [n for n in names if n.lower() not in index.ids]
        if unknown and not index.complete:
            index.ids.update(salesforce_campaigns.find_campaigns(self.client, unknown))
        missing = [n for n in names if n.lower() not in index.ids]
        if missing:
            index.ids.update(salesforce_campaigns.ensure_campaigns(
                self.client, missing, known=index.ids if index.complete else None))
        return {n: index.ids[n.lower()] for n in names if n.lower() in index.ids}

    def create_tasks(self, tasks: Sequence[CallTask]) -> list[WriteResult]:
        return salesforce_write.create_tasks(
            self.client, tasks, inactive_owner=self.config.inactive_owner, owner_cache=self._users_active,
            index=self._tasks, account_cache=self._cache.account_owners,
        )

    def check_fields(self, expected: Mapping[str, Mapping[str, Collection[str] | None]]) -> list[str]:
        return salesforce_describe.check_fields(self.client, expected)

    def check_read_fields(self) -> list[str]:
        """The loss-reason field (`loss_reason_field`) exists on Opportunity: the deal read names it."""
        return salesforce_describe.missing_fields(self.client, "Opportunity", [self.config.loss_reason_field])

    def task_owner_outlook(self, lost_since: datetime) -> OwnerOutlook:
        """Deals lost since `lost_since` owned by inactive users, and what `inactive_owner` would do
        with their call tasks (`salesforce_owners.outlook`; reads only)."""
        return salesforce_owners.outlook(self.client, lost_since, self.config.inactive_owner,
                                         self._users_active, self._cache.account_owners)

    # ------------------------------------------------------------------ budget
    def budget(self) -> tuple[int, int] | None:
        """(used, max) daily API requests from the last Sforce-Limit-Info header; None before any call."""
        return self.client.budget()

    def daily_allowance(self) -> Allowance | None:
        """`budget()` as an Allowance (used, limit)."""
        usage = self.client.budget()
        return None if usage is None else Allowance(used=usage[0], limit=usage[1])


for _doc_source, _name in (
    (salesforce_write.update_fields, "update_fields"),
    (salesforce_campaigns.change_lists, "change_lists"),
    (salesforce_write.create_tasks, "create_tasks"),
    (salesforce_describe.check_fields, "check_fields"),
):
    getattr(SalesforceConnector, _name).__doc__ = _doc_source.__doc__
