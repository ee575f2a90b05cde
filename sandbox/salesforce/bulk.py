"""Bulk API 2.0: ingest jobs (insert / update / upsert / delete / hardDelete, CSV) and query jobs.

Jobs run as soon as they can: an ingest job is processed when the client sets UploadComplete (the
PATCH answers UploadComplete, the next GET says JobComplete), a query job completes when created.
So clients polling with a small `wait` finish at once. Results: successfulResults (sf__Id,
sf__Created + the uploaded columns), failedResults (sf__Id, sf__Error + columns), unprocessedrecords;
query results paged by `maxRecords` with `Sforce-NumberOfRecords` and `Sforce-Locator` ("null" at end).
CSV cells: empty = leave unchanged, "#N/A" = set null.
"""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from .api import json_response, read_json
from .composite import injected_error
from .errors import ApiError, RecordError, not_found
from .ids import make_id
from .query import headers_of
from .values import format_datetime, from_csv

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

ENDPOINT = "salesforce.bulk"
DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^", "BACKQUOTE": "`"}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")


@dataclass
class Job:
    id: str
    kind: str  # ingest / query
    operation: str
    sobject: str
    created: str
    delimiter: str = "COMMA"
    line_ending: str = "LF"
    external_id: str | None = None
    state: str = "Open"
    data: list[bytes] = field(default_factory=list)
    success: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    error: str | None = None
    query_header: list[str] = field(default_factory=list)
    query_rows: list[list[str]] = field(default_factory=list)

    def info(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": "",
            "createdDate": self.created,
            "systemModstamp": self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(version),
            "lineEnding": self.line_ending,
            "columnDelimiter": self.delimiter,
        }
        if self.kind == "ingest":
            out.update(
                externalIdFieldName=self.external_id,
                jobType="V2Ingest",
                contentUrl=f"services/data/v{version}/jobs/ingest/{self.id}/batches",
                numberRecordsProcessed=len(self.success) + len(self.failed),
                numberRecordsFailed=len(self.failed),
                retries=0,
                totalProcessingTime=0,
                apiActiveProcessingTime=0,
                apexProcessingTime=0,
            )
        else:
            out.update(
                jobType="V2Query",
                numberRecordsProcessed=len(self.query_rows),
                retries=0,
                totalProcessingTime=0,
                isPkChunkingSupported=True,
            )
        if self.error:
            out["errorMessage"] = self.error
        return out


class BulkJobs:
    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.counter = 0
        self.ingest_jobs_created = 0
        self.query_jobs_created = 0
        self.lock = threading.Lock()

    def new_id(self) -> str:
        with self.lock:
            self.counter += 1
            return make_id("750", self.counter)

    def clear(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.ingest_jobs_created = self.query_jobs_created = 0


def _job(emu: SalesforceEmulator, request: Request, kind: str) -> Job:
    job = emu.bulk.jobs.get(request.path_params["job_id"])
    if job is None or job.kind != kind:
        raise not_found()
    return job


def _csv_text(job: Job, header: list[str], rows: list[list[str]], quote_all: bool = False) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=DELIMITERS[job.delimiter],
        lineterminator=LINE_ENDINGS[job.line_ending],
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _options(body: dict[str, Any]) -> tuple[str, str]:
    delimiter = str(body.get("columnDelimiter") or "COMMA")
    line_ending = str(body.get("lineEnding") or "LF")
    if delimiter not in DELIMITERS or line_ending not in LINE_ENDINGS:
        raise ApiError(400, "INVALIDJOB", "Invalid columnDelimiter or lineEnding")
    return delimiter, line_ending


# ------------------------------------------------------------------ ingest
async def create_ingest(emu: SalesforceEmulator, request: Request) -> Response:
    body = await read_json(request) or {}
    operation, sobject = body.get("operation"), str(body.get("object") or "")
    if operation not in INGEST_OPERATIONS:
        raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
    emu.store.table(sobject)  # unknown object -> NOT_FOUND
    if operation == "upsert" and not body.get("externalIdFieldName"):
        raise ApiError(400, "INVALIDJOB", "External ID was blank for upsert")
    delimiter, line_ending = _options(body)
    job = Job(
        emu.bulk.new_id(),
        "ingest",
        operation,
        emu.store.table(sobject).obj.name,
        format_datetime(emu.store.now()),
        delimiter,
        line_ending,
        body.get("externalIdFieldName"),
    )
    emu.bulk.jobs[job.id] = job
    emu.bulk.ingest_jobs_created += 1
    return json_response(job.info(request.path_params["version"]))


async def upload(emu: SalesforceEmulator, request: Request) -> Response:
    job = _job(emu, request, "ingest")
    if job.state != "Open":
        raise ApiError(409, "INVALIDJOBSTATE", f"Job state {job.state} does not allow uploads")
    job.data.append(await request.body())
    return Response(status_code=201)


async def patch_ingest(emu: SalesforceEmulator, request: Request) -> Response:
    job = _job(emu, request, "ingest")
    state = ((await read_json(request)) or {}).get("state")
    version = request.path_params["version"]
    if state == "Aborted":
        if job.state in ("JobComplete", "Failed"):
            raise ApiError(400, "INVALIDSTATUS", f"Job is already {job.state}")
        job.state = "Aborted"
        return json_response(job.info(version))
    if state != "UploadComplete" or job.state != "Open":
        raise ApiError(400, "INVALIDSTATUS", f"Cannot change state from {job.state} to {state}")
    job.state = "UploadComplete"
    answer = job.info(version)
    _process(emu, job)
    return json_response(answer)


def _process(emu: SalesforceEmulator, job: Job) -> None:
    text = b"".join(job.data).decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=DELIMITERS[job.delimiter])
    rows = list(reader)
    if not rows:
        job.state, job.error = "Failed", "InvalidBatch : No content"
        return
    header, data = rows[0], [r for r in rows[1:] if r]
    table = emu.store.table(job.sobject)
    fields = []
    for name in header:
        fd = table.obj.field(name)
        if fd is None:
            job.state, job.error = "Failed", f"InvalidBatch : Field name not found : {name}"
            return
        fields.append(fd)
    if job.operation in ("delete", "hardDelete") and [f.name for f in fields] != ["Id"]:
        job.state, job.error = "Failed", "InvalidBatch : The 'delete' batch must contain only the Id field"
        return
    job.columns = header
    for row in data:
        _ingest_row(emu, job, fields, row)
    job.state = "JobComplete"


def _ingest_row(emu: SalesforceEmulator, job: Job, fields: list[Any], row: list[str]) -> None:
    known_id = next((v for f, v in zip(fields, row, strict=False) if f.name == "Id" and v), "")
    try:
        values = {f.name: from_csv(f, v) for f, v in zip(fields, row, strict=False) if v != ""}
        code = emu.faults.draw_record(ENDPOINT)
        if code is not None:
            raise injected_error(code, known_id or None)
        with emu.store.lock:
            created = False
            if job.operation == "insert":
                rid, created = emu.store.create(job.sobject, values), True
            elif job.operation == "update":
                rid = str(values.pop("Id", known_id))
                emu.store.update(job.sobject, rid, values)
            elif job.operation == "upsert":
                ext = job.external_id or "Id"
                ext_value = next((v for k, v in values.items() if k.lower() == ext.lower()), None)
                rid, created = emu.store.upsert(job.sobject, ext, ext_value, values)
            else:
                rid = known_id
                emu.store.delete(job.sobject, rid)
        job.success.append([rid, "true" if created else "false", *row])
    except RecordError as exc:
        job.failed.append([known_id, f"{exc.status_code}:{exc.message}:{','.join(exc.fields)} --", *row])


async def get_ingest(emu: SalesforceEmulator, request: Request) -> Response:
    return json_response(_job(emu, request, "ingest").info(request.path_params["version"]))


async def ingest_results(emu: SalesforceEmulator, request: Request) -> Response:
    job = _job(emu, request, "ingest")
    kind = request.path_params["kind"].lower()
    if kind == "successfulresults":
        text = _csv_text(job, ["sf__Id", "sf__Created", *job.columns], job.success)
    elif kind == "failedresults":
        text = _csv_text(job, ["sf__Id", "sf__Error", *job.columns], job.failed)
    elif kind == "unprocessedrecords":
        text = _csv_text(job, job.columns, [])
    else:
        raise not_found()
    return Response(text, media_type="text/csv")


async def delete_job(emu: SalesforceEmulator, request: Request) -> Response:
    job = emu.bulk.jobs.get(request.path_params["job_id"])
    if job is None:
        raise not_found()
    if job.state in ("Open", "UploadComplete", "InProgress"):
        raise ApiError(400, "INVALIDSTATUS", "Only finished or aborted jobs can be deleted")
    del emu.bulk.jobs[job.id]
    return Response(status_code=204)


async def list_jobs(emu: SalesforceEmulator, request: Request) -> Response:
    kind = "ingest" if request.url.path.rstrip("/").endswith("ingest") else "query"
    version = request.path_params["version"]
    records = [j.info(version) for j in emu.bulk.jobs.values() if j.kind == kind]
    return json_response({"done": True, "records": records, "nextRecordsUrl": None})


# ------------------------------------------------------------------ query
async def create_query(emu: SalesforceEmulator, request: Request) -> Response:
    body = await read_json(request) or {}
    operation = body.get("operation")
    if operation not in ("query", "queryAll"):
        raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
    delimiter, line_ending = _options(body)
    text = str(body.get("query") or "")
    with emu.store.lock:
        compiled = emu.engine.compile(text, emu.store.now().date())
        if compiled.count is not None or compiled.spec.children:
            raise ApiError(
                400, "INVALIDJOB", "Aggregate queries and subqueries are not supported by Bulk API 2.0"
            )
        rows = emu.engine.rows(compiled, include_deleted=operation == "queryAll")
        job = Job(
            emu.bulk.new_id(),
            "query",
            operation,
            compiled.obj.name,
            format_datetime(emu.store.now()),
            delimiter,
            line_ending,
            state="JobComplete",
        )
        job.query_header = headers_of(compiled)
        job.query_rows = [emu.engine.csv_row(compiled, r) for r in rows]
    emu.bulk.jobs[job.id] = job
    emu.bulk.query_jobs_created += 1
    answer = job.info(request.path_params["version"])
    answer["state"] = "UploadComplete"
    return json_response(answer)


async def get_query(emu: SalesforceEmulator, request: Request) -> Response:
    return json_response(_job(emu, request, "query").info(request.path_params["version"]))


async def patch_query(emu: SalesforceEmulator, request: Request) -> Response:
    job = _job(emu, request, "query")
    state = ((await read_json(request)) or {}).get("state")
    if state != "Aborted":
        raise ApiError(400, "INVALIDSTATUS", f"Cannot change state to {state}")
    if job.state != "JobComplete":
        job.state = "Aborted"
    return json_response(job.info(request.path_params["version"]))


async def query_results(emu: SalesforceEmulator, request: Request) -> Response:
    job = _job(emu, request, "query")
    if job.state != "JobComplete":
        raise ApiError(400, "INVALIDSTATUS", f"Job is {job.state}")
    try:
        start = int(request.query_params.get("locator") or 0)
        size = int(request.query_params.get("maxRecords") or 0) or len(job.query_rows) or 1
    except ValueError:
        raise ApiError(400, "INVALIDLOCATOR", "Invalid locator or maxRecords") from None
    page = job.query_rows[start : start + size]
    end = start + len(page)
    text = _csv_text(job, job.query_header, page, quote_all=True)
    return Response(
        text,
        media_type="text/csv",
        headers={
            "Sforce-NumberOfRecords": str(len(page)),
            "Sforce-Locator": str(end) if end < len(job.query_rows) else "null",
        },
    )
