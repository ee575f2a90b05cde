"""The one retry policy of leadsync: every API call of every connector goes through `call()`.

Errors are classified by HTTP status and error code, never by exception class (each HubSpot
sub-package has its own `ApiException`; simple-salesforce has its own table), into an `Outcome`. The
statuses mean the same everywhere; the codes and policy names below are each system's own, declared
as data by its connector (`ErrorTable`: `connectors/salesforce/errors.py`, `connectors/hubspot/errors.py`)
and passed to `call(..., errors=...)`:

===========================================================  ==============
what happened                                                 outcome
===========================================================  ==============
timeout, refused/dropped connection, 5xx, 408,               RETRY
UNABLE_TO_LOCK_ROW on a whole request
429 (wait = Retry-After, else the rate window)                RATE_LIMITED
Salesforce 403 REQUEST_LIMIT_EXCEEDED for concurrent          RATE_LIMITED
long-running requests (ConcurrentPerOrgLongTxn)
HubSpot 429 with policyName DAILY,                            BUDGET
Salesforce 403 REQUEST_LIMIT_EXCEEDED (daily total)
401 INVALID_SESSION_ID / EXPIRED_AUTHENTICATION               RELOGIN
any other 4xx, TLS verification failure                       FAIL
===========================================================  ==============

`call()` runs a callable under tenacity: it counts every attempt, retries RETRY and RATE_LIMITED with
jittered exponential backoff (a Retry-After is honoured up to `max_backoff`), re-logs-in once on an
expired session, and turns everything else into the errors of `connectors.base`. `retry_records()`
resubmits only the records of a batch that failed with a retryable per-record error. The client
libraries' own retries stay off, so there is exactly one retry layer.

Decision reasons hold status codes, error codes and exception type names only: never URLs (SOQL
holds personal data), bodies or credentials.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import tenacity

from connectors import wording
from connectors.base import (
    AuthenticationError,
    BudgetExhausted,
    CallCounter,
    ConnectorError,
    FatalAPIError,
    RetriableAPIError,
    WriteResult,
)
from connectors.error_table import ErrorTable
from connectors.retry_classify import (
    Decision,
    HTTPResponseError,
    Outcome,
    classify,
    classify_http,
    parse_retry_after,
)

__all__ = [
    "Decision",
    "ErrorTable",
    "HTTPResponseError",
    "Outcome",
    "RetryPolicy",
    "backoff_delay",
    "call",
    "classify",
    "classify_http",
    "parse_retry_after",
    "retry_records",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5  # attempts per call (the re-login retry comes on top)
    base_delay: float = 0.5  # first backoff; doubles per attempt, plus up to base_delay of jitter
    max_backoff: float = 60.0  # ceiling for any single wait, Retry-After included


# --------------------------------------------------------------------------- call


def _relogin(relogin: Callable[[], None], endpoint: str, errors: ErrorTable, label: str) -> None:
    """Log in again; a refused login is an AuthenticationError, a transient failure propagates."""
    try:
        relogin()
    except Exception as exc:
        decision = classify(exc, errors)
        if decision.outcome in (Outcome.RETRY, Outcome.RATE_LIMITED) or isinstance(exc, ConnectorError):
            raise
        raise AuthenticationError(
            f"{label}: re-login failed ({decision.reason}) ({endpoint})", status=decision.status,
            code=decision.code,
        ) from exc


def _fatal(exc: BaseException, decision: Decision, system: str, where: str | None, endpoint: str) -> str:
    """The message of a permanent failure: the system, where, what (TLS and 401 in plain words)."""
    if decision.code == "TLS":
        return f"{wording.tls_sentence(system, where, exc)} ({endpoint})"
    label = wording.label(system, where)
    if decision.status == 401 and not decision.reason.startswith("login"):
        credential = wording.CREDENTIALS.get(system, "the credential")
        return f"{label}: {credential} was refused ({decision.reason}) ({endpoint})"
    return f"{label}: {decision.reason} ({endpoint})"


class _Transient(Exception):
    """Internal: one attempt failed in a way worth retrying."""

    def __init__(self, decision: Decision, relogged: bool = False):
        super().__init__(decision.reason)
        self.decision = decision
        self.relogged = relogged


def backoff_delay(policy: RetryPolicy, failures: int) -> float:
    """Jittered exponential backoff after the `failures`-th failure (1-based):
    base_delay * 2**(failures-1) plus up to base_delay of random jitter, at most max_backoff."""
    exponential = policy.base_delay * (2.0 ** max(0, failures - 1))
    return min(policy.max_backoff, exponential + random.uniform(0.0, policy.base_delay))


def call(
    fn: Callable[[], T],
    *,
    system: str,
    endpoint: str,
    counter: CallCounter,
    policy: RetryPolicy,
    errors: ErrorTable,
    relogin: Callable[[], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    where: str | Callable[[], str | None] | None = None,
) -> T:
    """Run `fn` (one API request) under the retry policy and return its result.

    Counts every attempt in `counter` under (system, endpoint); `errors` is the system's error table.
    RETRY and RATE_LIMITED are retried up to
    `policy.max_attempts` attempts in all, then `RetriableAPIError`; RELOGIN calls `relogin()` once and
    retries at once (a second expiry, or no `relogin`, raises `AuthenticationError`); BUDGET raises
    `BudgetExhausted` and FAIL `FatalAPIError` (`AuthenticationError` for a 401) without retrying.
    Exceptions that are not API errors (bugs) propagate unchanged. Each retry is logged once at WARNING.
    Error messages name the system and `where` it was reached (a base URL, or a callable giving it):
    "HubSpot at https://api.hubapi.com: the access token was refused (HTTP 401 ...)".
    """
    relogged = False
    transient_failures = 0
    last_exc: list[BaseException] = []

    def place() -> str | None:
        return where() if callable(where) else where

    def attempt() -> T:
        nonlocal relogged, transient_failures
        counter.add(system, endpoint)
        try:
            return fn()
        except Exception as exc:
            decision = classify(exc, errors)
            outcome = decision.outcome
            if outcome is Outcome.RELOGIN:
                if relogin is None or relogged:
                    label = wording.label(system, place())
                    raise AuthenticationError(
                        f"{label}: session expired again after re-login ({decision.reason}) ({endpoint})"
                        if relogged
                        else f"{label}: session expired and no re-login possible ({endpoint})",
                        status=decision.status,
                        code=decision.code,
                    ) from exc
                relogged = True
                _relogin(relogin, endpoint, errors, wording.label(system, place()))
                raise _Transient(decision, relogged=True) from exc
            if outcome in (Outcome.RETRY, Outcome.RATE_LIMITED):
                transient_failures += 1
                last_exc[:] = [exc]
                raise _Transient(decision) from exc
            if outcome is Outcome.BUDGET:
                if isinstance(exc, BudgetExhausted):
                    raise
                label = wording.label(system, place())
                raise BudgetExhausted(
                    f"{label}: daily API limit reached ({decision.reason}) ({endpoint})"
                ) from exc
            if decision.status is None and decision.code is None:
                raise  # not an API error: a bug, let it surface as it is
            if isinstance(exc, FatalAPIError):
                raise
            err = AuthenticationError if decision.status == 401 else FatalAPIError
            raise err(_fatal(exc, decision, system, place(), endpoint), status=decision.status,
                      code=decision.code) from exc

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, _Transient) or exc.relogged:
            return 0.0
        if exc.decision.outcome is Outcome.RATE_LIMITED and exc.decision.wait is not None:
            return min(exc.decision.wait, policy.max_backoff)
        # exponent counts transient failures only, so a re-login does not inflate the backoff
        return backoff_delay(policy, transient_failures)

    def stop(_state: tenacity.RetryCallState) -> bool:
        return transient_failures >= policy.max_attempts

    def before_sleep(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        reason = exc.decision.reason if isinstance(exc, _Transient) else "?"
        delay = state.upcoming_sleep
        if isinstance(exc, _Transient) and exc.relogged:
            log.warning("%s: session expired (%s), logged in again, retrying", endpoint, reason)
        else:
            problem = (wording.connection_problem(last_exc[0]) if last_exc else None) or reason
            log.warning(
                "%s: %s (%s), retry %d/%d in %.1f s",
                wording.label(system, place()),
                problem,
                endpoint,
                transient_failures + 1,
                policy.max_attempts,
                delay,
            )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(_Transient),
        stop=stop,
        wait=wait,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except _Transient as exc:
        d = exc.decision
        what = (wording.connection_problem(last_exc[0]) if last_exc else None) or d.reason
        raise RetriableAPIError(
            f"{wording.label(system, place())}: {what} after {transient_failures} attempts ({endpoint})",
            status=d.status,
            retry_after=d.wait,
        ) from exc.__cause__


# --------------------------------------------------------------------------- per-record retries


def retry_records(
    items: Sequence[T],
    submit: Callable[[Sequence[T]], list[WriteResult]],
    *,
    policy: RetryPolicy,
    key: Callable[[T], str],
    sleep: Callable[[float], None] = time.sleep,
) -> list[WriteResult]:
    """Submit `items` and resubmit only the records whose result is `retryable` (UNABLE_TO_LOCK_ROW...),
    up to `policy.max_attempts` submissions in all, with backoff between them. Resubmissions are ordered
    by `key` (e.g. the parent id, so rows that lock the same parent travel together).

    `submit` gets a sequence and must return one WriteResult per element, in order. Returns one final
    WriteResult per input item, in input order. An error raised by the first submission propagates
    (nothing of this batch is known to be written); an error raised by a resubmission marks the records
    still pending as failed (retryable, code = the error class) and returns what is known.
    """
    final: list[WriteResult | None] = [None] * len(items)
    pending = list(range(len(items)))
    for submission in range(1, policy.max_attempts + 1):
        batch = [items[i] for i in pending]
        try:
            results = submit(batch)
        except ConnectorError as exc:
            if submission == 1:
                raise
            log.warning(
                "resubmission of %d record(s) failed (%s); leaving them failed",
                len(batch),
                type(exc).__name__,
            )
            for i in pending:
                prev = final[i]
                final[i] = WriteResult(
                    record_id=prev.record_id if prev else key(items[i]),
                    ok=False,
                    error_code=type(exc).__name__,
                    message=str(exc),
                    retryable=True,
                )
            break
        if len(results) != len(batch):
            raise FatalAPIError(f"batch write returned {len(results)} results for {len(batch)} records")
        retry_codes: set[str] = set()
        still: list[int] = []
        for i, result in zip(pending, results, strict=True):
            final[i] = result
            if not result.ok and result.retryable:
                still.append(i)
                retry_codes.add(result.error_code or "?")
        pending = sorted(still, key=lambda i: key(items[i]))
        if not pending or submission == policy.max_attempts:
            break
        delay = backoff_delay(policy, submission)
        log.warning(
            "resubmitting %d record(s) after retryable per-record errors (%s) in %.1f s",
            len(pending),
            ", ".join(sorted(retry_codes)),
            delay,
        )
        sleep(delay)
    return [r for r in final if r is not None]
