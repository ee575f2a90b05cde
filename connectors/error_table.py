"""The shape of one system's error table: what its error codes mean to the one retry layer.

HTTP statuses mean the same for every system (`connectors.retry_classify`: 5xx and 408 retry, 429 is a
rate limit, other 4xx fail); what a system's own error codes and rate-limit policy names mean is data
each connector declares (`connectors/salesforce/errors.py`, `connectors/hubspot/errors.py`) and hands to
`connectors.retry.call`. Per-record codes inside a batch answer are the connectors' own write code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ErrorTable:
    system: str
    retry_codes: frozenset[str] = frozenset()  # transient whatever the status (a row lock)
    relogin_codes: frozenset[str] = frozenset()  # a 401 with one of these: the session expired
    relogin_on_any_401: bool = False  # every 401 is worth one new token (a refreshable OAuth token)
    budget_codes: frozenset[str] = frozenset()  # a 403 with one of these: the day's allowance is spent,
    concurrent_marker: str | None = None  # unless its message holds this: a concurrency limit, wait
    daily_policies: frozenset[str] = frozenset()  # a 429 with one of these policy names: the day is spent
    rate_windows: Mapping[str, float] = field(default_factory=dict)  # 429 policy name -> window seconds
    transient_login_codes: frozenset[str] = frozenset()  # login refusals that are outages, not bad creds


GENERIC = ErrorTable("generic")  # HTTP statuses only
