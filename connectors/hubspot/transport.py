"""How leadsync talks to HubSpot: the configured client, pacing, the daily budget, one retry layer.

Every HubSpot request of the connector goes through `HubSpotTransport.request`, which

1. refuses to start when the daily allowance left is below the configured reserve (`BudgetExhausted`,
   so a run stops between batches, never inside one);
2. for each attempt, waits for the client-side pacers (search calls: `searches_per_second`; all calls:
   `requests_per_10s`, rolling);
3. runs the attempt under `connectors.retry.call` (counted per endpoint, 429/5xx/dropped connections
   retried, Retry-After honoured);
4. reads the `X-HubSpot-RateLimit-Daily` / `-Daily-Remaining` headers of every answer;
5. with a public app (OAuth), sends the current access token (`connectors.hubspot.auth`), refreshed
   before it expires and once after a 401.

The hubspot-api-client's own urllib3 retry is switched off (`Retry(total=False)`): urllib3 then raises
connection errors at once instead of retrying some methods silently, so retries live in one place.

The client builds a new `Configuration`, `ApiClient` and urllib3 pool every time an API object is
asked for (`client.crm.contacts.batch_api` is a property), i.e. on every request: no kept-alive
connection, a TLS handshake, a package-metadata read and logger resets per call. `build_client` gives
it `ReusedApis` as its `api_factory` instead: each API object is built once per client and settings.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import hubspot
import urllib3
from hubspot.discovery.discovery_base import DiscoveryBase
from urllib3.util.retry import Retry

from connectors import retry, wording
from connectors.base import (
    BudgetExhausted,
    CallCounter,
    ConfigurationError,
    FatalAPIError,
    RetriableAPIError,
)
from connectors.hubspot.auth import OAuthTokens, bearer
from connectors.hubspot.errors import HUBSPOT_ERRORS, HUBSPOT_OAUTH_ERRORS
from connectors.hubspot.settings import HubSpotSettings, is_loopback
from connectors.pacing import Clock, IntervalLimiter, Limiter, RollingWindowLimiter, Sleep

log = logging.getLogger(__name__)

T = TypeVar("T")
SYSTEM = "hubspot"
DAILY_MAX_HEADER = "X-HubSpot-RateLimit-Daily"
DAILY_REMAINING_HEADER = "X-HubSpot-RateLimit-Daily-Remaining"
WINDOW_MARGIN = 0.05  # seconds added to the 10-second window's edge
SEARCH_MARGIN = 0.01  # seconds added to the spacing of search calls


class ReusedApis:
    """An `api_factory` for `hubspot.Client` that builds each API object (with its `Configuration`,
    `ApiClient` and urllib3 pool) once and hands the same one out afterwards, so requests reuse
    connections. Keyed by the client's settings too: a client whose token or host is changed gets
    new objects.

    Sharing is safe across threads: the `Configuration` is only read after it is built, urllib3's
    pool manager is thread-safe, and per-request values (the OAuth bearer header, timeouts) are
    passed with each call (`_request_auth`), never stored on the shared objects. The one mutable
    attribute, `ApiClient.last_response`, is not read by leadsync."""

    def __init__(self) -> None:
        self._apis: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, package: Any, api_name: str, config: Mapping[str, Any]) -> Any:
        key = (package.__name__, api_name, *sorted((k, _identity(v)) for k, v in config.items()))
        with self._lock:
            api = self._apis.get(key)
            if api is None:
                api = self._apis[key] = DiscoveryBase._default_api_factory(package, api_name, dict(config))
            return api


def _identity(value: Any) -> Any:
    """A hashable stand-in for a settings value: itself when it is a plain value, else its id."""
    return value if isinstance(value, str | int | float | bool | None) else ("id", id(value))


def build_client(config: HubSpotSettings) -> hubspot.Client:
    """A hubspot-api-client pointed at `config.host`, with TLS settings and its own retry off, whose
    API objects are built once (`ReusedApis`). With OAuth settings it holds no token: each request
    carries the current one (`HubSpotTransport`)."""
    token = config.access_token.get_secret_value() if config.access_token is not None else None
    if not token and not config.uses_oauth:
        raise ConfigurationError("hubspot.access_token is not set (a private app access token), nor "
                                 "client_id/client_secret/refresh_token (a public app)")
    options: dict[str, Any] = {
        "access_token": token or None,
        "host": config.host.rstrip("/"),
        "retry": Retry(total=False),  # never None: the client would fall back to urllib3's default
        "verify_ssl": config.verify_tls,
        "api_factory": ReusedApis(),
    }
    if config.ca_bundle is not None:
        options["ssl_ca_cert"] = str(config.ca_bundle)
    if not config.verify_tls:
        log.warning("TLS verification is OFF for HubSpot (hubspot.verify_tls = false)")
    if config.plain_http and not is_loopback(config.host):
        log.warning("HubSpot at %s is plain http://: the access token travels in clear text "
                    "(hubspot.allow_insecure_http = true)", wording.base_url(config.host))
    return hubspot.Client.create(**options)


@dataclass
class HubSpotPacing:
    """The client-side limiters: `requests` paces every call, `searches` paces search calls on top
    (each with a small safety margin). Their `on_start` hooks show when each call started."""

    requests: Limiter
    searches: Limiter

    @classmethod
    def from_config(cls, config: HubSpotSettings, *, clock: Clock = time.monotonic,
                    sleep: Sleep = time.sleep) -> HubSpotPacing:
        return cls(
            requests=RollingWindowLimiter(config.requests_per_10s, 10.0, margin=WINDOW_MARGIN,
                                          clock=clock, sleep=sleep),
            searches=IntervalLimiter(config.searches_per_second, margin=SEARCH_MARGIN, clock=clock,
                                     sleep=sleep),
        )


class DailyBudget:
    """The daily allowance as last reported by HubSpot. Answers without the headers (search) count
    one call down from the last known value. Thread-safe."""

    def __init__(self) -> None:
        self._remaining: int | None = None
        self._max: int | None = None
        self._lock = threading.Lock()

    def observe(self, headers: Mapping[str, str] | Any | None) -> None:
        remaining = _int_header(headers, DAILY_REMAINING_HEADER)
        maximum = _int_header(headers, DAILY_MAX_HEADER)
        with self._lock:
            if maximum is not None:
                self._max = maximum
            if remaining is not None:
                self._remaining = remaining
            elif self._remaining is not None:
                self._remaining = max(0, self._remaining - 1)

    def snapshot(self) -> tuple[int, int] | None:
        with self._lock:
            if self._remaining is None or self._max is None:
                return None
            return self._remaining, self._max

    def check(self, reserve: int, endpoint: str) -> None:
        """Raise `BudgetExhausted` when fewer than `reserve` calls are left for today."""
        with self._lock:
            remaining = self._remaining
        if remaining is not None and remaining < reserve:
            raise BudgetExhausted(
                f"hubspot: {remaining} API calls left today, below the reserve of {reserve}; "
                f"stopping before {endpoint}"
            )


def _int_header(headers: Mapping[str, str] | Any | None, name: str) -> int | None:
    if not headers:
        return None
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    if value is None:
        lname = name.lower()
        value = next((v for k, v in dict(headers).items() if str(k).lower() == lname), None)
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


class HubSpotTransport:
    """Runs client calls paced, budgeted, counted and retried. `request` takes a generated client's
    `*_with_http_info` method and returns `(data, status)`."""

    def __init__(self, client: hubspot.Client, *, counter: CallCounter, policy: retry.RetryPolicy,
                 pacing: HubSpotPacing, daily_reserve: int, timeout: float | None,
                 sleep: Sleep = time.sleep, oauth: OAuthTokens | None = None,
                 where: str | None = None) -> None:
        self.client = client
        self.where = where  # the host, for error messages ("HubSpot at https://...: ...")
        self.oauth = oauth
        self.counter = counter
        self.policy = policy
        self.pacing = pacing
        self.daily_reserve = daily_reserve
        self.timeout = timeout
        self.budget = DailyBudget()
        self._sleep = sleep

    def request(self, endpoint: str, method: Callable[..., Any], *args: Any, search: bool = False,
                raw: bool = False, **kwargs: Any) -> tuple[Any, int]:
        """Call `method(*args, **kwargs)` (a `*_with_http_info` method) under pacing and the retry
        policy; `endpoint` names it in the call counter. Returns `(data, status)`: the client's model
        object, or with `raw` the decoded JSON body (skips the client's slow model deserialization,
        which parses every timestamp with dateutil; worth it on search and batch pages)."""
        self.budget.check(self.daily_reserve, endpoint)
        if self.timeout:
            kwargs["_request_timeout"] = self.timeout
        if raw:
            kwargs["_preload_content"] = False

        def attempt() -> tuple[Any, int]:
            if search:
                self.pacing.searches.acquire()
            self.pacing.requests.acquire()
            if self.oauth is not None:
                kwargs["_request_auth"] = bearer(self.oauth.current())
            try:
                if raw:
                    data, status, headers = _read_raw(method(*args, **kwargs))
                else:
                    data, status, headers = method(*args, **kwargs)
            except AttributeError as exc:
                if _tls_failure(exc):  # the client's own error handler fails on an SSL error's empty body
                    raise FatalAPIError(f"{wording.tls_sentence(SYSTEM, self.where, exc)} ({endpoint})",
                                        code="TLS") from None
                raise
            except Exception as exc:
                self.budget.observe(getattr(exc, "headers", None))
                raise
            self.budget.observe(headers)
            return data, status

        if self.oauth is None:
            return retry.call(attempt, system=SYSTEM, endpoint=endpoint, counter=self.counter,
                              policy=self.policy, errors=HUBSPOT_ERRORS, sleep=self._sleep, where=self.where)
        return retry.call(attempt, system=SYSTEM, endpoint=endpoint, counter=self.counter,
                          policy=self.policy, errors=HUBSPOT_OAUTH_ERRORS, relogin=self.oauth.refresh,
                          sleep=self._sleep, where=self.where)


def _tls_failure(exc: BaseException) -> bool:
    """Is an SSL error somewhere in this exception's chain? (hubspot-api-client turns one into an
    ApiException with status 0 and no body, then raises AttributeError handling it.)"""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLError | urllib3.exceptions.SSLError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _read_raw(response: Any) -> tuple[Any, int, Any]:
    """(decoded JSON or None, status, headers) of an unread urllib3 response (a 2xx: the client
    raised already for anything else). Reading happens here, inside the attempt, so a connection
    dropped mid-body is retried like any other dropped connection."""
    try:
        body = response.data
    finally:
        response.release_conn()
    try:
        data = json.loads(body) if body else None
    except ValueError as exc:
        raise RetriableAPIError(f"undecodable response body (HTTP {response.status})",
                                status=response.status) from exc
    return data, response.status, response.headers
