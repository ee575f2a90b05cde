"""Everything a run needs, built from settings: the mapping, the state store, both connectors."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from connectors.base import BatchSizes, CallCounter, MarketingSystem, SalesSystem
from connectors.factory import build_connectors
from connectors.factory import write_sizes as connector_write_sizes
from connectors.retry import RetryPolicy
from mappings import Mapping
from sync.inputs import load_mapping_file
from sync.settings import Settings
from sync.state.store import StateStore

log = logging.getLogger(__name__)


@dataclass
class SyncContext:
    settings: Settings
    mapping: Mapping
    store: StateStore
    counter: CallCounter
    salesforce: SalesSystem  # the SFA ("salesforce" in the mapping)
    hubspot: MarketingSystem  # the MA platform ("hubspot" in the mapping)

    def close(self) -> None:
        self.store.close()


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(max_attempts=settings.sync.max_attempts, max_backoff=settings.sync.max_backoff_seconds)


def open_context(settings: Settings, *, mapping: Mapping | None = None,
                 reset_state: bool = False) -> SyncContext:
    """Load the mapping, open (and migrate) the state store and build both connectors (no I/O to the
    systems yet: the runner logs in when it starts). The MA platform starts from the list ids kept in
    the state store and keeps every id it finds there. `reset_state`: an empty (0-byte) SQLite file
    becomes a new store instead of being refused."""
    mapping = mapping or load_mapping_file(settings.sync.mapping_file)
    counter = CallCounter()
    policy = retry_policy(settings)
    store = StateStore.open(settings.state.url, schema=settings.state.pg_schema, reset_empty=reset_state)
    sf, hs = build_connectors(settings.salesforce, settings.hubspot, counter=counter, policy=policy)
    keep_list_ids(store, hs)
    return SyncContext(settings, mapping, store, counter, sf, hs)


def keep_list_ids(store: StateStore, marketing: MarketingSystem) -> None:
    """The MA platform starts from the list ids kept in the state store and keeps there every id it
    finds, creates or finds gone (called again when the store forgets them: a rebind)."""
    system = marketing.system
    marketing.remember_list_ids(store.list_ids(system), partial(store.set_list_id, system))


def write_sizes(settings: Settings) -> dict[str, BatchSizes]:
    """Records per write call of each system, as its connector sends them (what a run's writer and its
    estimates use), from the settings alone: no connector is built, no credential is needed."""
    return connector_write_sizes(settings.salesforce, settings.hubspot)
