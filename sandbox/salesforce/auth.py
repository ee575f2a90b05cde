"""Credentials, sessions and the two login endpoints (SOAP `login` and OAuth 2.0 `token`).

Sessions expire after `ttl` seconds without use (Salesforce's timeout counts inactivity); an expired
or unknown session gets the real 401 body. The JWT bearer grant verifies the assertion's RS256
signature against the emulator's key pair (pyjwt), its issuer (consumer key), subject (username),
audience (https://login|test|<my-domain>.salesforce.com or the emulator's own URL) and expiry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .ids import ORG_ID18

SOAP_NS = "urn:partner.soap.sforce.com"
INVALID_LOGIN = "Invalid username, password, security token; or user locked out."


@lru_cache(maxsize=1)
def _key_pair() -> tuple[str, str]:
    """(private PEM, public PEM), generated once per process."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class Sessions:
    """Session ids issued by the emulator, each with its last use (for the inactivity timeout)."""

    def __init__(self, clock: Callable[[], datetime], ttl_seconds: float):
        self.clock = clock
        self.ttl = ttl_seconds
        self._last_used: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self.org_id = ORG_ID18  # the org whose sessions these are (session ids start with its 15-char id)

    def mint(self) -> str:
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        with self._lock:
            self._last_used[token] = self.clock()
        return token

    def check(self, token: str) -> bool:
        """True if `token` is a live session (and marks it used)."""
        now = self.clock()
        with self._lock:
            last = self._last_used.get(token)
            if last is None:
                return False
            if (now - last).total_seconds() >= self.ttl:
                del self._last_used[token]
                return False
            self._last_used[token] = now
            return True

    def expire(self, token: str | None = None) -> None:
        """End one session, or all of them."""
        with self._lock:
            if token is None:
                self._last_used.clear()
            else:
                self._last_used.pop(token, None)


@dataclass
class Credentials:
    """What a client needs to log in to the emulator; `mint_session()` gives a ready session id."""

    sessions: Sessions = field(repr=False)
    username: str = "leadsync@sandbox.example"
    password: str = "sandbox-password"
    security_token: str = "SandboxSecurityToken"
    consumer_key: str = "3MVG9leadsync.sandbox.consumer.key"
    consumer_secret: str = "sandbox-consumer-secret"
    private_key_pem: str = field(default_factory=lambda: _key_pair()[0], repr=False)
    public_key_pem: str = field(default_factory=lambda: _key_pair()[1], repr=False)
    # a refresh token the connected app holds (as from a web-server flow with the refresh_token scope);
    # `refresh_tokens` are the ones the org honours (rotation replaces the used one)
    refresh_token: str = field(default="5Aep861leadsync.sandbox.refresh.token", repr=False)
    refresh_tokens: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.refresh_tokens.add(self.refresh_token)

    def mint_session(self) -> str:
        return self.sessions.mint()


# ------------------------------------------------------------------ SOAP login
def soap_fault(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {message}</faultstring><detail>"
        f'<sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode>'
        f"<sf:exceptionMessage>{message}</sf:exceptionMessage></sf:LoginFault></detail>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )


# SOAP login() "is not available in API version 65.0 and later" and is retired for 31.0-64.0 with the
# Summer '27 release (SOAP API End-of-Life Policy; help 005132110). The fault Salesforce sends is not
# documented (unverified): the emulator answers a SOAP fault INVALID_OPERATION.
SOAP_LOGIN_LAST_VERSION = 64.0
SOAP_LOGIN_GONE = (
    "login() is not available in this API version; use OAuth 2.0 (sandbox: exact text unverified)"
)


def soap_login(
    body: bytes, creds: Credentials, base_url: str, version: str, user_id: str, *, retired: bool = False
) -> tuple[int, str]:
    """(HTTP status, SOAP XML) for a partner `login` call. `retired`: login() is refused at every
    version (as from Summer '27); at 65.0 and later it always is."""
    try:
        too_new = float(version) > SOAP_LOGIN_LAST_VERSION
    except ValueError:
        too_new = False
    if retired or too_new:
        return 500, soap_fault("INVALID_OPERATION", SOAP_LOGIN_GONE)
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return 500, soap_fault("INVALID_LOGIN", INVALID_LOGIN)
    username = root.findtext(f".//{{{SOAP_NS}}}username") or ""
    password = root.findtext(f".//{{{SOAP_NS}}}password") or ""
    if username.lower() != creds.username.lower() or password != creds.password + creds.security_token:
        return 500, soap_fault("INVALID_LOGIN", INVALID_LOGIN)
    session = creds.mint_session()
    org15, org18 = creds.sessions.org_id[:15], creds.sessions.org_id
    server = f"{base_url}/services/Soap/u/{version}/{org15}"
    return 200, (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result>'
        f"<metadataServerUrl>{base_url}/services/Soap/m/{version}/{org15}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{server}</serverUrl><sessionId>{session}</sessionId><userId>{user_id}</userId>"
        f"<userInfo><organizationId>{org18}</organizationId><organizationName>leadsync sandbox"
        f"</organizationName><userEmail>{creds.username}</userEmail><userId>{user_id}</userId>"
        f"<userName>{creds.username}</userName><userTimeZone>UTC</userTimeZone></userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


# ------------------------------------------------------------------ OAuth token
def _oauth_error(error: str, description: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": error, "error_description": description}


def _token(creds: Credentials, base_url: str, user_id: str) -> tuple[int, dict[str, Any]]:
    token = creds.mint_session()
    issued = str(int(creds.sessions.clock().timestamp() * 1000))
    signature = base64.b64encode(
        hmac.new(creds.consumer_secret.encode(), (base_url + issued).encode(), hashlib.sha256).digest()
    ).decode()
    return 200, {
        "access_token": token,
        "instance_url": base_url,
        "id": f"{base_url}/id/{creds.sessions.org_id}/{user_id}",
        "token_type": "Bearer",
        "issued_at": issued,
        "signature": signature,
        "scope": "api",
    }


def _audience_ok(aud: Any, base_url: str) -> bool:
    auds = aud if isinstance(aud, list) else [aud]
    for value in auds:
        host = urlsplit(str(value)).hostname or ""
        if str(value).rstrip("/") == base_url or host.endswith(".salesforce.com"):
            return True
    return False


def oauth_token(
    form: dict[str, str],
    authorization: str | None,
    creds: Credentials,
    base_url: str,
    user_id: str,
    *,
    password_retired: bool = False,
    rotate_refresh_tokens: bool = False,
) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for POST /services/oauth2/token (password, JWT bearer, client
    credentials and refresh_token grants). `password_retired`: the OAuth
    username-password flow is refused (connected apps must move off it before 20 Feb 2027, help
    005461976; the error then sent is unverified: the documented unsupported-grant answer is used)."""
    grant = form.get("grant_type", "")
    if grant == "password" and password_retired:
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if grant == "password":
        if form.get("client_id") != creds.consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if form.get("client_secret") != creds.consumer_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        password = form.get("password", "")
        if form.get("username", "").lower() != creds.username.lower() or password not in (
            creds.password,
            creds.password + creds.security_token,
        ):
            return _oauth_error("invalid_grant", "authentication failure")
        return _token(creds, base_url, user_id)
    if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                creds.public_key_pem,
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            return _oauth_error("invalid_grant", "expired authorization code")
        except jwt.PyJWTError:
            return _oauth_error("invalid_grant", "invalid assertion")
        if claims.get("iss") != creds.consumer_key:
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if str(claims.get("sub", "")).lower() != creds.username.lower():
            return _oauth_error("invalid_grant", "user hasn't approved this consumer")
        if not _audience_ok(claims.get("aud"), base_url):
            return _oauth_error("invalid_grant", "audience is invalid")
        return _token(creds, base_url, user_id)
    if grant == "client_credentials":
        key, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                key, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return _oauth_error("invalid_client", "invalid client credentials")
        if key != creds.consumer_key or secret != creds.consumer_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        return _token(creds, base_url, user_id)
    if grant == "refresh_token":
        return _refresh(form, creds, base_url, user_id, rotate=rotate_refresh_tokens)
    return _oauth_error("unsupported_grant_type", "grant type not supported")


# Refresh token flow (REST API guide and help "OAuth 2.0 Refresh Token Flow", facts §15): grant_type,
# refresh_token, client_id, client_secret (required while the app's "Require Secret" is on, the emulator
# always requires it: the stricter case). The answer has access_token, signature, scope, instance_url,
# id, token_type, issued_at, and a new refresh_token only when the app rotates refresh tokens (the old
# one then stops working). A refresh token the org does not know: 400 invalid_grant "expired
# access/refresh token" (the text is the one integrations commonly log: partly verified).
def _refresh(
    form: dict[str, str], creds: Credentials, base_url: str, user_id: str, *, rotate: bool
) -> tuple[int, dict[str, Any]]:
    if form.get("client_id") != creds.consumer_key:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if form.get("client_secret") != creds.consumer_secret:
        return _oauth_error("invalid_client", "invalid client credentials")
    token = form.get("refresh_token", "")
    if token not in creds.refresh_tokens:
        return _oauth_error("invalid_grant", "expired access/refresh token")
    status, body = _token(creds, base_url, user_id)
    if rotate:
        creds.refresh_tokens.discard(token)
        body["refresh_token"] = f"5Aep861{secrets.token_urlsafe(60)}"
        creds.refresh_tokens.add(body["refresh_token"])
    return status, body
