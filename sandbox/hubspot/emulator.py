"""`HubSpotEmulator`: one emulated HubSpot portal (contacts, properties, lists) served over plain HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from ..faults import CallLog, FaultInjector
from ..server import ServerThread
from .app import build_app
from .oauth import TOKEN_TTL, OAuthApps
from .ratelimit import RateLimiter
from .store import ContactStore

BATCH_ERROR_MODES = ("multi_status", "whole_batch")
DEFAULT_PORTAL_ID = 24_100_001  # the sandbox portal's id (Hub ID)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class HubSpotEmulator:
    """A local HubSpot CRM v3 API that hubspot-api-client 12 works against unchanged:

        emu = HubSpotEmulator()
        server = emu.serve()            # started; server.url is http://127.0.0.1:PORT
        client = hubspot.Client.create(access_token="sandbox-token", host=server.url)

    `store` is the Python handle (seed, inspect; bypasses limits, faults and call counting),
    `calls` counts API calls per endpoint name, `faults` injects failures by endpoint name.
    `clock` supplies "now" for timestamps and for the rate-limit windows.

    `batch_errors`: how batch update answers inputs it cannot apply. "multi_status" (default, what
    HubSpot documents): 207 with the good inputs applied and the bad ones in `errors`. "whole_batch":
    nothing is applied and the whole call answers 400, as client-library issues report; unknown,
    archived or merged-away ids are named in the message, invalid values are not (see batch.py).
    `membership_max_ids`: record ids accepted per list membership call (the real maximum is
    undocumented; 500 assumed from the legacy lists API), more is a 400 VALIDATION_ERROR.
    `oauth`: public apps (`emu.oauth.add_app(client_id, secret, refresh_token)`); POST /oauth/v1/token
    issues access tokens that expire after `token_ttl` seconds (see oauth.py). `tokens` are private
    app tokens: they never expire.
    `search_lag`: seconds before a write shows in search (HubSpot: "It may take a few moments for newly
    created or updated CRM objects to appear in search results", search guide; no number is given).
    Until then search sees the contact as it was (a new one not at all); reads by id, batch reads and
    paging see writes at once. Default 0 (search is current).
    """

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("sandbox-token",),
        faults: FaultInjector | None = None,
        requests_per_10s: int = 190,
        daily_limit: int = 1_000_000,
        searches_per_second: float = 5.0,
        retry_after_on_429: bool = True,
        batch_errors: str = "multi_status",
        membership_max_ids: int = 500,
        token_ttl: int = TOKEN_TTL,
        search_lag: float = 0.0,
        clock: Callable[[], datetime] | None = None,
        portal_id: int = DEFAULT_PORTAL_ID,
    ):
        self.tokens = frozenset(tokens)
        self.faults = faults if faults is not None else FaultInjector()
        self.clock = clock or _utc_now
        self.retry_after_on_429 = retry_after_on_429
        if batch_errors not in BATCH_ERROR_MODES:
            raise ValueError(f"batch_errors must be one of {BATCH_ERROR_MODES}, got {batch_errors!r}")
        self.batch_errors = batch_errors
        self.membership_max_ids = membership_max_ids
        self.oauth = OAuthApps(token_ttl=token_ttl)
        self.calls = CallLog()
        self.limiter = RateLimiter(
            requests_per_10s=requests_per_10s,
            daily_limit=daily_limit,
            searches_per_second=searches_per_second,
            clock=self.clock,
        )
        self.store = ContactStore(self.clock, search_lag=search_lag)
        self.portal_id = portal_id  # GET /account-info/v3/details
        self.app = build_app(self)

    def reset(self, *, portal_id: int | None = None) -> None:
        """Forget all contacts, lists and custom properties, call counts and rate-limit usage
        (fault rules stay; clear them with `emu.faults.clear()`). `portal_id`: come back as another
        portal (default: the sandbox's usual portal, `DEFAULT_PORTAL_ID`)."""
        self.portal_id = DEFAULT_PORTAL_ID if portal_id is None else portal_id
        self.store.reset()
        self.calls.reset()
        self.limiter.reset()

    def serve(self, port: int = 0) -> ServerThread:
        """Serve on 127.0.0.1:`port` (0: a free port) in a background thread; returns the started server."""
        return ServerThread(self.app, port=port, name="hubspot").start()
