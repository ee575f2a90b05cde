"""The HubSpot connector: the `MarketingSystem` of `connectors.base` on hubspot-api-client.

    connector = HubSpotConnector(settings.hubspot, counter=counter, policy=RetryPolicy())
    for ref in connector.iter_contacts(since, properties=mapping_properties):
        ...
    results = connector.update_fields(updates)

Every request is paced (`requests_per_10s` rolling, searches at `searches_per_second`), counted per
endpoint in `counter`, retried by `connectors.retry`, and refused once the daily allowance left falls
below `daily_reserve` (`BudgetExhausted`). The pieces: `hubspot_transport` (client, pacing, budget),
`hubspot_read` (the first full read through the list endpoint, search without the 10,000 cap,
archived contacts, batch read by email),
`hubspot_write` (batch update, list membership), `hubspot_setup` (properties, lists).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import hubspot

from connectors.base import (
    Allowance,
    BatchSizes,
    CallCounter,
    ContactRef,
    FieldSpec,
    FieldUpdate,
    ListChange,
    System,
    WriteResult,
)
from connectors.hubspot import account as hubspot_account
from connectors.hubspot import read as hubspot_read
from connectors.hubspot import setup as hubspot_setup
from connectors.hubspot import write as hubspot_write
from connectors.hubspot.auth import OAuthTokens
from connectors.hubspot.settings import HubSpotSettings
from connectors.hubspot.transport import HubSpotPacing, HubSpotTransport, build_client
from connectors.hubspot.write import PropertyRule
from connectors.pacing import Clock, Sleep
from connectors.retry import RetryPolicy

__all__ = ["HubSpotConnector", "HubSpotSettings"]

log = logging.getLogger(__name__)


def _ignore_list_id(name: str, list_id: str | None) -> None:
    """The default `remember_list_ids` callback: list ids live only as long as the connector."""


class HubSpotConnector:
    """Reads contacts from and writes assignments to one HubSpot portal.

    `client` defaults to one built from `settings` (its own retry off). `clock` and `sleep` drive the
    pacers and the retry backoff (inject a `connectors.pacing.VirtualClock` in tests). `lookback`: how
    far before a watermark the runner starts an incremental read (settings' `lookback_minutes`); the
    connector itself reads from the `since` it is given (see sync.run.streams).
    """

    system: System = "hubspot"
    # batch update inputs per call; list member ids per membership call (HubSpot does not take tasks:
    # `tasks` is the batch update size, never used by the writer, which sends tasks to the SFA). The
    # class value has the default membership chunk; an instance follows `settings.membership_chunk`.
    write_sizes: BatchSizes = BatchSizes(fields=hubspot_write.BATCH_UPDATE_SIZE,
                                         list_members=hubspot_write.MEMBERSHIP_CHUNK,
                                         tasks=hubspot_write.BATCH_UPDATE_SIZE)

    @classmethod
    def sizes_for(cls, settings: HubSpotSettings) -> BatchSizes:
        """The `write_sizes` an instance built from `settings` has (no client needed)."""
        return replace(cls.write_sizes, list_members=settings.membership_chunk)

    def __init__(self, settings: HubSpotSettings, *, counter: CallCounter, policy: RetryPolicy,
                 client: hubspot.Client | None = None, clock: Clock = time.monotonic,
                 sleep: Sleep = time.sleep) -> None:
        self.settings = settings
        self.lookback = timedelta(minutes=settings.lookback_minutes)
        self.write_sizes = self.sizes_for(settings)
        self.policy = policy
        self._sleep = sleep
        self.pacing = HubSpotPacing.from_config(settings, clock=clock, sleep=sleep)
        client = client or build_client(settings)
        oauth = (OAuthTokens(client, settings, counter=counter, policy=policy, clock=clock, sleep=sleep)
                 if settings.uses_oauth else None)
        self.transport = HubSpotTransport(
            client, counter=counter, policy=policy, pacing=self.pacing,
            daily_reserve=settings.daily_reserve, timeout=settings.timeout, sleep=sleep, oauth=oauth,
            where=settings.host,
        )
        self._rules: dict[str, PropertyRule] | None = None
        self._list_ids: dict[str, str] = {}
        self._on_list_id: Callable[[str, str | None], None] = _ignore_list_id
        self._portal_id: str | None = None
        self._lock = threading.Lock()

    def connect(self) -> None:
        """Check the access token and the host with one cheap call (a run does this before the
        Salesforce pull, so a refused token is not found after the whole Salesforce read)."""
        hubspot_read.check_access(self.transport)

    # ------------------------------------------------------------------ reads

    def account_id(self) -> str:
        """The portal id (Hub ID) this connector's token belongs to, read once per connector (one call,
        GET /account-info/v3/details)."""
        with self._lock:
            known = self._portal_id
        if known is None:
            known = hubspot_account.portal_id(self.transport)
            with self._lock:
                self._portal_id = known
        return known

    def iter_contacts(self, since: datetime | None, properties: Sequence[str],
                      until: datetime | None = None) -> Iterator[ContactRef]:
        """Contacts with `since <= lastmodifieddate < until`. With a `since`: by search, ascending,
        each once, never meeting the 10,000-result search cap. Without one (a first read, a backfill
        without --since): through the list endpoint, which needs no date filter and is paced by the
        10-second window rather than search's 5 per second, followed by a catch-up search for what
        changed while it ran (see `connectors.hubspot.read`). The caller applies its lookback."""
        if since is None:
            return hubspot_read.iter_everything(self.transport, until, properties)
        return hubspot_read.iter_search(self.transport, since, until, properties)

    def iter_archived(self, since: datetime | None) -> Iterator[ContactRef]:
        """Archived (deleted) contacts archived at or after `since` (`archived=True` on each)."""
        return hubspot_read.iter_archived(self.transport, since)

    def read_by_email(self, emails: Sequence[str], properties: Sequence[str]) -> Iterator[ContactRef]:
        """Contacts by email (batch read, `idProperty=email`, 100 per call); unknown emails skipped."""
        return hubspot_read.iter_by_email(self.transport, emails, properties)

    # ------------------------------------------------------------------ writes

    def update_fields(self, updates: Sequence[FieldUpdate]) -> list[WriteResult]:
        """Batch update (100 per call); one result per input update, in input order. Values are
        checked against the contact property definitions (read once per connector) first."""
        if not updates:
            return []
        return hubspot_write.update_contacts(self.transport, updates, rules=self._property_rules(),
                                             policy=self.policy, sleep=self._sleep)

    def change_lists(self, changes: Sequence[ListChange]) -> list[WriteResult]:
        """Add/remove list members by list name (MANUAL lists; see `ensure_lists`), addressed by list
        id, `membership_chunk` ids per call; one result per change, in input order; merged/deleted
        contacts -> `RECORD_MISSING`."""
        return hubspot_write.change_memberships(self.transport, changes, self._list_id,
                                                chunk_size=self.settings.membership_chunk)

    # ------------------------------------------------------------------ setup

    def ensure_properties(self, definitions: Sequence[FieldSpec], *, create_missing: bool) -> list[str]:
        """Problems left with the custom contact properties for these fields (missing, wrong type,
        missing options); with `create_missing` creates the group, the properties and missing options
        first. Each field's value kind becomes a property type (`hubspot_setup.PROPERTY_TYPES`)."""
        specs = [hubspot_setup.property_spec(d) for d in definitions]
        problems = hubspot_setup.ensure_properties(self.transport, specs, create_missing=create_missing)
        with self._lock:
            self._rules = None  # re-read on the next write: definitions may have changed
        return problems

    def ensure_lists(self, names: Sequence[str], *, create_missing: bool) -> dict[str, str]:
        """name -> list id of the MANUAL lists (created when missing and `create_missing`), found by
        name through the lists search; an id that differs from the one known is reported."""
        found = hubspot_setup.ensure_lists(self.transport, names, create_missing=create_missing)
        with self._lock:
            changed = {n: i for n, i in found.items() if self._list_ids.get(n) != i}
            self._list_ids.update(found)
        for name, list_id in changed.items():
            self._on_list_id(name, list_id)
        return found

    def confirm_lists(self, names: Sequence[str]) -> dict[str, str]:
        """name -> id of the lists `names`, checked before a run plans: the known ids in ONE call
        (a list deleted since is reported gone and looked up by name again), unknown names through
        the lists search. A list renamed in HubSpot keeps its id and so stays leadsync's."""
        with self._lock:
            known = {n: self._list_ids[n] for n in dict.fromkeys(names) if n in self._list_ids}
        alive = hubspot_setup.lists_by_id(self.transport, sorted(set(known.values())))
        for name, list_id in known.items():
            found = alive.get(list_id)
            if found is None:
                self._forget_list(name, list_id)
            elif found.name.casefold() != name.casefold():
                log.info("hubspot: list %r (id %s) is now called %r; leadsync keeps writing to it",
                         name, list_id, found.name)
        with self._lock:
            unknown = [n for n in dict.fromkeys(names) if n not in self._list_ids]
        if unknown:
            self.ensure_lists(unknown, create_missing=False)
        with self._lock:
            return {n: self._list_ids[n] for n in names if n in self._list_ids}

    def remember_list_ids(self, known: Mapping[str, str],
                          on_change: Callable[[str, str | None], None]) -> None:
        """Start from list ids found by earlier runs (name -> id): those lists are addressed by id
        with no lookup by name. `on_change(name, id)` hears every id found or created from then on,
        and `on_change(name, None)` every id HubSpot says is gone (404), before the write that met
        it returns."""
        with self._lock:
            self._list_ids = dict(known)
            self._on_list_id = on_change

    def budget(self) -> tuple[int, int] | None:
        """(remaining, max) daily calls as HubSpot last reported them; None before any answer."""
        return self.transport.budget.snapshot()

    def daily_allowance(self) -> Allowance | None:
        """`budget()` as an Allowance (used, limit): note `budget()` is (remaining, max)."""
        snap = self.transport.budget.snapshot()
        return None if snap is None else Allowance(used=max(0, snap[1] - snap[0]), limit=snap[1])

    # ------------------------------------------------------------------ helpers

    def _property_rules(self) -> dict[str, PropertyRule]:
        with self._lock:
            rules = self._rules
        if rules is None:
            rules = hubspot_setup.read_rules(self.transport)
            with self._lock:
                self._rules = rules
        return rules

    def _list_id(self, name: str, gone: str | None = None) -> str | None:
        """The id of list `name`, known or looked up by name; `gone`: HubSpot answered 404 for this
        id, so it is forgotten (and reported) before the lookup."""
        if gone is not None:
            self._forget_list(name, gone)
        with self._lock:
            known = self._list_ids.get(name)
        if known is not None:
            return known
        found = self.ensure_lists([name], create_missing=False)
        return found.get(name)

    def _forget_list(self, name: str, gone: str) -> None:
        with self._lock:
            forget = self._list_ids.get(name) == gone
            if forget:
                del self._list_ids[name]
        if forget:
            log.warning("hubspot: list %r (id %s) no longer exists; looking it up by name again", name, gone)
            self._on_list_id(name, None)
