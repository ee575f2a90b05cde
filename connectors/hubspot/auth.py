"""OAuth for a HubSpot public app: access tokens from a refresh token, refreshed before they expire.

HubSpot access tokens last 30 minutes (changelog "Upcoming: Expiration of OAuth access tokens is
changing"; always follow `expires_in`). `OAuthTokens.current()` gives a token that is valid for at
least `REFRESH_MARGIN` more seconds, refreshing it through hubspot-api-client's OAuth API
(`client.oauth.tokens_api.create(grant_type="refresh_token", ...)`, POST /oauth/v1/token) when it is
missing or about to expire; `refresh()` forces one (the transport calls it once after a 401).
A refresh token HubSpot returns replaces the configured one for the rest of the process. Secrets
never appear in errors or logs.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import hubspot

from connectors import retry, wording
from connectors.base import AuthenticationError, CallCounter, ConfigurationError, FatalAPIError
from connectors.hubspot.errors import HUBSPOT_ERRORS
from connectors.hubspot.settings import HubSpotSettings
from connectors.pacing import Clock, Sleep

log = logging.getLogger(__name__)

REFRESH_MARGIN = 300.0  # seconds: a token with less life left than this is refreshed first
ENDPOINT = "oauth_token"


class OAuthTokens:
    """The current access token of a public app (thread-safe)."""

    def __init__(self, client: hubspot.Client, settings: HubSpotSettings, *, counter: CallCounter,
                 policy: retry.RetryPolicy, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        if not (settings.client_id and settings.client_secret and settings.refresh_token):
            raise ConfigurationError("hubspot OAuth needs client_id, client_secret and refresh_token")
        self._client = client
        self._client_id = settings.client_id
        self._client_secret = settings.client_secret
        self._refresh_token = settings.refresh_token.get_secret_value()
        self._timeout = settings.timeout
        self._host = settings.host
        self._counter, self._policy, self._clock, self._sleep = counter, policy, clock, sleep
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> str:
        """An access token valid for at least `REFRESH_MARGIN` more seconds."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN:
                self._refresh_locked()
            assert self._token is not None
            return self._token

    def refresh(self) -> None:
        """Get a new access token now (after HubSpot refused the current one)."""
        with self._lock:
            self._refresh_locked()

    def _refresh_locked(self) -> None:
        api = self._client.oauth.tokens_api

        def attempt() -> Any:
            data, _status, _headers = api.create_with_http_info(
                grant_type="refresh_token", client_id=self._client_id,
                client_secret=self._client_secret.get_secret_value(),  # type: ignore[union-attr]
                refresh_token=self._refresh_token, _request_timeout=self._timeout)
            return data

        try:
            data = retry.call(attempt, system="hubspot", endpoint=ENDPOINT, counter=self._counter,
                              policy=self._policy, errors=HUBSPOT_ERRORS, sleep=self._sleep, where=self._host)
        except FatalAPIError as exc:
            if exc.code == "TLS":
                raise
            raise AuthenticationError(
                f"{wording.label('hubspot', self._host)}: the OAuth token refresh was refused "
                f"(HTTP {exc.status}); re-authorize the app "
                "and set hubspot.refresh_token", status=exc.status, code=exc.code) from None
        token, expires_in = getattr(data, "access_token", None), getattr(data, "expires_in", None)
        if not token or not expires_in:
            raise AuthenticationError("hubspot: the OAuth token answer had no access_token/expires_in")
        self._token = str(token)
        self._expires_at = self._clock() + float(expires_in)
        if getattr(data, "refresh_token", None):
            self._refresh_token = str(data.refresh_token)
        log.info("hubspot: OAuth access token refreshed (valid %ss)", expires_in)


def bearer(token: str) -> dict[str, str]:
    """The `_request_auth` of a generated client call that sends `token` as the bearer token."""
    return {"type": "oauth2", "in": "header", "key": "Authorization", "value": f"Bearer {token}"}
