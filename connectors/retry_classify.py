"""Classification of failed API calls, by HTTP status and error code (never by exception class: each
HubSpot sub-package has its own `ApiException`, simple-salesforce has its own table). Used by
`connectors.retry`, which re-exports everything public here; see its docstring for the table. What a
system's own codes mean comes from its `ErrorTable` (`connectors/<system>/errors.py`).

Decision reasons hold status codes, error codes and exception type names only: never URLs (SOQL holds
personal data), bodies or credentials.
"""

from __future__ import annotations

import email.utils
import enum
import http.client
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions

from connectors.base import (
    BudgetExhausted,
    ConfigurationError,
    ConnectorError,
    FatalAPIError,
    RetriableAPIError,
)
from connectors.error_table import GENERIC, ErrorTable


class Outcome(enum.Enum):
    RETRY = "retry"  # transient: back off and try again
    RATE_LIMITED = "rate_limited"  # back off for the given wait (or the backoff when unknown)
    RELOGIN = "relogin"  # the session expired: log in again once, then retry
    FAIL = "fail"  # permanent for this request
    BUDGET = "budget"  # the daily allowance is spent: stop the run cleanly


@dataclass(frozen=True)
class Decision:
    """What to do about one failed attempt. `reason` never holds secrets or personal data."""

    outcome: Outcome
    wait: float | None
    reason: str
    status: int | None = None
    code: str | None = None


class HTTPResponseError(ConnectorError):
    """A non-2xx answer to a request a connector made with its own session (Bulk API paging...).
    Carries what `classify` needs; `str()` holds no body."""

    def __init__(self, status: int, headers: Mapping[str, str] | None, body: bytes | str | None):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.headers = dict(headers or {})
        self.body = body

    @classmethod
    def check(cls, response: requests.Response) -> requests.Response:
        """Return `response` if it is 2xx, else raise this error for it."""
        if response.status_code >= 300:
            raise cls(response.status_code, response.headers, response.content)
        return response


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    items = headers.items() if hasattr(headers, "items") else headers
    lname = name.lower()
    for key, value in items:
        if str(key).lower() == lname:
            return str(value)
    return None


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_fields(body: object) -> tuple[str | None, str | None, str]:
    """(error code, HubSpot policy name, message) from a Salesforce or HubSpot error body: raw bytes/str,
    or already decoded JSON (simple-salesforce exceptions carry the decoded body in `.content`)."""
    if body is None:
        return None, None, ""
    data: Any = body
    if isinstance(body, bytes | bytearray | str):
        try:
            data = json.loads(body)
        except (ValueError, TypeError):
            return None, None, ""
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if not isinstance(data, dict):
        return None, None, ""
    code = data.get("errorCode") or data.get("category") or data.get("error")
    policy = data.get("policyName")
    message = data.get("message") or data.get("error_description") or ""
    return (str(code) if code else None), (str(policy) if policy else None), str(message)


def _rate_window(headers: Mapping[str, str] | None, policy: str | None, table: ErrorTable) -> float | None:
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    if retry_after is not None:
        return retry_after
    interval = _header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
    if interval:
        try:
            return max(0.0, float(interval) / 1000.0)
        except ValueError:
            pass
    return table.rate_windows.get(policy or "")


def classify_http(
    status: int | None, headers: Mapping[str, str] | None, body: bytes | str | list | dict | None,
    table: ErrorTable = GENERIC,
) -> Decision:
    """Decide about one HTTP answer by status and the system's error code (`body` raw, or decoded JSON)."""
    if status is None:
        return Decision(Outcome.RETRY, None, "no response")
    code, policy, message = _error_fields(body)
    label = f"HTTP {status}" + (f" {code}" if code else "")
    if code in table.retry_codes:
        return Decision(Outcome.RETRY, None, label, status, code)
    if status == 429:
        if policy in table.daily_policies:
            return Decision(Outcome.BUDGET, None, f"{label} daily limit", status, code or policy)
        return Decision(Outcome.RATE_LIMITED, _rate_window(headers, policy, table), label, status,
                        code or policy)
    if status == 401:
        if code in table.relogin_codes or table.relogin_on_any_401:
            return Decision(Outcome.RELOGIN, None, label, status, code)
        return Decision(Outcome.FAIL, None, label, status, code)
    if status == 403 and code in table.budget_codes:
        if table.concurrent_marker and table.concurrent_marker in message.lower():
            return Decision(
                Outcome.RATE_LIMITED, _rate_window(headers, None, table), f"{label} concurrent", status, code
            )
        return Decision(Outcome.BUDGET, None, f"{label} daily limit", status, code)
    if status >= 500 or status == 408:
        return Decision(Outcome.RETRY, None, label, status, code)
    return Decision(Outcome.FAIL, None, label, status, code)


def _classify_login_failure(code: object, status: int, table: ErrorTable) -> Decision:
    """simple-salesforce's SalesforceAuthenticationFailed: `code` is the SOAP exceptionCode / OAuth
    `error`, or the HTTP status when the answer was not XML/JSON (an outage page)."""
    if isinstance(code, int) and not isinstance(code, bool):
        decision = classify_http(code, None, None, table)
        if decision.outcome is not Outcome.FAIL:
            return Decision(decision.outcome, decision.wait, f"login: {decision.reason}", code)
        return Decision(Outcome.FAIL, None, f"login refused (HTTP {code})", status, "AUTHENTICATION_FAILED")
    if code in table.transient_login_codes:
        return Decision(Outcome.RETRY, None, f"login: {code}", None, str(code))
    return Decision(
        Outcome.FAIL,
        None,
        f"login refused ({code or 'no code'})",
        status,
        str(code or "AUTHENTICATION_FAILED"),
    )


_TRANSIENT: tuple[type[BaseException], ...] = (
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    urllib3.exceptions.NewConnectionError,
    http.client.HTTPException,  # RemoteDisconnected, IncompleteRead, BadStatusLine
    ConnectionError,  # builtin: reset, aborted, refused
    TimeoutError,  # socket.timeout
)
_TLS: tuple[type[BaseException], ...] = (requests.exceptions.SSLError, urllib3.exceptions.SSLError)


def classify(exc: BaseException, table: ErrorTable = GENERIC) -> Decision:
    """Decide about an exception raised by a client library call (or by a connector itself), reading
    error codes with the calling system's `table`."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        return classify(exc.reason, table)
    if isinstance(exc, BudgetExhausted):
        return Decision(Outcome.BUDGET, None, "budget exhausted")
    if isinstance(exc, RetriableAPIError):
        return Decision(
            Outcome.RETRY if exc.retry_after is None else Outcome.RATE_LIMITED,
            exc.retry_after,
            f"retriable ({exc.status or 'no status'})",
            exc.status,
        )
    if isinstance(exc, FatalAPIError):
        return Decision(
            Outcome.FAIL, None, f"fatal ({exc.status or 'no status'})", exc.status, exc.code or "FATAL"
        )
    if isinstance(exc, ConfigurationError):
        return Decision(Outcome.FAIL, None, "configuration error", None, "CONFIGURATION")
    if isinstance(exc, _TLS):
        return Decision(Outcome.FAIL, None, f"TLS failure ({type(exc).__name__})", None, "TLS")
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool):
        if type(exc).__name__ == "SalesforceAuthenticationFailed":
            return _classify_login_failure(getattr(exc, "code", None), status, table)
        headers = getattr(exc, "headers", None)
        body = getattr(exc, "body", None)
        if body is None:
            body = getattr(exc, "content", None)
        return classify_http(status, headers, body, table)
    if isinstance(exc, _TRANSIENT):
        return Decision(Outcome.RETRY, None, type(exc).__name__)
    return Decision(Outcome.FAIL, None, f"unexpected {type(exc).__name__}")
