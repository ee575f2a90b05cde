"""The `requests.Session` leadsync hands to simple-salesforce: timeouts, TLS trust, login routing.

simple-salesforce hard-wires its login and token URLs to `https://{domain}.salesforce.com/...`. When
`login_url` is configured (the bundled sandbox, or a corporate proxy), a transport adapter sends those
requests to that base instead; everything else (the instance URL the login returns) is untouched.
TLS verification stays on: the target's certificate must be valid for the address it is reached at.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)


class TimeoutSession(requests.Session):
    """A session whose every request has a (connect, read) timeout unless one is given."""

    def __init__(self, connect_timeout: float, read_timeout: float):
        super().__init__()
        self._timeout = (connect_timeout, read_timeout)

    def request(self, method, url, **kwargs):  # noqa: ANN001, ANN003, ANN201 (requests' signature)
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, **kwargs)


class LoginRedirectAdapter(HTTPAdapter):
    """Sends requests for `https://{domain}.salesforce.com/...` to `login_url` (scheme, host, port)."""

    def __init__(self, login_url: str, **kwargs):  # noqa: ANN003
        parts = urlsplit(login_url)
        if parts.scheme != "https" or not parts.netloc:
            raise ValueError(f"login_url must be an https base URL, got {login_url!r}")
        self._scheme, self._netloc = parts.scheme, parts.netloc
        super().__init__(**kwargs)

    def send(self, request, **kwargs):  # noqa: ANN001, ANN003, ANN201
        parts = urlsplit(request.url)
        request.url = urlunsplit((self._scheme, self._netloc, parts.path, parts.query, parts.fragment))
        return super().send(request, **kwargs)


def build_session(
    *,
    domain: str = "login",
    login_url: str | None = None,
    ca_bundle: Path | None = None,
    verify_tls: bool = True,
    connect_timeout: float = 10.0,
    read_timeout: float = 120.0,
) -> requests.Session:
    """A session for simple-salesforce. Environment CA overrides (REQUESTS_CA_BUNDLE) are ignored so
    that the configured trust is the one used."""
    session = TimeoutSession(connect_timeout, read_timeout)
    session.trust_env = False
    if not verify_tls:
        log.warning("TLS verification is OFF for Salesforce (salesforce.verify_tls = false)")
        session.verify = False
    elif ca_bundle is not None:
        session.verify = str(ca_bundle)
    if login_url:
        session.mount(f"https://{domain}.salesforce.com", LoginRedirectAdapter(login_url))
    return session
