"""Writing to Salesforce through sObject Collections (200 records a call, allOrNone=false) and, above a
threshold, Bulk API 2.0 ingest. Per-record results become WriteResults; UNABLE_TO_LOCK_ROW records are
resubmitted on their own (`retry_records`; which codes: `errors.record_retryable`), the others
carry a hint of what to check in the org (`hints`). The budget is checked before each batch, never
inside one.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any, TypeVar

from connectors.base import CallTask, FatalAPIError, FieldUpdate, Scalar, WriteResult
from connectors.retry import retry_records
from connectors.salesforce.bulk import BulkOptions, ingest_update
from connectors.salesforce.client import COLLECTIONS, SalesforceClient
from connectors.salesforce.errors import record_retryable
from connectors.salesforce.hints import with_hint
from connectors.salesforce.owners import assign_owners
from connectors.salesforce.read import chunks, field_name
from connectors.salesforce.task_index import TASK_KEY_FIELD, TaskIndex, existing_tasks

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_COLLECTION = 200  # sObject Collections: records per request
BULK_JOB_MAX = 100_000  # records per Bulk API 2.0 ingest job (keeps each CSV upload a few MB)
TASK_STATUS = "Not Started"
DESCRIPTION_MAX = 32_000


def record_result(
    record_id: str,
    item: Mapping[str, Any] | None,
    *,
    ok_codes: frozenset[str] = frozenset(),
    keep_id: bool = False,
) -> WriteResult:
    """A WriteResult from one element of a Collections response (`{"id","success","errors"}`).
    `ok_codes` are errors that mean the desired state already holds (e.g. DUPLICATE_VALUE on add)."""
    if item is None:
        return WriteResult(
            record_id,
            ok=False,
            error_code="MISSING_RESULT",
            retryable=True,
            message="no result for this record in the response",
        )
    if item.get("success"):
        return WriteResult(record_id, ok=True, created_id=item.get("id") if keep_id else None)
    errors = item.get("errors") or [{}]
    code = str(errors[0].get("statusCode") or "UNKNOWN_ERROR")
    message = errors[0].get("message")
    if code in ok_codes:
        return WriteResult(record_id, ok=True, error_code=None, message=f"{code}: {message}")
    retryable = record_retryable(code, message)
    fields = errors[0].get("fields") or []
    if fields:
        message = f"{message} (fields: {', '.join(map(str, fields))})"
    return WriteResult(
        record_id, ok=False, error_code=code, message=with_hint(code, message), retryable=retryable
    )


def _aligned(response: Any, n: int) -> list[Mapping[str, Any]]:
    items = list(response or [])
    if len(items) != n:
        raise FatalAPIError(f"sObject Collections answered {len(items)} results for {n} records")
    return items


def in_batches(
    client: SalesforceClient,
    items: Sequence[T],
    submit: Callable[[Sequence[T]], list[WriteResult]],
    key: Callable[[T], str],
    size: int = MAX_COLLECTION,
) -> list[WriteResult]:
    """Submit `items` in batches of `size`: budget check before each batch, per-record retries inside."""
    out: list[WriteResult] = []
    for batch in chunks(items, size):
        client.check_budget()
        out.extend(retry_records(batch, submit, policy=client.policy, key=key, sleep=client.sleep))
    return out


def collections(
    client: SalesforceClient,
    method: str,
    records: Sequence[Mapping[str, Any]],
    path: str = "composite/sobjects",
) -> list[Mapping[str, Any]]:
    """One sObject Collections request (PATCH update / POST create / PATCH upsert)."""
    body = {"allOrNone": False, "records": list(records)}
    return _aligned(client.restful(COLLECTIONS, path, method=method, json=body), len(records))


def delete_records(client: SalesforceClient, ids: Sequence[str]) -> list[WriteResult]:
    """Delete by id, 200 a call; an id that is already gone counts as deleted."""

    def submit(batch: Sequence[str]) -> list[WriteResult]:
        response = client.restful(
            COLLECTIONS,
            "composite/sobjects",
            method="DELETE",
            params={"ids": ",".join(batch), "allOrNone": "false"},
        )
        gone = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY", "NOT_FOUND"})
        return [
            record_result(i, r, ok_codes=gone)
            for i, r in zip(batch, _aligned(response, len(batch)), strict=True)
        ]

    return in_batches(client, list(ids), submit, key=str)


# --------------------------------------------------------------------------- field updates


def _update_record(update: FieldUpdate) -> dict[str, Scalar | dict[str, str]]:
    values = {field_name(k): v for k, v in update.values.items() if k != "Id"}
    return {"attributes": {"type": field_name(update.object_type)}, "id": update.record_id, **values}


def _collections_update(client: SalesforceClient, batch: Sequence[FieldUpdate]) -> list[WriteResult]:
    out: list[WriteResult] = []
    for part in chunks(batch, MAX_COLLECTION):
        items = collections(client, "PATCH", [_update_record(u) for u in part])
        out.extend(record_result(u.record_id, r) for u, r in zip(part, items, strict=True))
    return out


def update_fields(
    client: SalesforceClient,
    updates: Sequence[FieldUpdate],
    *,
    bulk_threshold: int,
    bulk_options: BulkOptions = BulkOptions(),
) -> list[WriteResult]:
    """Apply field updates; one WriteResult per update, in input order. Per object type: sObject
    Collections in batches of 200, or Bulk API 2.0 ingest when more than `bulk_threshold` updates."""
    results: list[WriteResult | None] = [None] * len(updates)
    by_type: dict[str, list[int]] = defaultdict(list)
    for i, update in enumerate(updates):
        by_type[update.object_type].append(i)
    for sobject, indices in by_type.items():
        items = [updates[i] for i in indices]
        if len(items) > bulk_threshold:

            def submit(batch: Sequence[FieldUpdate], sobject: str = sobject) -> list[WriteResult]:
                if len(batch) <= bulk_threshold:  # a few lock-row resubmissions: Collections
                    return _collections_update(client, batch)
                rows = [{"Id": u.record_id, **{field_name(k): v for k, v in u.values.items()}} for u in batch]
                return ingest_update(client, field_name(sobject), rows, bulk_options)

            out = in_batches(client, items, submit, key=lambda u: u.record_id, size=BULK_JOB_MAX)
        else:
            out = in_batches(
                client, items, lambda b: _collections_update(client, b), key=lambda u: u.record_id
            )
        for i, result in zip(indices, out, strict=True):
            results[i] = result
    return [r for r in results if r is not None]


# --------------------------------------------------------------------------- tasks


def _task_record(task: CallTask) -> dict[str, Any]:
    record: dict[str, Any] = {
        "attributes": {"type": "Task"},
        TASK_KEY_FIELD: task.cycle_key,
        "Subject": task.subject[:255],
        "Description": task.description[:DESCRIPTION_MAX],
        "Status": TASK_STATUS,
        "WhoId": task.contact_id,
        "ActivityDate": task.due_date.isoformat(),
    }
    if task.what_id:
        record["WhatId"] = task.what_id
    if task.owner_id:
        record["OwnerId"] = task.owner_id
    return record


def create_tasks(
    client: SalesforceClient,
    tasks: Sequence[CallTask],
    *,
    inactive_owner: str = "account_owner",
    owner_cache: MutableMapping[str, bool] | None = None,
    index: TaskIndex | None = None,
    account_cache: MutableMapping[str, tuple[str | None, bool]] | None = None,
) -> list[WriteResult]:
    """One open Task per cycle key: keys that already have a task are reported ok with its id and left
    alone (never a second task, never reopened); the rest are upserted by the external id
    Leadsync_Cycle_Key__c, so a retry after a crash or a dropped connection cannot duplicate them.
    A task whose owner is an inactive user goes where `inactive_owner` says (`owners.assign_owners`:
    the account owner, a given user or queue, or a failure INACTIVE_OWNER_OR_USER).
    WriteResult.record_id is the cycle key; created_id the Task id. With an `index` (one per run),
    existing tasks are learned once per run (`task_index`); without, by IN-list queries on these keys."""
    keys = [t.cycle_key for t in tasks]
    existing = index.existing(keys) if index is not None else existing_tasks(client, keys)[0]
    todo: dict[str, CallTask] = {}
    for task in tasks:
        if task.cycle_key not in existing:
            todo.setdefault(task.cycle_key, task)
    ready, refused = assign_owners(
        client, list(todo.values()), inactive_owner, {} if owner_cache is None else owner_cache,
        account_cache,
    )

    def submit(batch: Sequence[CallTask]) -> list[WriteResult]:
        items = collections(
            client,
            "PATCH",
            [_task_record(t) for t in batch],
            path=f"composite/sobjects/Task/{TASK_KEY_FIELD}",
        )
        return [record_result(t.cycle_key, r, keep_id=True) for t, r in zip(batch, items, strict=True)]

    try:
        results = in_batches(client, ready, submit, key=lambda t: t.contact_id)
    except BaseException:
        if index is not None:
            index.doubt([t.cycle_key for t in ready])
        raise
    if index is not None:
        for r in results:
            if r.ok and r.created_id:
                index.created(r.record_id, r.created_id)
            else:
                index.doubt([r.record_id])
    written = {r.record_id: r for r in results}
    written.update(refused)
    out = []
    for task in tasks:
        if task.cycle_key in existing:
            out.append(
                WriteResult(
                    task.cycle_key,
                    ok=True,
                    created_id=existing[task.cycle_key],
                    message="task for this cycle already exists",
                )
            )
        else:
            out.append(written[task.cycle_key])
    return out
