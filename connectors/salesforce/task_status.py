"""Reading back the call tasks leadsync created: their status, whether it closes them, and when.

One incremental stream, spending API calls like money: `SELECT Id, Status, IsClosed, CompletedDateTime,
IsDeleted, SystemModstamp, <cycle key> FROM Task WHERE <cycle key> != null [AND SystemModstamp >= since]
[AND SystemModstamp < until] ORDER BY SystemModstamp, Id`, sent to `queryAll` (a task someone deleted is
seen, with IsDeleted = true) and paged at 2,000 rows (one query call, then one queryMore call per further
2,000 changed tasks). A run where no task changed costs the one query that answers nothing.

Only tasks with a cycle key are read: leadsync's own (it upserts every call task by that external id,
`connectors.salesforce.task_index.TASK_KEY_FIELD`); a task a person created by hand has none.

Fields (Object Reference for the Salesforce Platform, Task): `IsClosed` is set by the org from the
status's TaskStatus row (TaskStatus.IsClosed: "Multiple task status values can represent a closed
task"), so a custom closed status counts as closed. `CompletedDateTime` ("Completed Date/Time", a
read-only datetime) is when it was closed; PARTLY VERIFIED: the field is listed in the stored field
references (OpenActivity / ActivityHistory, which mirror Task) but the API version it came with could
not be read from the stored copies (recalled as 44.0; leadsync asks for 59.0 by default). A closed
task without it (closed before the field existed) is taken as closed at its SystemModstamp, the latest
time it could have been closed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from simple_salesforce import format_soql

from connectors.base import TaskState
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.read import parse_datetime
from connectors.salesforce.task_index import STREAM_PAGE, TASK_KEY_FIELD

TASK_FIELDS = ("Id", "Status", "IsClosed", "CompletedDateTime", "IsDeleted", "SystemModstamp", TASK_KEY_FIELD)


def task_states_soql(since: datetime | None, until: datetime | None) -> str:
    """The stream's query: leadsync's tasks changed in [since, until), oldest change first."""
    where = [f"{TASK_KEY_FIELD} != null"]
    if since is not None:
        where.append(format_soql("SystemModstamp >= {}", since))
    if until is not None:
        where.append(format_soql("SystemModstamp < {}", until))
    return (f"SELECT {', '.join(TASK_FIELDS)} FROM Task WHERE {' AND '.join(where)} "
            "ORDER BY SystemModstamp, Id")


def _bool(value: Any) -> bool:
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


def task_state(row: Mapping[str, Any]) -> TaskState:
    """One Task row as a TaskState."""
    modified = parse_datetime(row["SystemModstamp"])
    closed = _bool(row.get("IsClosed"))
    completed = row.get("CompletedDateTime")
    closed_at = (parse_datetime(completed) if completed else modified) if closed else None
    return TaskState(cycle_key=str(row[TASK_KEY_FIELD]), task_id=str(row["Id"]), status=row.get("Status"),
                     is_closed=closed, closed_at=closed_at, modified_at=modified,
                     is_deleted=_bool(row.get("IsDeleted")))


def iter_task_states(client: SalesforceClient, since: datetime | None, until: datetime | None = None,
                     *, page_size: int = STREAM_PAGE) -> Iterator[TaskState]:
    """Leadsync's call tasks changed in [since, until), deleted ones included, page by page (the budget
    is checked before each page)."""
    for page in client.query_pages(task_states_soql(since, until), include_deleted=True, page_size=page_size):
        for row in page:
            if row.get(TASK_KEY_FIELD):
                yield task_state(row)
