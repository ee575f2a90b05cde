"""HubSpot's error categories and rate-limit policies as the retry layer reads them (HubSpot API
usage guidelines: a 429 body names `policyName` DAILY, TEN_SECONDLY_ROLLING or SECONDLY; an expired
OAuth token answers 401 with category EXPIRED_AUTHENTICATION)."""

from __future__ import annotations

from dataclasses import replace

from connectors.error_table import ErrorTable

HUBSPOT_ERRORS = ErrorTable(
    "hubspot",
    relogin_codes=frozenset({"EXPIRED_AUTHENTICATION"}),
    daily_policies=frozenset({"DAILY"}),
    rate_windows={"TEN_SECONDLY_ROLLING": 10.0, "SECONDLY": 1.0},
)
# With a public app's OAuth token any 401 gets one refresh (the token may have been revoked or rotated,
# not only expired); a second 401 after it is an AuthenticationError.
HUBSPOT_OAUTH_ERRORS = replace(HUBSPOT_ERRORS, relogin_on_any_401=True)
