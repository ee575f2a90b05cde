"""REST resources: query / queryAll with paging, sObject CRUD and external-id upsert, describe, limits."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from . import describe
from .api import json_response, read_json
from .errors import ApiError, RecordError, not_found
from .ids import make_id, normalize_id
from .query import Compiled
from .store import Record, value_of
from .values import to_json

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

PAGE_SIZE = 2000
LONG_TEXT_PAGE_SIZE = 200
MIN_BATCH = 200
MAX_CURSORS = 1000
_BATCH_RE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)
_LOCATOR_RE = re.compile(r"^(01g[0-9A-Za-z]{15})-(\d+)$")


@dataclass
class Cursor:
    compiled: Compiled
    rows: list[Record]
    include_deleted: bool
    batch: int


class Cursors:
    """Open query locators (the most recent MAX_CURSORS are kept, like the org's per-user limit)."""

    def __init__(self) -> None:
        self._open: OrderedDict[str, Cursor] = OrderedDict()
        self._counter = 0
        self._lock = threading.Lock()

    def open(self, cursor: Cursor) -> str:
        with self._lock:
            self._counter += 1
            locator = make_id("01g", self._counter)
            self._open[locator] = cursor
            while len(self._open) > MAX_CURSORS:
                self._open.popitem(last=False)
            return locator

    def get(self, locator: str) -> Cursor | None:
        with self._lock:
            return self._open.get(locator)

    def clear(self) -> None:
        with self._lock:
            self._open.clear()


def batch_size(request: Request, compiled: Compiled) -> int:
    size = PAGE_SIZE
    match = _BATCH_RE.search(request.headers.get("sforce-query-options", ""))
    if match:
        size = max(MIN_BATCH, min(PAGE_SIZE, int(match.group(1))))
    if compiled.long_text_fields >= 2:
        size = min(size, LONG_TEXT_PAGE_SIZE)
    return size


def _page_rows(emu: SalesforceEmulator, cursor: Cursor, start: int) -> list[Record]:
    """The rows of the page from `start`: at most `batch` rows, child subquery rows counted with their
    parent ("Child objects count toward the number of records for the batch size": SOAP API Developer
    Guide, QueryOptions; the REST query pages the same way), at least one parent per page."""
    if not cursor.compiled.spec.children:
        return cursor.rows[start : start + cursor.batch]
    out: list[Record] = []
    used = 0
    for rec in cursor.rows[start:]:
        cost = 1 + emu.engine.children_cost(cursor.compiled, rec, include_deleted=cursor.include_deleted)
        if out and used + cost > cursor.batch:
            break
        out.append(rec)
        used += cost
    return out


def _page(
    emu: SalesforceEmulator, version: str, cursor: Cursor, locator: str | None, start: int, endpoint: str
) -> dict[str, Any]:
    rows = _page_rows(emu, cursor, start)

    def overflow(child: Compiled, kids: list[Record], given: int) -> str:
        """A child result's nextRecordsUrl: its own cursor over all the parent's child rows."""
        child_locator = emu.cursors.open(Cursor(child, kids, cursor.include_deleted, PAGE_SIZE))
        return f"/services/data/v{version}/{endpoint}/{child_locator}-{given}"

    records = [
        emu.engine.render(cursor.compiled, r, version, include_deleted=cursor.include_deleted,
                          overflow=overflow)
        for r in rows
    ]
    body: dict[str, Any] = {"totalSize": len(cursor.rows), "done": True}
    end = start + len(rows)
    if end < len(cursor.rows):
        if locator is None:  # the first page was smaller than the batch (child rows): open it now
            locator = emu.cursors.open(cursor)
        body["done"] = False
        body["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{end}"
    body["records"] = records
    return body


async def query(emu: SalesforceEmulator, request: Request, include_deleted: bool) -> Response:
    text = request.query_params.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    version = request.path_params["version"]
    with emu.store.lock:
        compiled = emu.engine.compile(text, emu.store.now().date())
        rows = emu.engine.rows(compiled, include_deleted=include_deleted)
        if compiled.count is not None:
            total = emu.engine.count(compiled, rows)
            if compiled.count.field is None:
                return json_response({"totalSize": total, "done": True, "records": []})
            return json_response(
                {
                    "totalSize": 1,
                    "done": True,
                    "records": [{"attributes": {"type": "AggregateResult"}, "expr0": total}],
                }
            )
        cursor = Cursor(compiled, rows, include_deleted, batch_size(request, compiled))
        locator = emu.cursors.open(cursor) if len(rows) > cursor.batch else None
        endpoint = "queryAll" if include_deleted else "query"
        return json_response(_page(emu, version, cursor, locator, 0, endpoint))


async def query_more(emu: SalesforceEmulator, request: Request) -> Response:
    version = request.path_params["version"]
    match = _LOCATOR_RE.match(request.path_params["locator"])
    cursor = emu.cursors.get(match.group(1)) if match else None
    if match is None or cursor is None:
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    endpoint = request.url.path.split("/")[4]
    with emu.store.lock:
        return json_response(_page(emu, version, cursor, match.group(1), int(match.group(2)), endpoint))


# ------------------------------------------------------------------ sObjects
def record_json(
    emu: SalesforceEmulator, sobject: str, rec: Record, version: str, fields: list[str] | None = None
) -> dict[str, Any]:
    obj = emu.store.table(sobject).obj
    out: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": f"/services/data/v{version}/sobjects/{obj.name}/{rec['Id']}"}
    }
    for f in obj.fields:
        if fields is None or f.name.lower() in fields:
            out[f.name] = to_json(f, value_of(rec, f))
    return out


def _live_record(emu: SalesforceEmulator, sobject: str, record_id: str) -> Record:
    table = emu.store.table(sobject)
    rid = normalize_id(record_id)
    rec = table.rows.get(rid) if rid else None
    if rec is None or rec.get("IsDeleted"):
        raise not_found()
    return rec


async def describe_global(emu: SalesforceEmulator, request: Request) -> Response:
    return json_response(describe.describe_global(emu.store.schema, request.path_params["version"]))


async def describe_sobject(emu: SalesforceEmulator, request: Request) -> Response:
    obj = emu.store.table(request.path_params["sobject"]).obj
    return json_response(describe.describe_object(obj, request.path_params["version"]))


async def sobject_basic(emu: SalesforceEmulator, request: Request) -> Response:
    obj = emu.store.table(request.path_params["sobject"]).obj
    return json_response(
        {"objectDescribe": describe.sobject_summary(obj, request.path_params["version"]), "recentItems": []}
    )


async def create(emu: SalesforceEmulator, request: Request) -> Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from the request body"
        )
    rid = emu.store.create(request.path_params["sobject"], body)
    return json_response({"id": rid, "success": True, "errors": []}, 201)


async def get_record(emu: SalesforceEmulator, request: Request) -> Response:
    sobject, version = request.path_params["sobject"], request.path_params["version"]
    wanted = request.query_params.get("fields")
    fields = [f.strip().lower() for f in wanted.split(",")] if wanted else None
    with emu.store.lock:
        rec = _live_record(emu, sobject, request.path_params["record_id"])
        return json_response(record_json(emu, sobject, rec, version, fields))


async def update(emu: SalesforceEmulator, request: Request) -> Response:
    sobject = request.path_params["sobject"]
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(
            400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from the request body"
        )
    with emu.store.lock:
        _live_record(emu, sobject, request.path_params["record_id"])
        emu.store.update(sobject, request.path_params["record_id"], body)
    return Response(status_code=204)


async def delete(emu: SalesforceEmulator, request: Request) -> Response:
    sobject, record_id = request.path_params["sobject"], request.path_params["record_id"]
    with emu.store.lock:
        table = emu.store.table(sobject)
        rid = normalize_id(record_id)
        rec = table.rows.get(rid) if rid else None
        if rec is None:
            raise not_found()
        if rec.get("IsDeleted"):
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        emu.store.delete(sobject, record_id)
    return Response(status_code=204)


def _by_external_id(emu: SalesforceEmulator, sobject: str, field: str, value: str) -> list[Record]:
    table = emu.store.table(sobject)
    fd = table.obj.field(field)
    if fd is None or not fd.external_id:
        raise not_found()
    return [
        table.rows[r] for r in sorted(table.eq[fd.name].find(value)) if not table.rows[r].get("IsDeleted")
    ]


async def get_by_external_id(emu: SalesforceEmulator, request: Request) -> Response:
    p = request.path_params
    with emu.store.lock:
        matches = _by_external_id(emu, p["sobject"], p["field"], p["value"])
        if not matches:
            raise not_found()
        if len(matches) > 1:
            return json_response(
                [f"/services/data/v{p['version']}/sobjects/{p['sobject']}/{r['Id']}" for r in matches], 300
            )
        return json_response(record_json(emu, p["sobject"], matches[0], p["version"]))


async def upsert(emu: SalesforceEmulator, request: Request) -> Response:
    p = request.path_params
    body = await read_json(request) or {}
    try:
        rid, created = emu.store.upsert(p["sobject"], p["field"], p["value"], body)
    except RecordError as exc:
        if exc.status_code == "MULTIPLE_CHOICES":
            return json_response(
                [f"/services/data/v{p['version']}/sobjects/{p['sobject']}/{r}" for r in exc.fields], 300
            )
        raise
    return json_response(
        {"id": rid, "success": True, "errors": [], "created": created}, 201 if created else 200
    )


async def limits(emu: SalesforceEmulator, request: Request) -> Response:
    used = emu.api_used
    return json_response(
        {
            "DailyApiRequests": {"Max": emu.daily_limit, "Remaining": max(0, emu.daily_limit - used)},
            "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - emu.bulk.query_jobs_created},
            "DailyBulkV2QueryFileStorageMB": {"Max": 1024000, "Remaining": 1024000},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000 - emu.bulk.ingest_jobs_created},
            "DataStorageMB": {"Max": 1024, "Remaining": 1024},
            "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
        }
    )


async def versions(emu: SalesforceEmulator, request: Request) -> Response:
    """GET /services/data/ (no authentication): the versions served, oldest first, as
    [{"label": "Summer '14", "url": "/services/data/v31.0", "version": "31.0"}, ...] (facts §14)."""
    newest = int(float(emu.api_version))
    return json_response(
        [
            {"label": release_name(v), "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
            for v in range(int(emu.oldest_version), newest + 1)
        ]
    )


def release_name(version: int) -> str:
    """The release of an API version: three a year, 31.0 = Summer '14, 65.0 = Winter '26, 66.0 =
    Spring '26 (a Winter release is named after the next year)."""
    steps = version - 31  # from Summer '14
    season = ("Summer", "Winter", "Spring")[steps % 3]
    year = 14 + (steps + 2) // 3
    return f"{season} '{year:02d}"
