"""Build a run's connectors from their settings: the one module that names the connector classes.

`sync` types its connectors with the role Protocols of `connectors.base` (`SalesSystem` for the SFA,
`MarketingSystem` for the MA platform) and gets them here, so it imports no connector class. Another
SFA or MA platform is one more connector module and one more choice in this file.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from connectors.base import CallCounter, MarketingSystem, SalesSystem
from connectors.hubspot.connector import HubSpotConfig, HubSpotConnector
from connectors.retry import RetryPolicy
from connectors.salesforce.auth import SalesforceSettingsLike
from connectors.salesforce.connector import SalesforceConnector


class HubSpotSettingsLike(HubSpotConfig, Protocol):
    """The HubSpot settings with the lookback the runner applies to HubSpot's streams."""

    @property
    def lookback_minutes(self) -> int: ...


def build_connectors(salesforce_settings: SalesforceSettingsLike, hubspot_settings: HubSpotSettingsLike, *,
                     counter: CallCounter, policy: RetryPolicy) -> tuple[SalesSystem, MarketingSystem]:
    """The SFA and MA connectors of one run, sharing the run's call counter and retry policy, each with
    the `lookback` of its settings. No I/O: the SFA logs in on `connect()`, the MA platform on its
    first request."""
    sales = SalesforceConnector(salesforce_settings, counter=counter, policy=policy)
    marketing = HubSpotConnector(hubspot_settings, counter=counter, policy=policy,
                                 lookback=timedelta(minutes=hubspot_settings.lookback_minutes))
    return sales, marketing
