"""OAuth for public apps: `POST /oauth/v1/token` with `grant_type=refresh_token`, and access tokens
that expire.

Tokens live `token_ttl` seconds (HubSpot: 30 minutes, `expires_in: 1800`; changelog "Upcoming:
Expiration of OAuth access tokens is changing"). An expired token is answered 401
`EXPIRED_AUTHENTICATION` ("The OAuth token used to make this call expired N second(s) ago."). A bad
refresh token or client is a 400 with the RFC 6749 keys and HubSpot's legacy ones together
(`{"error":"invalid_grant","error_description":...,"status":"BAD_REFRESH_TOKEN","message":...}`,
changelog "New OAuth v3 API Endpoints and Standardized Error Responses"). Refresh tokens are not
rotated (HubSpot returns the same one). Only the refresh_token grant is served.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request

from .http import Reply

TOKEN_TTL = 1800  # seconds


@dataclass
class OAuthApps:
    """Public apps (client id -> secret), their refresh tokens and the access tokens issued."""

    token_ttl: int = TOKEN_TTL
    clients: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> client id
    issued: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # token -> (client, expiry)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def add_app(self, client_id: str, client_secret: str, refresh_token: str) -> None:
        with self._lock:
            self.clients[client_id] = client_secret
            self.refresh_tokens[refresh_token] = client_id

    def issue(self, client_id: str, now: datetime) -> str:
        token = "oauth-" + secrets.token_hex(16)
        with self._lock:
            self.issued[token] = (client_id, now + timedelta(seconds=self.token_ttl))
        return token

    def check(self, token: str, now: datetime) -> tuple[str | None, int]:
        """(client id, seconds since expiry): client None when the token was never issued; expired
        when seconds > 0."""
        with self._lock:
            found = self.issued.get(token)
        if found is None:
            return None, 0
        client, expiry = found
        return client, int((now - expiry).total_seconds()) if now >= expiry else 0


def _refused(error: str, status: str, message: str) -> Reply:
    return Reply(400, {"error": error, "error_description": message, "status": status, "message": message})


async def token(request: Request, apps: OAuthApps, now: datetime) -> Reply:
    form: dict[str, Any] = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    if form.get("grant_type") != "refresh_token":
        return _refused("unsupported_grant_type", "BAD_GRANT_TYPE", "grant_type must be refresh_token here")
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if apps.clients.get(client_id) is None:
        return _refused("invalid_client", "BAD_CLIENT_ID", "missing or unknown client id")
    if not secrets.compare_digest(apps.clients[client_id], secret):
        return _refused("invalid_client", "BAD_CLIENT_SECRET", "missing or invalid client secret")
    refresh = form.get("refresh_token", "")
    if apps.refresh_tokens.get(refresh) != client_id:
        return _refused("invalid_grant", "BAD_REFRESH_TOKEN", "refresh token is invalid, expired or revoked")
    return Reply(200, {"token_type": "bearer", "refresh_token": refresh,
                       "access_token": apps.issue(client_id, now), "expires_in": apps.token_ttl})
