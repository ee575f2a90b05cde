"""Build a run's connectors from their settings: the one module that names the connector classes.

`sync` types its connectors with the role Protocols of `connectors.base` (`SalesSystem` for the SFA,
`MarketingSystem` for the MA platform) and gets them here, so it imports no connector class. Another
SFA or MA platform is one more connector module and one more choice in this file.
"""

from __future__ import annotations

from connectors.base import BatchSizes, CallCounter, MarketingSystem, SalesSystem
from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.settings import HubSpotSettings
from connectors.retry import RetryPolicy
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.settings import SalesforceSettings


def build_connectors(salesforce_settings: SalesforceSettings, hubspot_settings: HubSpotSettings, *,
                     counter: CallCounter, policy: RetryPolicy) -> tuple[SalesSystem, MarketingSystem]:
    """The SFA and MA connectors of one run, sharing the run's call counter and retry policy, each with
    the `lookback` of its settings. No I/O: the SFA logs in on `connect()`, the MA platform on its
    first request."""
    sales = SalesforceConnector(salesforce_settings, counter=counter, policy=policy)
    marketing = HubSpotConnector(hubspot_settings, counter=counter, policy=policy)
    return sales, marketing


def write_sizes(salesforce_settings: SalesforceSettings,
                hubspot_settings: HubSpotSettings) -> dict[str, BatchSizes]:
    """Records per write call of each system, as the connectors `build_connectors` makes send them,
    without building them (no credentials needed: for estimates made offline). The SFA's sizes do not
    depend on its settings."""
    return {SalesforceConnector.system: SalesforceConnector.write_sizes,
            HubSpotConnector.system: HubSpotConnector.sizes_for(hubspot_settings)}
