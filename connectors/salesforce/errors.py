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
