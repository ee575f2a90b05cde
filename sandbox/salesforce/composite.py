"""sObject Collections: create (POST), update (PATCH), delete (DELETE ?ids=), retrieve (GET) and upsert by
external id (PATCH composite/sobjects/{Obj}/{Field}); at most 200 records; results in request order.

With allOrNone=true one failed record rolls every write of the request back and the others report
ALL_OR_NONE_OPERATION_ROLLED_BACK. Per-record faults (`record` rules on salesforce.collections, e.g.
UNABLE_TO_LOCK_ROW) fail single records as a locked row would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from .api import json_response, read_json
from .errors import ApiError, RecordError
from .ids import normalize_id
from .rest import record_json

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

MAX_RECORDS = 200
ENDPOINT = "salesforce.collections"
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}
Operation = Callable[[], tuple[str, bool | None]]  # -> (Id, created or None)


LOCK_MESSAGE = "unable to obtain exclusive access to this record or 1 records: {id}"
# What real orgs answer per record on writes (REST API guide, sObject Collections, facts §10). The code
# is real; the message text depends on the org (a validation rule's or a flow's own text): these are
# representative, marked "(sandbox)" where made up. `record` fault ARG: a code, or
# CANNOT_EXECUTE_FLOW_TRIGGER/<CODE> for a flow failing with <CODE> inside (e.g. UNABLE_TO_LOCK_ROW).
ORG_ERRORS: dict[str, tuple[str, list[str]]] = {
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": (
        "Lead score cannot change while the contact is in an open sales sequence (sandbox validation rule)",
        [],
    ),
    "DUPLICATES_DETECTED": ("Use one of these records?", []),  # the REST guide's own example
    "ENTITY_IS_LOCKED": ("the entity is locked for editing", []),
    "INSUFFICIENT_ACCESS_OR_READONLY": ("insufficient access rights on object id", []),
    "FIELD_INTEGRITY_EXCEPTION": ("field integrity exception: unknown (sandbox)", []),
    "INACTIVE_OWNER_OR_USER": ("operation performed with inactive user: []", []),
}
FLOW_MESSAGE = (
    "We can't save this record because the \u201cLeadsync Contact Update\u201d process failed. Give your "
    "Salesforce admin these details. This error occurred when the flow tried to update records: {inner}. "
    "You can look up ExceptionCode values in the SOAP API Developer Guide. Error ID: 1234567890-12345 "
    "(-1234567890)"
)


def injected_error(code: str, record_id: str | None) -> RecordError:
    outer, _, inner = code.partition("/")
    if outer == "UNABLE_TO_LOCK_ROW":
        return RecordError(outer, LOCK_MESSAGE.format(id=record_id or "").rstrip(), [])
    if outer == "CANNOT_EXECUTE_FLOW_TRIGGER":
        inner = inner or "FIELD_CUSTOM_VALIDATION_EXCEPTION"
        detail = (LOCK_MESSAGE.format(id=record_id or "").rstrip() if inner == "UNABLE_TO_LOCK_ROW"
                  else ORG_ERRORS.get(inner, (f"sandbox fault injection: {inner}", []))[0])
        return RecordError(outer, FLOW_MESSAGE.format(inner=f"{inner}: {detail}"), [])
    if outer in ORG_ERRORS:
        message, fields = ORG_ERRORS[outer]
        return RecordError(outer, message, list(fields))
    return RecordError(outer, f"sandbox fault injection: {outer}", [])


def run_batch(
    emu: SalesforceEmulator,
    ops: list[tuple[str | None, Operation]],
    all_or_none: bool,
    endpoint: str = ENDPOINT,
) -> list[dict[str, Any]]:
    """Run each (known id, operation) in order; per-record results, rolled back on allOrNone failure.
    A failed record's result carries the id it was sent with when that id is well-formed."""
    results: list[dict[str, Any]] = []
    failed = False
    with emu.store.atomic() as journal:
        for known_id, op in ops:
            try:
                code = emu.faults.draw_record(endpoint)
                if code is not None:
                    raise injected_error(code, known_id)
                rid, created = op()
                result: dict[str, Any] = {"id": rid, "success": True, "errors": []}
                if created is not None:
                    result["created"] = created
            except RecordError as exc:
                failed = True
                result = {"success": False, "errors": [exc.as_result_error()]}
                if known_id is not None:
                    result = {"id": known_id, **result}
            results.append(result)
        if failed and all_or_none:
            journal.rollback()
            for i, result in enumerate(results):
                if result["success"]:
                    known = ops[i][0]
                    results[i] = {
                        **({"id": known} if known else {}),
                        "success": False,
                        "errors": [dict(ROLLED_BACK)],
                    }
    return results


def _records(body: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must be an object with a records array")
    records = body["records"]
    if len(records) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    if not all(isinstance(r, dict) for r in records):
        raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
    return records, bool(body.get("allOrNone", False))


def _type_of(record: dict[str, Any]) -> str:
    sobject = (record.get("attributes") or {}).get("type")
    if not sobject:
        raise RecordError("INVALID_TYPE", "Must send a concrete entity type.", [])
    return str(sobject)


def _fields(record: dict[str, Any], *drop: str) -> dict[str, Any]:
    lowered = {d.lower() for d in drop} | {"attributes"}
    return {k: v for k, v in record.items() if k.lower() not in lowered}


async def collections(emu: SalesforceEmulator, request: Request) -> Response:
    method = request.method
    if method == "DELETE":
        return _delete(emu, request)
    if method == "GET":
        raise ApiError(400, "MALFORMED_QUERY", "Use GET composite/sobjects/{sObject}?ids=...&fields=...")
    records, all_or_none = _records(await read_json(request))
    ops: list[tuple[str | None, Operation]] = []
    for record in records:
        if method == "POST":
            ops.append((None, _create_op(emu, record)))
        else:
            raw_id = record.get("id", record.get("Id"))
            ops.append((normalize_id(raw_id), _update_op(emu, record, raw_id)))
    return json_response(run_batch(emu, ops, all_or_none))


def _create_op(emu: SalesforceEmulator, record: dict[str, Any]) -> Operation:
    def op() -> tuple[str, None]:
        if "id" in record or "Id" in record:
            raise RecordError("INVALID_FIELD", "Records with an id cannot be created", ["Id"])
        return emu.store.create(_type_of(record), _fields(record)), None

    return op


def _update_op(emu: SalesforceEmulator, record: dict[str, Any], raw_id: Any) -> Operation:
    def op() -> tuple[str, None]:
        if not raw_id:
            raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", [])
        emu.store.update(_type_of(record), str(raw_id), _fields(record, "id"))
        return normalize_id(raw_id) or str(raw_id), None

    return op


def _delete(emu: SalesforceEmulator, request: Request) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > MAX_RECORDS:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"

    def delete_op(raw: str) -> Operation:
        def op() -> tuple[str, None]:
            rid = normalize_id(raw)
            obj = emu.store.schema.by_prefix(rid) if rid else None
            if rid is None or obj is None:
                raise RecordError("MALFORMED_ID", f"malformed id {raw}", [])
            emu.store.delete(obj.name, rid)
            return rid, None

        return op

    return json_response(run_batch(emu, [(normalize_id(raw), delete_op(raw)) for raw in ids], all_or_none))


async def retrieve(emu: SalesforceEmulator, request: Request) -> Response:
    sobject, version = request.path_params["sobject"], request.path_params["version"]
    ids = [i for i in request.query_params.get("ids", "").split(",") if i]
    wanted = request.query_params.get("fields", "")
    if not ids or not wanted:
        raise ApiError(400, "MISSING_ARGUMENT", "ids and fields parameters are required")
    if len(ids) > 2000:
        raise ApiError(400, "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 2000 records")
    fields = [f.strip().lower() for f in wanted.split(",")]
    out: list[dict[str, Any] | None] = []
    with emu.store.lock:
        table = emu.store.table(sobject)
        for raw in ids:
            rid = normalize_id(raw)
            rec = table.rows.get(rid) if rid else None
            out.append(
                record_json(emu, sobject, rec, version, fields)
                if rec is not None and not rec.get("IsDeleted")
                else None
            )
    return json_response(out)


async def upsert(emu: SalesforceEmulator, request: Request) -> Response:
    sobject, field = request.path_params["sobject"], request.path_params["field"]
    records, all_or_none = _records(await read_json(request))

    def upsert_op(record: dict[str, Any]) -> Operation:
        def op() -> tuple[str, bool]:
            if _type_of(record).lower() != sobject.lower():
                raise RecordError(
                    "INVALID_TYPE", f"Record type {_type_of(record)} does not match {sobject}", []
                )
            value = next((v for k, v in record.items() if k.lower() == field.lower()), None)
            return emu.store.upsert(sobject, field, value, _fields(record))

        return op

    return json_response(run_batch(emu, [(None, upsert_op(r)) for r in records], all_or_none))
