"""The one retry policy: classification table, call() and retry_records()."""

from __future__ import annotations

import http.client
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import urllib3.exceptions
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.lists.exceptions import ApiException as ListsApiException
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from connectors.base import (
    AuthenticationError,
    BudgetExhausted,
    CallCounter,
    FatalAPIError,
    RetriableAPIError,
    WriteResult,
)
from connectors.error_table import GENERIC, ErrorTable
from connectors.hubspot.errors import HUBSPOT_ERRORS
from connectors.retry import (
    Decision,
    HTTPResponseError,
    Outcome,
    RetryPolicy,
    call,
    classify,
    classify_http,
    parse_retry_after,
    retry_records,
)
from connectors.salesforce.errors import SALESFORCE_ERRORS

SF_EXPIRED = json.dumps([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
SF_LIMIT = json.dumps([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
SF_CONCURRENT = json.dumps([{"message": "ConcurrentPerOrgLongTxn Limit exceeded.",
                             "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
SF_LOCKED = json.dumps([{"errorCode": "UNABLE_TO_LOCK_ROW", "message": "x"}])
SF_NO_ACCESS = json.dumps([{"errorCode": "INSUFFICIENT_ACCESS", "message": "x"}])
SF_NOT_FOUND = json.dumps([{"errorCode": "NOT_FOUND", "message": "x"}])
SF_MALFORMED = json.dumps([{"message": "unexpected token: 'OR'", "errorCode": "MALFORMED_QUERY"}])
HS_TEN_SECONDLY = json.dumps({"status": "error",
                              "message": "You have reached your ten_secondly_rolling limit.",
                              "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"})
HS_DAILY = json.dumps({"status": "error", "message": "You have reached your daily limit.",
                       "errorType": "RATE_LIMIT", "policyName": "DAILY"})
HS_EXPIRED = json.dumps({"status": "error", "message": "The OAuth token used to make this call expired",
                         "category": "EXPIRED_AUTHENTICATION"})
HS_INVALID = json.dumps({"status": "error", "message": "Authentication credentials not found",
                         "category": "INVALID_AUTHENTICATION"})


def hubspot_exc(cls: type, status: int, body: str, headers: dict[str, str] | None = None) -> Exception:
    exc = cls(status=status, reason="x")
    exc.body = body.encode()
    exc.headers = headers or {}
    return exc


def sf_exc(cls: type, status: int, body: str) -> Exception:
    """As simple-salesforce raises them: `.content` is the decoded JSON body (or the text)."""
    try:
        content = json.loads(body)
    except ValueError:
        content = body
    return cls("https://x.my.salesforce.com/services/data/v59.0/query/?q=SELECT", status, "query", content)


# --------------------------------------------------------------------------- classify_http


@pytest.mark.parametrize(
    ("table", "status", "headers", "body", "outcome", "wait"),
    [
        (GENERIC, None, None, None, Outcome.RETRY, None),
        (GENERIC, 500, {}, b"", Outcome.RETRY, None),
        (GENERIC, 502, {}, "<html>bad gateway</html>", Outcome.RETRY, None),
        (GENERIC, 503, {}, b"", Outcome.RETRY, None),
        (GENERIC, 408, {}, b"", Outcome.RETRY, None),
        (HUBSPOT_ERRORS, 429, {"Retry-After": "7"}, HS_TEN_SECONDLY, Outcome.RATE_LIMITED, 7.0),
        (GENERIC, 429, {"retry-after": "2.5"}, b"", Outcome.RATE_LIMITED, 2.5),
        (HUBSPOT_ERRORS, 429, {}, HS_TEN_SECONDLY, Outcome.RATE_LIMITED, 10.0),
        (GENERIC, 429, {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}, b"", Outcome.RATE_LIMITED,
         10.0),
        (GENERIC, 429, {}, b"", Outcome.RATE_LIMITED, None),
        (HUBSPOT_ERRORS, 429, {"Retry-After": "3"}, HS_DAILY, Outcome.BUDGET, None),
        (SALESFORCE_ERRORS, 403, {}, SF_LIMIT, Outcome.BUDGET, None),
        (SALESFORCE_ERRORS, 403, {}, SF_CONCURRENT, Outcome.RATE_LIMITED, None),
        (SALESFORCE_ERRORS, 401, {}, SF_EXPIRED, Outcome.RELOGIN, None),
        (HUBSPOT_ERRORS, 401, {}, HS_EXPIRED, Outcome.RELOGIN, None),
        (HUBSPOT_ERRORS, 401, {}, HS_INVALID, Outcome.FAIL, None),
        (GENERIC, 401, {}, b"", Outcome.FAIL, None),
        (SALESFORCE_ERRORS, 400, {}, SF_MALFORMED, Outcome.FAIL, None),
        (SALESFORCE_ERRORS, 400, {}, SF_LOCKED, Outcome.RETRY, None),
        (SALESFORCE_ERRORS, 403, {}, SF_NO_ACCESS, Outcome.FAIL, None),
        (SALESFORCE_ERRORS, 404, {}, SF_NOT_FOUND, Outcome.FAIL, None),
        (GENERIC, 409, {}, b"{not json", Outcome.FAIL, None),
    ],
)
def test_classify_http_table(table, status, headers, body, outcome, wait) -> None:
    decision = classify_http(status, headers, body, table)
    assert decision.outcome is outcome
    assert decision.wait == wait


def test_classify_http_carries_code_and_status() -> None:
    decision = classify_http(400, None, SF_MALFORMED, SALESFORCE_ERRORS)
    assert (decision.status, decision.code) == (400, "MALFORMED_QUERY")


def test_reason_never_holds_body_text() -> None:
    secret_body = json.dumps([{"message": "token 00Dxx!AQ4AQ secret", "errorCode": "INVALID_SESSION_ID"}])
    assert "secret" not in classify_http(401, None, secret_body, SALESFORCE_ERRORS).reason


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), (" 0 ", 0.0), ("1.5", 1.5), ("-3", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_parse_retry_after_seconds(value, expected) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now.timestamp()) == pytest.approx(30.0)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=now.timestamp()) == 0.0


# --------------------------------------------------------------------------- classify (exceptions)


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (sf_exc(SalesforceExpiredSession, 401, SF_EXPIRED), Outcome.RELOGIN),
        (sf_exc(SalesforceRefusedRequest, 403, SF_LIMIT), Outcome.BUDGET),
        (sf_exc(SalesforceMalformedRequest, 400, SF_MALFORMED), Outcome.FAIL),
        (sf_exc(SalesforceGeneralError, 503, ""), Outcome.RETRY),
        (sf_exc(SalesforceGeneralError, 429, ""), Outcome.RATE_LIMITED),
        (SalesforceAuthenticationFailed("INVALID_LOGIN", "bad password"), Outcome.FAIL),
        (SalesforceAuthenticationFailed(503, "Service Unavailable"), Outcome.RETRY),  # outage page
        (SalesforceAuthenticationFailed(400, "<html>"), Outcome.FAIL),
        (SalesforceAuthenticationFailed("UNKNOWN_EXCEPTION", "An unexpected error occurred."), Outcome.RETRY),
        (SalesforceAuthenticationFailed("invalid_grant", "authentication failure"), Outcome.FAIL),
        (hubspot_exc(ContactsApiException, 429, HS_TEN_SECONDLY), Outcome.RATE_LIMITED),
        (hubspot_exc(ListsApiException, 429, HS_DAILY), Outcome.BUDGET),
        (hubspot_exc(ListsApiException, 401, HS_EXPIRED), Outcome.RELOGIN),
        (hubspot_exc(ContactsApiException, 400, json.dumps({"category": "VALIDATION_ERROR"})), Outcome.FAIL),
        (hubspot_exc(ContactsApiException, 502, ""), Outcome.RETRY),
        (requests.exceptions.ConnectionError("refused"), Outcome.RETRY),
        (requests.exceptions.ReadTimeout("slow"), Outcome.RETRY),
        (requests.exceptions.ChunkedEncodingError("cut"), Outcome.RETRY),
        (urllib3.exceptions.ProtocolError("Connection aborted.", http.client.RemoteDisconnected("x")),
         Outcome.RETRY),
        (urllib3.exceptions.MaxRetryError(None, "/x", urllib3.exceptions.ProtocolError("cut")),
         Outcome.RETRY),
        (http.client.RemoteDisconnected("closed"), Outcome.RETRY),
        (http.client.IncompleteRead(b"x", 10), Outcome.RETRY),
        (ConnectionResetError(104, "reset"), Outcome.RETRY),
        (TimeoutError("timed out"), Outcome.RETRY),
        (requests.exceptions.SSLError("certificate verify failed"), Outcome.FAIL),
        (HTTPResponseError(503, {"Retry-After": "4"}, b""), Outcome.RETRY),
        (HTTPResponseError(429, {"Retry-After": "4"}, b""), Outcome.RATE_LIMITED),
        (RetriableAPIError("bulk job failed"), Outcome.RETRY),
        (BudgetExhausted("spent"), Outcome.BUDGET),
        (KeyError("bug"), Outcome.FAIL),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_classify_exceptions(exc: BaseException, outcome: Outcome) -> None:
    assert classify(exc, table_of(exc)).outcome is outcome


def table_of(exc: BaseException) -> ErrorTable:
    """The error table of the system whose client library raised `exc` (the connectors pass their own)."""
    module = type(exc).__module__
    if module.startswith("hubspot"):
        return HUBSPOT_ERRORS
    return SALESFORCE_ERRORS if module.startswith("simple_salesforce") else GENERIC


@pytest.mark.parametrize(
    ("status", "body", "own", "other"),
    [
        (403, SF_LIMIT, SALESFORCE_ERRORS, HUBSPOT_ERRORS),
        (429, HS_DAILY, HUBSPOT_ERRORS, SALESFORCE_ERRORS),
        (401, SF_EXPIRED, SALESFORCE_ERRORS, HUBSPOT_ERRORS),
        (401, HS_EXPIRED, HUBSPOT_ERRORS, SALESFORCE_ERRORS),
        (400, SF_LOCKED, SALESFORCE_ERRORS, HUBSPOT_ERRORS),
    ],
)
def test_a_code_means_something_only_in_its_own_systems_table(status, body, own, other) -> None:
    """Each connector owns its error table: another system's code is plain HTTP to it."""
    mine, theirs = classify_http(status, None, body, own), classify_http(status, None, body, other)
    assert mine.outcome is not theirs.outcome
    assert theirs.outcome is classify_http(status, None, body, GENERIC).outcome


def test_classify_hubspot_header_dict_is_case_insensitive() -> None:
    headers = urllib3.HTTPHeaderDict({"retry-after": "3"})
    exc = hubspot_exc(ContactsApiException, 429, HS_TEN_SECONDLY)
    exc.headers = headers
    assert classify(exc, HUBSPOT_ERRORS).wait == 3.0


# --------------------------------------------------------------------------- call


class Script:
    """A callable that raises the scripted exceptions in turn, then returns `result`."""

    def __init__(self, *effects: BaseException, result: object = "ok"):
        self.effects = list(effects)
        self.result = result
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        if self.effects:
            raise self.effects.pop(0)
        return self.result


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def run(fn: Script, *, policy: RetryPolicy | None = None, relogin=None, counter: CallCounter | None = None,
        sleep: Sleeps | None = None) -> object:
    return call(fn, system="salesforce", endpoint="salesforce.query", counter=counter or CallCounter(),
                policy=policy or RetryPolicy(max_attempts=4, base_delay=0.5, max_backoff=8.0),
                errors=table_of(fn.effects[0]) if fn.effects else GENERIC,
                relogin=relogin, sleep=sleep if sleep is not None else Sleeps())


def test_call_retries_transient_errors_and_counts_every_attempt() -> None:
    counter, sleeps = CallCounter(), Sleeps()
    fn = Script(requests.exceptions.ConnectionError("x"), sf_exc(SalesforceGeneralError, 503, ""), result=42)
    assert run(fn, counter=counter, sleep=sleeps) == 42
    assert fn.calls == 3
    assert counter.counts[("salesforce", "salesforce.query")] == 3
    assert len(sleeps) == 2
    # jittered exponential: first in [0.5, 1.0], second in [1.0, 1.5]
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 1.5


def test_call_honours_retry_after_with_a_ceiling() -> None:
    sleeps = Sleeps()
    fn = Script(HTTPResponseError(429, {"Retry-After": "3"}, b""),
                HTTPResponseError(429, {"Retry-After": "3600"}, b""))
    assert run(fn, sleep=sleeps) == "ok"
    assert sleeps == [3.0, 8.0]


def test_call_gives_up_after_max_attempts() -> None:
    counter, sleeps = CallCounter(), Sleeps()
    fn = Script(*[sf_exc(SalesforceGeneralError, 500, "")] * 10)
    with pytest.raises(RetriableAPIError) as info:
        run(fn, counter=counter, sleep=sleeps)
    assert fn.calls == 4 and counter.total() == 4 and len(sleeps) == 3
    assert info.value.status == 500
    backoffs = sleeps
    assert all(b <= 8.0 for b in backoffs) and backoffs[0] < backoffs[-1]


def test_call_relogs_in_once_then_succeeds() -> None:
    logins: list[int] = []
    fn = Script(sf_exc(SalesforceExpiredSession, 401, SF_EXPIRED))
    sleeps = Sleeps()
    assert run(fn, relogin=lambda: logins.append(1), sleep=sleeps) == "ok"
    assert logins == [1] and fn.calls == 2 and sleeps == [0.0]


def test_call_second_expiry_is_an_authentication_error() -> None:
    logins: list[int] = []
    fn = Script(*[sf_exc(SalesforceExpiredSession, 401, SF_EXPIRED)] * 3)
    with pytest.raises(AuthenticationError):
        run(fn, relogin=lambda: logins.append(1))
    assert logins == [1] and fn.calls == 2


def test_call_expiry_without_relogin_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError):
        run(Script(hubspot_exc(ContactsApiException, 401, HS_EXPIRED)))


def test_call_refused_relogin_is_an_authentication_error() -> None:
    def relogin() -> None:
        raise SalesforceAuthenticationFailed("INVALID_LOGIN", "bad")

    fn = Script(sf_exc(SalesforceExpiredSession, 401, SF_EXPIRED))
    with pytest.raises(AuthenticationError):
        run(fn, relogin=relogin)
    assert fn.calls == 1


@pytest.mark.parametrize(
    ("exc", "raised", "code"),
    [
        (sf_exc(SalesforceRefusedRequest, 403, SF_LIMIT), BudgetExhausted, None),
        (hubspot_exc(ContactsApiException, 429, HS_DAILY), BudgetExhausted, None),
        (sf_exc(SalesforceMalformedRequest, 400, SF_MALFORMED), FatalAPIError, "MALFORMED_QUERY"),
        (hubspot_exc(ListsApiException, 404, json.dumps({"category": "OBJECT_NOT_FOUND"})), FatalAPIError,
         "OBJECT_NOT_FOUND"),
        (hubspot_exc(ContactsApiException, 401, HS_INVALID), AuthenticationError, "INVALID_AUTHENTICATION"),
        (requests.exceptions.SSLError("verify failed"), FatalAPIError, "TLS"),
    ],
)
def test_call_does_not_retry_permanent_errors(exc, raised, code) -> None:
    counter, sleeps = CallCounter(), Sleeps()
    fn = Script(exc)
    with pytest.raises(raised) as info:
        run(fn, counter=counter, sleep=sleeps)
    assert fn.calls == 1 and counter.total() == 1 and sleeps == []
    if code is not None:
        assert info.value.code == code


def test_call_lets_bugs_through_unchanged() -> None:
    with pytest.raises(KeyError):
        run(Script(KeyError("Id")))


def test_call_logs_each_retry_once_without_secrets(caplog: pytest.LogCaptureFixture) -> None:
    secret = "00Dxx0000001gPL!AQ4AQFakeSessionToken"
    fn = Script(sf_exc(SalesforceGeneralError, 503, json.dumps([{"message": secret, "errorCode": "X"}])),
                requests.exceptions.ConnectionError(secret))
    with caplog.at_level(logging.WARNING, logger="connectors.retry"):
        run(fn)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all("salesforce.query" in r.getMessage() for r in warnings)
    assert not any(secret in r.getMessage() for r in warnings)


# --------------------------------------------------------------------------- retry_records


class FlakySink:
    """Fails the listed keys with UNABLE_TO_LOCK_ROW for the given number of submissions each."""

    def __init__(self, locked: dict[str, int], fatal: Sequence[str] = ()):
        self.locked = dict(locked)
        self.fatal = set(fatal)
        self.batches: list[list[str]] = []
        self.written: list[str] = []

    def __call__(self, batch: Sequence[str]) -> list[WriteResult]:
        self.batches.append(list(batch))
        out = []
        for key in batch:
            if self.locked.get(key, 0) > 0:
                self.locked[key] -= 1
                out.append(WriteResult(key, ok=False, error_code="UNABLE_TO_LOCK_ROW", retryable=True))
            elif key in self.fatal:
                out.append(WriteResult(key, ok=False, error_code="INVALID_FIELD"))
            else:
                self.written.append(key)
                out.append(WriteResult(key, ok=True))
        return out


def test_retry_records_resubmits_only_retryable_failures() -> None:
    items = [f"r{i}" for i in range(10)]
    sink = FlakySink({"r3": 1, "r7": 2}, fatal=["r5"])
    sleeps = Sleeps()
    results = retry_records(items, sink, policy=RetryPolicy(max_attempts=5), key=str, sleep=sleeps)
    assert [r.record_id for r in results] == items
    assert [r.ok for r in results] == [i != 5 for i in range(10)]
    assert results[5].error_code == "INVALID_FIELD"
    assert sink.batches == [items, ["r3", "r7"], ["r7"]]
    assert sorted(sink.written) == sorted(set(items) - {"r5"})  # each written exactly once
    assert len(sleeps) == 2


def test_retry_records_is_bounded() -> None:
    sink = FlakySink({"a": 99})
    results = retry_records(["a", "b"], sink, policy=RetryPolicy(max_attempts=3), key=str, sleep=Sleeps())
    assert len(sink.batches) == 3
    assert results[0].error_code == "UNABLE_TO_LOCK_ROW" and not results[0].ok and results[1].ok


def test_retry_records_first_submission_error_propagates() -> None:
    def submit(batch: Sequence[str]) -> list[WriteResult]:
        raise BudgetExhausted("spent")

    with pytest.raises(BudgetExhausted):
        retry_records(["a"], submit, policy=RetryPolicy(), key=str, sleep=Sleeps())


def test_retry_records_resubmission_error_keeps_what_was_written() -> None:
    calls: list[int] = []

    def submit(batch: Sequence[str]) -> list[WriteResult]:
        calls.append(1)
        if len(calls) > 1:
            raise RetriableAPIError("gave up")
        return [WriteResult(k, ok=k != "b", error_code=None if k != "b" else "UNABLE_TO_LOCK_ROW",
                            retryable=k == "b") for k in batch]

    results = retry_records(["a", "b", "c"], submit, policy=RetryPolicy(), key=str, sleep=Sleeps())
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error_code == "RetriableAPIError" and results[1].retryable


def test_retry_records_rejects_misaligned_results() -> None:
    with pytest.raises(FatalAPIError):
        retry_records(["a", "b"], lambda batch: [WriteResult("a", ok=True)], policy=RetryPolicy(), key=str,
                      sleep=Sleeps())


def test_decision_is_frozen() -> None:
    d = Decision(Outcome.RETRY, None, "x")
    with pytest.raises(AttributeError):
        d.wait = 1.0  # type: ignore[misc]
