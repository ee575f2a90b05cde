"""The org and portal a state store belongs to, checked at the start of every run.

On first use the store is bound to the SFA account (Salesforce org id) and the MA account (HubSpot
portal id) the run reached. Afterwards a run that reaches another account stops before it reads or
writes anything: the store's memory of what leadsync wrote (values, memberships, tasks, list ids) is
true of the bound account only, and trusting it elsewhere makes every run write nothing while
reporting `ok`. Rebinding is on purpose only (`leadsync sync --rebind`): it forgets what the store
believed of the old account, so the next plan writes everything again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from connectors.base import ConfigurationError, MarketingSystem, SalesSystem
from sync.run.context import keep_list_ids
from sync.state.store import StateStore

log = logging.getLogger(__name__)

ACCOUNT_WORDS = {"salesforce": "Salesforce org", "hubspot": "HubSpot portal"}


class StateBoundElsewhere(ConfigurationError):
    """The state store belongs to another org or portal than the settings reach (exit 2)."""


def check(store: StateStore, sales: SalesSystem, marketing: MarketingSystem, *, rebind: bool = False) -> None:
    """Bind the store on first use; raise StateBoundElsewhere on a mismatch (unless `rebind`, which
    forgets what the store believed of the old account and binds the new one)."""
    reached = {"salesforce": sales.account_id(), "hubspot": marketing.account_id()}
    bound = store.bindings()
    mismatched = {system: (bound[system], now) for system, now in reached.items()
                  if system in bound and bound[system] != now}
    if mismatched and not rebind:
        raise StateBoundElsewhere(mismatch_message(store.url, mismatched))
    for system, now in reached.items():
        if system in mismatched:
            removed = store.bind(system, now, forget=True)
            log.warning("state rebound from %s %s to %s (forgot %s)", ACCOUNT_WORDS[system],
                        mismatched[system][0], now, _summary(removed))
            if system == marketing.system:  # its list ids were the old portal's: drop them there too
                keep_list_ids(store, marketing)
        elif system not in bound:
            store.bind(system, now)
            log.info("state bound to %s %s", ACCOUNT_WORDS[system], now)


def mismatch_message(url: str, mismatched: Mapping[str, tuple[str, str]]) -> str:
    parts = [f"{ACCOUNT_WORDS[system]} {was}, but the settings reach {ACCOUNT_WORDS[system]} {now}"
             for system, (was, now) in sorted(mismatched.items(), reverse=True)]
    return (f"the state store {url} belongs to {'; and to '.join(parts)} (a sandbox refresh, a restored "
            "portal, or settings pointed elsewhere?). What it remembers writing is not in this account, "
            "so nothing was read or written. To start afresh, point state.url at a new state file; to "
            "bind this state to the new account on purpose (it forgets what it wrote to the old one and "
            "writes everything again), run `leadsync sync --rebind`.")


def _summary(removed: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {table}" for table, n in removed.items() if n) or "nothing"
