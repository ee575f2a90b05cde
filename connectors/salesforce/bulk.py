"""Bulk API 2.0, driven request by request through the retry policy.

simple-salesforce's `bulk2` helpers sleep with `time.sleep` between polls, retry nothing, and read
whole result files; here every request is one `SalesforceClient.raw` call (counted, retried, budgeted),
query results are fetched one page (`maxRecords`, `Sforce-Locator`) at a time, and polling sleeps with
the injected `sleep`.

Ingest jobs: the CSV upload is the one non-idempotent step (a retried PUT after a dropped connection
could add the rows twice), so it is attempted once per job; on a transient failure the job is aborted
and a fresh job is started, up to `policy.max_attempts` jobs.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from connectors.base import FatalAPIError, RetriableAPIError, Scalar, WriteResult
from connectors.salesforce.client import BULK, SalesforceClient
from connectors.salesforce.errors import record_retryable
from connectors.salesforce.hints import with_hint

log = logging.getLogger(__name__)

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
FINAL_STATES = ("JobComplete", "Failed", "Aborted")


@dataclass(frozen=True)
class BulkOptions:
    poll_interval: float = 2.0  # first wait between job status polls; doubles up to max_poll_interval
    max_poll_interval: float = 30.0
    max_wait: float = 4 * 3600.0  # give up on a job after this long (summed poll waits)


class BulkJobError(FatalAPIError):
    """A Bulk API job ended Failed/Aborted or never finished."""


def _wait_for_job(client: SalesforceClient, kind: str, job_id: str, options: BulkOptions) -> dict[str, Any]:
    waited, interval = 0.0, options.poll_interval
    while True:
        info = client.raw(BULK, "GET", f"jobs/{kind}/{job_id}", headers=JSON).json()
        state = info.get("state")
        if state == "JobComplete":
            return info
        if state in ("Failed", "Aborted"):
            detail = info.get("errorMessage") or ""
            raise BulkJobError(
                f"bulk {kind} job {job_id} ended {state} {detail}".strip(),
                code=f"BULK_JOB_{str(state).upper()}",
            )
        if waited >= options.max_wait:
            raise BulkJobError(
                f"bulk {kind} job {job_id} still {state} after {waited:.0f} s", code="BULK_JOB_TIMEOUT"
            )
        client.sleep(interval)
        waited += interval
        interval = min(interval * 2, options.max_poll_interval)


# --------------------------------------------------------------------------- query


def query_pages(
    client: SalesforceClient,
    soql: str,
    *,
    include_deleted: bool = True,
    page_size: int = 2000,
    options: BulkOptions = BulkOptions(),
) -> Iterator[list[dict[str, str | None]]]:
    """Run a Bulk API 2.0 query job and yield its result one page of `page_size` rows at a time.
    Values are strings (None for an empty cell). Bulk queries cannot be ordered (ORDER BY would disable
    PK chunking), so pages come in Salesforce's order."""
    body = {
        "operation": "queryAll" if include_deleted else "query",
        "query": soql,
        "contentType": "CSV",
        "columnDelimiter": "COMMA",
        "lineEnding": "LF",
    }
    job_id = client.raw(BULK, "POST", "jobs/query", headers=JSON, json=body).json()["id"]
    _wait_for_job(client, "query", job_id, options)
    locator: str | None = None
    while True:
        params: dict[str, Any] = {"maxRecords": page_size}
        if locator:
            params["locator"] = locator
        resp = client.raw(
            BULK, "GET", f"jobs/query/{job_id}/results", params=params, headers={"Accept": "text/csv"}
        )
        rows = parse_csv(resp.content)
        if rows:
            yield rows
        locator = resp.headers.get("Sforce-Locator")
        if not locator or locator == "null":
            return


def parse_csv(content: bytes | str) -> list[dict[str, str | None]]:
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    reader = csv.DictReader(io.StringIO(text.replace("\x00", "")))
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]


# --------------------------------------------------------------------------- ingest


def _csv_value(value: Scalar) -> str:
    if value is None:
        return "#N/A"  # Bulk API: set the field to null (an empty cell leaves it unchanged)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def build_csv(rows: Sequence[Mapping[str, Scalar]], columns: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if c not in row else _csv_value(row[c]) for c in columns])
    return out.getvalue()


def _error_code(sf_error: str | None) -> tuple[str, str]:
    text = sf_error or "UNKNOWN_ERROR"
    code, _, message = text.partition(":")
    return code.strip() or "UNKNOWN_ERROR", message.strip()


def ingest_update(
    client: SalesforceClient,
    sobject: str,
    rows: Sequence[Mapping[str, Scalar]],
    options: BulkOptions = BulkOptions(),
) -> list[WriteResult]:
    """Update `rows` (each with an "Id") with one Bulk API 2.0 ingest job; one WriteResult per row, in
    order. A row missing from every result file is reported failed (retryable)."""
    columns = ["Id", *sorted({k for r in rows for k in r if k != "Id"})]
    payload = build_csv(rows, columns)
    last_error: RetriableAPIError | None = None
    for attempt in range(1, client.policy.max_attempts + 1):
        job_id = client.raw(
            BULK,
            "POST",
            "jobs/ingest",
            headers=JSON,
            json={
                "object": sobject,
                "operation": "update",
                "contentType": "CSV",
                "columnDelimiter": "COMMA",
                "lineEnding": "LF",
            },
        ).json()["id"]
        try:
            client.raw(
                BULK,
                "PUT",
                f"jobs/ingest/{job_id}/batches",
                data=payload.encode("utf-8"),
                headers={"Content-Type": "text/csv", "Accept": "application/json"},
                policy=replace(client.policy, max_attempts=1),
            )
        except RetriableAPIError as exc:
            last_error = exc
            log.warning(
                "bulk upload to job %s failed (%s); aborting it and starting a new job (%d/%d)",
                job_id,
                exc,
                attempt,
                client.policy.max_attempts,
            )
            _abort(client, job_id)
            continue
        client.raw(BULK, "PATCH", f"jobs/ingest/{job_id}", headers=JSON, json={"state": "UploadComplete"})
        _wait_for_job(client, "ingest", job_id, options)
        return _ingest_results(client, job_id, rows)
    raise last_error or RetriableAPIError("bulk ingest: no attempt made")


def _abort(client: SalesforceClient, job_id: str) -> None:
    try:
        client.raw(BULK, "PATCH", f"jobs/ingest/{job_id}", headers=JSON, json={"state": "Aborted"})
    except (FatalAPIError, RetriableAPIError) as exc:  # an unaborted open job times out by itself
        log.warning("could not abort bulk job %s (%s)", job_id, type(exc).__name__)


def _ingest_results(
    client: SalesforceClient, job_id: str, rows: Sequence[Mapping[str, Scalar]]
) -> list[WriteResult]:
    by_id: dict[str, WriteResult] = {}
    for row in _result_file(client, job_id, "successfulResults"):
        rid = row.get("Id") or row.get("sf__Id") or ""
        by_id[rid] = WriteResult(rid, ok=True)
    for row in _result_file(client, job_id, "failedResults"):
        rid = row.get("Id") or row.get("sf__Id") or ""
        code, message = _error_code(row.get("sf__Error"))
        by_id[rid] = WriteResult(
            rid, ok=False, error_code=code, message=with_hint(code, message),
            retryable=record_retryable(code, message),
        )
    for row in _result_file(client, job_id, "unprocessedrecords"):
        rid = row.get("Id") or ""
        by_id.setdefault(
            rid,
            WriteResult(
                rid,
                ok=False,
                error_code="UNPROCESSED",
                message="not processed by the bulk job",
                retryable=True,
            ),
        )
    out = []
    for row in rows:
        rid = str(row["Id"])
        out.append(
            by_id.get(rid)
            or by_id.get(rid[:15])
            or WriteResult(
                rid,
                ok=False,
                error_code="MISSING_RESULT",
                message="absent from the bulk job results",
                retryable=True,
            )
        )
    return out


def _result_file(client: SalesforceClient, job_id: str, name: str) -> list[dict[str, str | None]]:
    resp = client.raw(BULK, "GET", f"jobs/ingest/{job_id}/{name}/", headers={"Accept": "text/csv"})
    return parse_csv(resp.content)
