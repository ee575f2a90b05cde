"""Salesforce configuration and login: one `simple_salesforce.Salesforce` per auth mode.

leadsync logs in itself (simple-salesforce's `SalesforceLogin`) and hands the client a session id and
instance URL. The client therefore never re-logs-in on its own (it would retry a 401 up to three times
behind our back): re-login is the retry policy's job (`connectors.retry.call`, once per expiry).

Auth modes:
  password            username + password (+ security token): SOAP login; with consumer key and secret
                      instead of a token: the OAuth username-password flow
  jwt                 OAuth JWT bearer: username + consumer key + private key file
  client_credentials  OAuth client credentials: consumer key + secret; needs a My Domain (`domain`)
  session             a given session id + instance URL (no re-login possible)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import requests
from simple_salesforce import Salesforce, SalesforceLogin

from connectors.base import ConfigurationError
from connectors.salesforce.transport import build_session

AuthMode = Literal["password", "jwt", "client_credentials", "session"]
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


class SalesforceSettingsLike(Protocol):
    """What the connector reads from settings (`sync.settings.SalesforceSettings` satisfies it).
    Secret attributes may be pydantic `SecretStr` or plain strings."""

    auth: str
    domain: str
    login_url: str | None
    instance_url: str | None
    api_version: str
    username: str | None
    password: Any
    security_token: Any
    consumer_key: str | None
    consumer_secret: Any
    private_key_file: Path | None
    session_id: Any
    ca_bundle: Path | None
    verify_tls: bool
    connect_timeout: float
    read_timeout: float
    loss_reason_field: str
    lookback_minutes: int
    bulk_read_threshold: int
    bulk_write_threshold: int
    daily_reserve: int


def _secret(value: Any) -> str | None:
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    return str(getter() if callable(getter) else value)


@dataclass(frozen=True)
class SalesforceConfig:
    """The connector's own view of its settings (secrets unwrapped, kept out of repr)."""

    auth: AuthMode = "password"
    domain: str = "login"
    login_url: str | None = None
    instance_url: str | None = None
    api_version: str = "59.0"
    username: str | None = None
    password: str | None = None
    security_token: str | None = None
    consumer_key: str | None = None
    consumer_secret: str | None = None
    private_key_file: Path | None = None
    session_id: str | None = None
    ca_bundle: Path | None = None
    verify_tls: bool = True
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    loss_reason_field: str = "Loss_Reason__c"
    lookback_minutes: int = 10
    bulk_read_threshold: int = 50_000
    bulk_write_threshold: int = 10_000
    daily_reserve: int = 1_000

    def __repr__(self) -> str:  # never show secrets
        return (
            f"SalesforceConfig(auth={self.auth!r}, domain={self.domain!r}, login_url={self.login_url!r}, "
            f"instance_url={self.instance_url!r}, username={self.username!r})"
        )

    @classmethod
    def from_settings(cls, settings: SalesforceSettingsLike | SalesforceConfig) -> SalesforceConfig:
        """Copy the settings (unwrapping SecretStr). Not validated here: `validate()` runs at login."""
        if isinstance(settings, SalesforceConfig):
            return settings
        values = {name: getattr(settings, name) for name in cls.__dataclass_fields__}
        for name in ("password", "security_token", "consumer_secret", "session_id"):
            values[name] = _secret(values[name])
        return cls(**values)

    def validate(self) -> None:
        """Raise ConfigurationError when the chosen auth mode lacks what it needs."""
        needs: dict[str, tuple[str, ...]] = {
            "password": ("username", "password"),
            "jwt": ("username", "consumer_key", "private_key_file"),
            "client_credentials": ("consumer_key", "consumer_secret"),
            "session": ("session_id", "instance_url"),
        }
        if self.auth not in needs:
            raise ConfigurationError(f"salesforce.auth: unknown mode {self.auth!r}")
        missing = [f"salesforce.{n}" for n in needs[self.auth] if not getattr(self, n)]
        if missing:
            raise ConfigurationError(f"salesforce.auth = {self.auth!r} needs {', '.join(missing)}")
        if self.auth == "client_credentials" and self.domain in ("login", "test"):
            raise ConfigurationError(
                "salesforce.auth = 'client_credentials' needs your My Domain in "
                "salesforce.domain (e.g. 'acme.my'), not 'login'/'test'"
            )
        if self.auth == "jwt" and self.private_key_file and not Path(self.private_key_file).is_file():
            raise ConfigurationError(f"salesforce.private_key_file not found: {self.private_key_file}")
        if not _IDENTIFIER.match(self.loss_reason_field):
            raise ConfigurationError(
                f"salesforce.loss_reason_field is not a field name: {self.loss_reason_field!r}"
            )


def session_for(config: SalesforceConfig) -> requests.Session:
    """The requests session (timeouts, TLS trust, login routing) for this configuration."""
    return build_session(
        domain=config.domain,
        login_url=config.login_url,
        ca_bundle=config.ca_bundle,
        verify_tls=config.verify_tls,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
    )


def login(config: SalesforceConfig, session: requests.Session) -> Salesforce:
    """Log in by the configured mode (one login request, or none for `session`) and return a client
    that will not re-log-in by itself. Raises simple-salesforce's SalesforceAuthenticationFailed or a
    transport error; the caller runs this under the retry policy."""
    if config.auth == "session":
        session_id, instance_url = config.session_id, config.instance_url
    else:
        session_id, instance = SalesforceLogin(
            session=session, domain=config.domain, sf_version=config.api_version, **_login_args(config)
        )
        instance_url = f"https://{instance}"
    return Salesforce(
        session_id=session_id, instance_url=instance_url, session=session, version=config.api_version
    )


def _login_args(config: SalesforceConfig) -> dict[str, Any]:
    if config.auth == "password":
        if config.security_token or not (config.consumer_key and config.consumer_secret):
            return {
                "username": config.username,
                "password": config.password,
                "security_token": config.security_token or "",
            }
        return {
            "username": config.username,
            "password": config.password,
            "consumer_key": config.consumer_key,
            "consumer_secret": config.consumer_secret,
        }
    if config.auth == "jwt":
        return {
            "username": config.username,
            "consumer_key": config.consumer_key,
            "privatekey_file": str(config.private_key_file),
        }
    return {"consumer_key": config.consumer_key, "consumer_secret": config.consumer_secret}
