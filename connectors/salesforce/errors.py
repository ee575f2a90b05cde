"""Salesforce's error codes as the retry layer reads them (REST API Developer Guide, "Status Codes and
Error Responses"; simple-salesforce raises the decoded body). Salesforce sends no 429: every limit is a
403 REQUEST_LIMIT_EXCEEDED, the daily total or, with "ConcurrentPerOrgLongTxn" in its message, the
concurrent long-running requests."""

from __future__ import annotations

from connectors.error_table import ErrorTable

SALESFORCE_ERRORS = ErrorTable(
    "salesforce",
    retry_codes=frozenset({"UNABLE_TO_LOCK_ROW"}),
    relogin_codes=frozenset({"INVALID_SESSION_ID"}),
    budget_codes=frozenset({"REQUEST_LIMIT_EXCEEDED"}),
    concurrent_marker="concurrent",
    transient_login_codes=frozenset({"UNKNOWN_EXCEPTION", "SERVER_UNAVAILABLE", "unknown_error"}),
)

# Per-record error codes in a batch answer (sObject Collections, Bulk ingest results): only these are
# resubmitted. CANNOT_EXECUTE_FLOW_TRIGGER is a flow or process failing on the record; it is transient
# only when the flow's own error was a lock (a captured real message wraps "UNABLE_TO_LOCK_ROW: unable
# to obtain exclusive access to this record", gitlab customers-gitlab-com #13770). Every other code
# (FIELD_CUSTOM_VALIDATION_EXCEPTION, DUPLICATES_DETECTED, ENTITY_IS_LOCKED,
# INSUFFICIENT_ACCESS_OR_READONLY, FIELD_INTEGRITY_EXCEPTION, INACTIVE_OWNER_OR_USER, ...) is data or org
# configuration: retrying cannot help, the record is reported and planned again on the next run.
RECORD_RETRY_CODES = SALESFORCE_ERRORS.retry_codes
RECORD_WRAPPING_CODES = frozenset({"CANNOT_EXECUTE_FLOW_TRIGGER"})


def record_retryable(code: str | None, message: str | None) -> bool:
    """Whether one record's error in a batch answer is worth resubmitting (with backoff)."""
    if code in RECORD_RETRY_CODES:
        return True
    if code in RECORD_WRAPPING_CODES:
        return any(lock in (message or "") for lock in RECORD_RETRY_CODES)
    return False
