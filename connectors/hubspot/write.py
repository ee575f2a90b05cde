"""Writing to HubSpot: contact properties by batch update, list membership by chunked add/remove.

Batch update (100 contacts a call) answers 200, or 207 with per-record `errors`; a 207 is never taken
as success for its failed records: every input gets the result HubSpot reported for it, and an input
HubSpot neither confirmed nor reported is a failure (`UNCONFIRMED`, retryable). Retryable per-record
errors are resubmitted through `connectors.retry.retry_records`, only those records.

Values are checked against the property definitions first (when known), so a value HubSpot would
reject (an enumeration value that is not an option, an unknown property) fails that record alone
instead of the whole batch. If HubSpot still rejects a whole batch with a 400, the records its error
names fail and the rest is sent again; when it names none, the batch is split in halves down to
single records, so every good record is written (see `_isolate`).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    Configuration,
    SimplePublicObjectBatchInput,
)

from connectors import retry
from connectors.base import (
    AuthenticationError,
    ConnectorError,
    FatalAPIError,
    FieldUpdate,
    ListChange,
    Scalar,
    WriteResult,
)
from connectors.hubspot.transport import HubSpotTransport
from connectors.pacing import Sleep

log = logging.getLogger(__name__)

BATCH_UPDATE_SIZE = 100  # HubSpot's maximum inputs per batch update
MEMBERSHIP_CHUNK = 500  # default record ids per membership call (settings' membership_chunk; max unverified)
CONTACT_TYPES = frozenset({"contacts", "contact", "0-1"})
RECORD_MISSING = "RECORD_MISSING"
RETRYABLE_RECORD_ERRORS = frozenset(
    {"RATE_LIMITS", "LOCKED", "CONFLICT", "INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "UNABLE_TO_LOCK_ROW"}
)
MISSING_RECORD_ERRORS = frozenset({"OBJECT_NOT_FOUND", "RESOURCE_NOT_FOUND"})
# The request models' own settings (they only read `client_side_validation` from it). Without one,
# every model object builds a fresh `Configuration` (a CPU count, logger resets): 101 per batch.
MODEL_CONFIG = Configuration()


@dataclass(frozen=True)
class PropertyRule:
    """What a contact property accepts: its type and, for enumerations, the option values."""

    name: str
    type: str
    options: frozenset[str] | None = None
    read_only: bool = False


def to_hubspot_value(value: Scalar) -> str:
    """HubSpot property values are strings: None clears ("") and booleans are lowercase."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_values(values: Mapping[str, str], rules: Mapping[str, PropertyRule]) -> tuple[str, str] | None:
    """(error code, message) for the first value HubSpot would reject, else None."""
    for name, value in values.items():
        rule = rules.get(name)
        if rule is None:
            return "PROPERTY_DOESNT_EXIST", f"property {name!r} does not exist on contacts"
        if rule.read_only:
            return "READ_ONLY_VALUE", f"property {name!r} is read-only"
        if value == "":
            continue
        if rule.type == "enumeration" and rule.options is not None:
            bad = [v for v in value.split(";") if v not in rule.options]
            if bad:
                return "INVALID_OPTION", f"{bad[0]!r} is not an option of {name!r}"
        elif rule.type == "number":
            try:
                float(value)
            except ValueError:
                return "INVALID_NUMBER", f"{value!r} is not a number ({name!r})"
        elif rule.type == "bool" and value not in ("true", "false"):
            return "INVALID_BOOLEAN", f"{value!r} is not a boolean ({name!r})"
    return None


# --------------------------------------------------------------------------- batch update


def update_contacts(transport: HubSpotTransport, updates: Sequence[FieldUpdate], *,
                    rules: Mapping[str, PropertyRule] | None, policy: retry.RetryPolicy,
                    sleep: Sleep = time.sleep) -> list[WriteResult]:
    """One WriteResult per input update, in input order. Updates of the same contact are merged
    (later values win) and share one result.

    If the run must stop (`BudgetExhausted`, `AuthenticationError`, or `RetriableAPIError` after all
    attempts) the error propagates with `.results`: the results of the inputs whose batches finished.
    """
    merged: dict[str, dict[str, str]] = {}
    early: dict[str, WriteResult] = {}
    for upd in updates:
        rid = str(upd.record_id)
        if upd.object_type not in CONTACT_TYPES:
            early[rid] = WriteResult(rid, False, "UNSUPPORTED_OBJECT",
                                     f"the HubSpot connector writes contacts, not {upd.object_type!r}")
            continue
        merged.setdefault(rid, {}).update({k: to_hubspot_value(v) for k, v in upd.values.items()})
    to_send: list[tuple[str, dict[str, str]]] = []
    for rid, values in merged.items():
        if rid in early:
            continue
        problem = check_values(values, rules) if rules is not None else None
        if problem:
            early[rid] = WriteResult(rid, False, problem[0], problem[1])
        elif not values:
            early[rid] = WriteResult(rid, True)
        else:
            to_send.append((rid, values))

    done: dict[str, WriteResult] = dict(early)

    def submit(batch: Sequence[tuple[str, dict[str, str]]]) -> list[WriteResult]:
        out: list[WriteResult] = []
        for start in range(0, len(batch), BATCH_UPDATE_SIZE):
            chunk_results = _submit_update(transport, batch[start:start + BATCH_UPDATE_SIZE])
            done.update((r.record_id, r) for r in chunk_results)  # known even if a later chunk fails
            out.extend(chunk_results)
        return out

    try:
        # the whole set at once, so that records failing retryably anywhere are resubmitted together,
        # in full batches, not one small batch per original batch
        final = retry.retry_records(to_send, submit, policy=policy, key=lambda item: item[0], sleep=sleep)
    except ConnectorError as exc:
        exc.results = [done[str(u.record_id)] for u in updates if str(u.record_id) in done]  # type: ignore[attr-defined]
        raise
    done.update((r.record_id, r) for r in final)
    return [done[str(u.record_id)] for u in updates]


def _submit_update(transport: HubSpotTransport, batch: Sequence[tuple[str, dict[str, str]]],
                   ) -> list[WriteResult]:
    """One batch update call; one result per input in order. A whole-batch 400 is bisected."""
    sent = _send_update(transport, batch)
    return sent if isinstance(sent, list) else _isolate(transport, batch, sent)


def _send_update(transport: HubSpotTransport, batch: Sequence[tuple[str, dict[str, str]]],
                 ) -> list[WriteResult] | FatalAPIError:
    """Per-record results, or the 400 that rejected the whole batch."""
    api = transport.client.crm.contacts.batch_api
    body = BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=rid, properties=values, local_vars_configuration=MODEL_CONFIG)
                for rid, values in batch],
        local_vars_configuration=MODEL_CONFIG,
    )
    try:
        data, _ = transport.request("batch_update", api.update_with_http_info, body, raw=True)
    except FatalAPIError as exc:
        if isinstance(exc, AuthenticationError) or exc.status != 400:
            raise
        return exc
    return map_batch_results([rid for rid, _ in batch], data)


def _isolate(transport: HubSpotTransport, batch: Sequence[tuple[str, dict[str, str]]],
             exc: FatalAPIError) -> list[WriteResult]:
    """Get every good record of a batch HubSpot rejected whole (400) written.

    When the error names records of the batch (`context.ids`, or a bracketed id list in the message,
    as in "Duplicate IDs found in batch input: [123]"), those fail with HubSpot's reason and the rest
    is sent again. Otherwise the batch is split in halves, each sent on its own, down to single
    records: a record that fails alone is the bad one. Each step sends fewer records than the last,
    so this ends; it costs about 2 calls per bad record per halving level (at most 2n - 1 calls when
    every record is refused)."""
    body = _error_body(exc)
    category = str(body.get("category") or exc.code or "VALIDATION_ERROR")
    code = RECORD_MISSING if category in MISSING_RECORD_ERRORS else category
    message = _api_message(exc)
    if len(batch) == 1:
        return [WriteResult(batch[0][0], False, code, message)]
    named = _named_ids(body, {rid for rid, _ in batch})
    if named:
        log.warning("hubspot batch update of %d rejected (%s) naming %d record(s); sending the rest",
                    len(batch), category, len(named))
        rest = [item for item in batch if item[0] not in named]
        done = {r.record_id: r for r in (_submit_update(transport, rest) if rest else [])}
        return [WriteResult(rid, False, code, message) if rid in named else done[rid]
                for rid, _ in batch]
    log.warning("hubspot batch update of %d rejected (%s); splitting to isolate the bad records",
                len(batch), category)
    half = len(batch) // 2
    return [r for part in (batch[:half], batch[half:]) for r in _submit_update(transport, part)]


ID_LIST = re.compile(r"\[([0-9,\s\"']+)\]")  # a bracketed list of numeric ids, e.g. "[123, 456]"


def _named_ids(body: Mapping[str, Any], batch_ids: set[str]) -> set[str]:
    """The records of the batch a whole-batch error names: `context.ids` / `context.id`, or bracketed
    lists of numeric ids in the message (never bare numbers: a property message holds values too)."""
    context = body.get("context") or {}
    named: set[str] = set()
    if isinstance(context, Mapping):
        for key in ("ids", "id"):
            value = context.get(key) or []
            named |= {str(v) for v in ([value] if isinstance(value, str | int) else value)}
    for listed in ID_LIST.findall(str(body.get("message") or "")):
        named |= {part.strip(" \"'") for part in listed.split(",")}
    return named & batch_ids


def map_batch_results(ids: Sequence[str], data: Mapping[str, Any] | None) -> list[WriteResult]:
    """Per-input results of a batch answer (200 or 207 JSON), in `ids` order. An input neither in
    `results` nor in `errors` is a retryable failure: HubSpot did not confirm it."""
    data = data or {}
    confirmed = {str(obj.get("id")) for obj in data.get("results") or []}
    failed: dict[str, WriteResult] = {}
    for err in data.get("errors") or []:
        category = str(err.get("category") or "ERROR")
        context = err.get("context") or {}
        err_ids = context.get("ids") or context.get("id") or []
        if isinstance(err_ids, str):
            err_ids = [err_ids]
        code = RECORD_MISSING if category in MISSING_RECORD_ERRORS else category
        for rid in err_ids:
            failed[str(rid)] = WriteResult(str(rid), False, code, err.get("message"),
                                           retryable=category in RETRYABLE_RECORD_ERRORS)
    out = []
    for rid in ids:
        if rid in failed:
            out.append(failed[rid])
        elif rid in confirmed:
            out.append(WriteResult(rid, True))
        else:
            out.append(WriteResult(rid, False, "UNCONFIRMED", "HubSpot neither confirmed nor rejected "
                                   "this record", retryable=True))
    return out


def _error_body(exc: BaseException) -> dict[str, Any]:
    """The decoded HubSpot error body behind `exc`, or {}."""
    raw = getattr(exc.__cause__, "body", None)
    try:
        body = json.loads(raw) if raw else None
    except (ValueError, TypeError):
        body = None
    return body if isinstance(body, dict) else {}


def _api_message(exc: BaseException) -> str:
    """The `message` of the HubSpot error body behind `exc` (truncated), else the error text."""
    return str(_error_body(exc).get("message") or exc)[:500]


# --------------------------------------------------------------------------- list membership


def change_memberships(transport: HubSpotTransport, changes: Sequence[ListChange],
                       resolve: Callable[[str, str | None], str | None], *,
                       chunk_size: int = MEMBERSHIP_CHUNK) -> list[WriteResult]:
    """Add/remove records to/from MANUAL lists named in `changes`; one WriteResult per change, in
    input order, at most `chunk_size` ids per call. `resolve(name, None)` gives the list id (None: no
    such list -> `LIST_NOT_FOUND`); when HubSpot answers 404 for that id (the list was deleted),
    `resolve(name, gone_id)` forgets it and looks the name up again, and the call is made once more
    with the id found, if any.
    `recordIdsMissing` (merged or deleted contacts) -> `RECORD_MISSING`. A record already in (or
    not in) the list is a success. For the same list and record, the last change wins; earlier
    ones are reported as successes superseded by it."""
    final: dict[tuple[str, str], int] = {}
    for i, ch in enumerate(changes):
        final[(ch.list_name, str(ch.record_id))] = i
    outcome: dict[int, WriteResult] = {}
    by_list: dict[str, dict[str, list[int]]] = {}
    for (name, _rid), i in final.items():
        by_list.setdefault(name, {"add": [], "remove": []})[changes[i].op].append(i)

    try:
        for name, ops in by_list.items():
            list_id = resolve(name, None)
            for op, indexes in ops.items():
                for start in range(0, len(indexes), chunk_size):
                    chunk = indexes[start:start + chunk_size]
                    ids = [str(changes[i].record_id) for i in chunk]
                    if list_id is not None:
                        try:
                            answers = _membership_call(transport, list_id, op, ids)
                        except _ListGone:
                            list_id = resolve(name, list_id)
                            answers = (_membership_call(transport, list_id, op, ids, gone_is_final=True)
                                       if list_id is not None else [])
                    if list_id is None:
                        answers = [_no_list(name, rid) for rid in ids]
                    for i, res in zip(chunk, answers, strict=True):
                        outcome[i] = res
    except ConnectorError as exc:
        exc.results = [outcome[i] for i in range(len(changes)) if i in outcome]  # type: ignore[attr-defined]
        raise

    results = []
    for i, ch in enumerate(changes):
        last = final[(ch.list_name, str(ch.record_id))]
        results.append(outcome[i] if i == last else WriteResult(
            str(ch.record_id), True, message=f"superseded by a later {changes[last].op}"))
    return results


def _no_list(name: str, record_id: str) -> WriteResult:
    return WriteResult(record_id, False, "LIST_NOT_FOUND",
                       f"HubSpot list {name!r} does not exist (run setup)")


class _ListGone(Exception):
    """HubSpot answered 404 for a list id: the list was deleted (or never existed)."""


def _membership_call(transport: HubSpotTransport, list_id: str, op: str, ids: list[str], *,
                     gone_is_final: bool = False) -> list[WriteResult]:
    api = transport.client.crm.lists.memberships_api
    method = api.add_with_http_info if op == "add" else api.remove_with_http_info
    try:
        data, _ = transport.request("memberships", method, list_id, ids)
    except FatalAPIError as exc:
        if isinstance(exc, AuthenticationError) or exc.status not in (400, 404):
            raise
        if exc.status == 404 and not gone_is_final:
            raise _ListGone(list_id) from exc
        return [WriteResult(rid, False, exc.code or f"HTTP_{exc.status}", _api_message(exc)) for rid in ids]
    missing = {str(r) for r in (getattr(data, "record_ids_missing", None) or [])}
    return [WriteResult(rid, False, RECORD_MISSING, "contact does not exist (merged or deleted)")
            if rid in missing else WriteResult(rid, True) for rid in ids]
