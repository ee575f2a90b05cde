"""The `[hubspot]` section of settings.toml (env: `LEADSYNC_HUBSPOT__<KEY>`): the one model the
connector, its transport and the settings loader share. Secrets are `SecretStr`.

Authentication is either a private app's `access_token`, or a public app's OAuth `client_id`,
`client_secret` and `refresh_token` (access tokens are then obtained and refreshed by the connector).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class HubSpotSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    access_token: SecretStr | None = None  # private app
    client_id: str | None = None  # public app (OAuth): all three
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    host: str = "https://api.hubapi.com"
    # plain http:// sends the bearer token in clear text: refused unless the host is loopback (the
    # sandbox) or this is set (then every run logs a warning)
    allow_insecure_http: bool = False
    ca_bundle: Path | None = None
    verify_tls: bool = True
    timeout: float = 60.0
    requests_per_10s: int = Field(default=100, ge=1)  # 100 free/starter, 190 pro/enterprise
    searches_per_second: float = Field(default=4.0, gt=0)
    daily_reserve: int = Field(default=5_000, ge=0)
    lookback_minutes: int = Field(default=10, ge=0)  # read by the run (sync/), not the connector
    # record ids per list membership add/remove call. HubSpot documents no maximum for Lists v3; the
    # legacy v1 lists API took "up to 500" per request, so 500 is the assumed safe size
    membership_chunk: int = Field(default=500, ge=1, le=10_000)

    @field_validator("host")
    @classmethod
    def _url(cls, value: str) -> str:
        """A base URL with a scheme and a host (today an empty or bare host failed deep in urllib3)."""
        value = value.strip()
        try:
            parts = urlsplit(value)
            port_ok = parts.port is None or parts.port > 0
            ok = parts.scheme in ("https", "http") and bool(parts.hostname) and port_ok
        except ValueError:  # a port that is not a number
            ok = False
        if not ok or parts.query or parts.fragment:
            raise ValueError(f"must be a URL with a host, such as https://api.hubapi.com (got {value!r})")
        return value

    @model_validator(mode="after")
    def _no_token_in_clear_text(self) -> HubSpotSettings:
        if self.plain_http and not is_loopback(self.host) and not self.allow_insecure_http:
            raise ValueError(f"hubspot.host {self.host!r} is plain http://: the access token would travel in "
                             "clear text. Use https://, or set hubspot.allow_insecure_http = true if the "
                             "network path is yours (loopback hosts are always allowed)")
        return self

    @property
    def plain_http(self) -> bool:
        return urlsplit(self.host).scheme == "http"

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> HubSpotSettings:
        oauth = [self.client_id, self.client_secret, self.refresh_token]
        if any(v is not None for v in oauth):
            if not all(v is not None for v in oauth):
                raise ValueError("hubspot OAuth needs client_id, client_secret and refresh_token together")
            if self.access_token is not None:
                raise ValueError("set either hubspot.access_token (private app) or client_id/client_secret/"
                                 "refresh_token (public app), not both")
        return self

    @property
    def uses_oauth(self) -> bool:
        return self.refresh_token is not None


def is_loopback(url: str) -> bool:
    """Is the host of `url` this machine (localhost, 127.0.0.0/8, ::1)?"""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
