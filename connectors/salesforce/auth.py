"""Salesforce login: one `simple_salesforce.Salesforce` per auth mode.

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
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr
from simple_salesforce import Salesforce, SalesforceLogin

from connectors.base import ConfigurationError
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.transport import build_session

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SOAP_LOGIN_LAST_VERSION = "64.0"  # SOAP login() is not available from API version 65.0 (help 005132110)


def login_version(config: SalesforceSettings) -> str:
    """The API version of the login request: `api_version`, except that SOAP login() is sent at 64.0
    when `api_version` is 65.0 or later (the session it returns serves every REST version)."""
    if config.uses_soap_login() and float(config.api_version) > float(SOAP_LOGIN_LAST_VERSION):
        return SOAP_LOGIN_LAST_VERSION
    return config.api_version


def secret(value: SecretStr | None) -> str | None:
    """The plain value of a secret setting (None when unset)."""
    return None if value is None else value.get_secret_value()


def check_settings(settings: SalesforceSettings) -> None:
    """Raise ConfigurationError when the chosen auth mode lacks what it needs (checked when the
    connector connects; the private key file is looked for once paths are resolved)."""
    missing = settings.missing_for_auth()
    if missing:
        raise ConfigurationError(f"salesforce.auth = {settings.auth!r} needs {', '.join(missing)}")
    if settings.auth == "client_credentials" and settings.domain in ("login", "test"):
        raise ConfigurationError(
            "salesforce.auth = 'client_credentials' needs your My Domain in "
            "salesforce.domain (e.g. 'acme.my'), not 'login'/'test'"
        )
    if settings.auth == "jwt" and settings.private_key_file and not Path(settings.private_key_file).is_file():
        raise ConfigurationError(f"salesforce.private_key_file not found: {settings.private_key_file}")
    if not _IDENTIFIER.match(settings.loss_reason_field):
        raise ConfigurationError(
            f"salesforce.loss_reason_field is not a field name: {settings.loss_reason_field!r}"
        )


def session_for(config: SalesforceSettings) -> requests.Session:
    """The requests session (timeouts, TLS trust, login routing) for this configuration."""
    return build_session(
        domain=config.domain,
        login_url=config.login_url,
        ca_bundle=config.ca_bundle,
        verify_tls=config.verify_tls,
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
    )


def login(config: SalesforceSettings, session: requests.Session) -> Salesforce:
    """Log in by the configured mode (one login request, or none for `session`) and return a client
    that will not re-log-in by itself. Raises simple-salesforce's SalesforceAuthenticationFailed or a
    transport error; the caller runs this under the retry policy."""
    if config.auth == "session":
        session_id, instance_url = secret(config.session_id), config.instance_url
    else:
        session_id, instance = SalesforceLogin(
            session=session, domain=config.domain, sf_version=login_version(config), **_login_args(config)
        )
        instance_url = f"https://{instance}"
    return Salesforce(
        session_id=session_id, instance_url=instance_url, session=session, version=config.api_version
    )


def _login_args(config: SalesforceSettings) -> dict[str, Any]:
    if config.auth == "password":
        if config.uses_soap_login():
            return {
                "username": config.username,
                "password": secret(config.password),
                "security_token": secret(config.security_token) or "",
            }
        return {
            "username": config.username,
            "password": secret(config.password),
            "consumer_key": config.consumer_key,
            "consumer_secret": secret(config.consumer_secret),
        }
    if config.auth == "jwt":
        return {
            "username": config.username,
            "consumer_key": config.consumer_key,
            "privatekey_file": str(config.private_key_file),
        }
    return {"consumer_key": config.consumer_key, "consumer_secret": secret(config.consumer_secret)}
