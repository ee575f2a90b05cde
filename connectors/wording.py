"""Clear words for API failures: which system, reached where, what happened, what to set.

    HubSpot at https://api.hubapi.com: the access token was refused (HTTP 401 INVALID_AUTHENTICATION)
    Salesforce at https://127.0.0.1:8443: connection refused after 5 attempts (salesforce.token)
    Salesforce at https://acme.my.salesforce.com: TLS: the server's certificate has expired; ...

`connectors.retry.call` builds its error messages with these, given the system and the base URL the
connector reached (`where`). A base URL holds no path or query (SOQL holds personal data) and never a
credential. TLS verify codes are OpenSSL's (`X509_V_ERR_*`, include/openssl/x509_vfy.h; the meanings
are those of `openssl verify`, docs.openssl.org "openssl-verification-options").
"""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

NAMES = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
# what a 401 refused, in the admin's words
CREDENTIALS = {"hubspot": "the access token", "salesforce": "the session"}

# OpenSSL X509_V_ERR_* -> what it means for the admin
_EXPIRED = {10: "has expired", 9: "is not valid yet"}
_UNTRUSTED = {2, 18, 19, 20, 21, 27, 28}  # unknown issuer, self-signed, untrusted or rejected CA
_NAME = {62, 64}  # host name / IP address mismatch
_REVOKED = 23


def label(system: str, where: str | None = None) -> str:
    """"HubSpot" or "Salesforce at https://host:port"."""
    name = NAMES.get(system, system)
    base = base_url(where)
    return f"{name} at {base}" if base else name


def base_url(url: str | None) -> str | None:
    """scheme://host[:port] of `url` (no user info, path or query), None when there is none."""
    if not url:
        return None
    parts = urlsplit(url if "://" in url else f"https://{url}")
    if not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def chain(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and every exception behind it: causes, contexts, `reason` (urllib3) and exception args
    (requests wraps urllib3's error in its args)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        reason = getattr(current, "reason", None)  # urllib3's MaxRetryError; HubSpot's ApiException: text
        todo.extend([current.__cause__, current.__context__,
                     reason if isinstance(reason, BaseException) else None])
        todo.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))


def connection_problem(exc: BaseException) -> str | None:
    """What went wrong with the connection, in words, when the chain says so."""
    for e in chain(exc):
        if isinstance(e, ConnectionRefusedError) or getattr(e, "errno", None) == errno.ECONNREFUSED:
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "host name not found"
        if isinstance(e, TimeoutError) or type(e).__name__ in ("ConnectTimeoutError", "ConnectTimeout"):
            return "no answer (timed out)"
        if isinstance(e, ConnectionResetError):
            return "connection reset"
    return None


def tls_problem(exc: BaseException) -> str | None:
    """The TLS verification failure in the chain, in words; None when there is none. A TLS failure
    with no verify code (handshake, protocol) is "the TLS handshake failed"."""
    found = False
    for e in chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            code = e.verify_code
            if code in _EXPIRED:
                return f"the server's certificate {_EXPIRED[code]}"
            if code in _UNTRUSTED:
                return f"the server's certificate is not trusted ({e.verify_message})"
            if code in _NAME:
                return f"the server's certificate does not match the host name ({e.verify_message})"
            if code == _REVOKED:
                return "the server's certificate has been revoked"
            return f"the server's certificate was refused ({e.verify_message or 'verify failed'})"
        if isinstance(e, ssl.SSLError) or "SSLError" in type(e).__name__:
            found = True
    return "the TLS handshake failed" if found else None


def tls_sentence(system: str, where: str | None, exc: BaseException) -> str:
    """"Salesforce at https://...: TLS: the server's certificate has expired; ..." naming the key."""
    problem = tls_problem(exc) or "the TLS handshake failed"
    remedy = (f"renew the server's certificate, or set {system}.ca_bundle to the CA file that signs "
              "the current one" if "expired" in problem or "not valid yet" in problem
              else f"set {system}.ca_bundle to the CA file (PEM) that signs the server's certificate")
    return f"{label(system, where)}: TLS: {problem}; {remedy}"
