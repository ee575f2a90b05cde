"""Which call-task cycle keys already have a Task in the org, learned once per run.

The writer hands `create_tasks` 200 tasks at a time; asking Salesforce about each batch's keys costs a
query per batch (keys are long: ~300 fit in one IN list under the URI limit, see `in_chunks`). Instead
the run reads the org's keyed tasks as one stream (`SELECT Id, key FROM Task WHERE key != null ORDER BY
Id`, queryAll: deleted tasks count, so a task someone deleted is not created again), 2,000 rows a page,
and answers every later batch from memory. When the org holds more keyed tasks than one page, reading
them all could cost more than the IN lists the run needs (a run with a few new tasks in an org with
100,000 old ones), so the rest is read only once the run has spent as many IN-list queries as the rest
would cost (rent-or-buy: never more than twice the cheaper of the two). The stream is resumed by a new
query from the last Id read (`Id > ...`), never by a cursor held between batches (query locators expire
after 15 minutes of inactivity, and a user has at most 10 open: SOAP API Developer Guide, "QueryLocator",
developer.salesforce.com/docs/atlas.en-us.api.meta/api/sforce_api_calls_query_querylocator.htm).

Crash safety is the upsert's, not the index's: tasks are still upserted by the external id
`Leadsync_Cycle_Key__c`, so a task the index did not know (created after it was read) is matched, never
duplicated. Keys whose upsert failed or went unanswered are looked up again before another attempt.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from urllib.parse import quote_plus

from simple_salesforce import format_soql

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.read import MAX_IN_IDS

TASK_KEY_FIELD = "Leadsync_Cycle_Key__c"
STREAM_PAGE = 2000  # the REST query's largest page

# Salesforce refuses a request whose URI + headers exceed 16,384 bytes (431; 414 for the URI alone; help
# article 000386264). A query travels in the URL (`GET query?q=`), so an IN list is cut by its
# URL-encoded size too: 500 ids of 18 characters are ~14 KB, but 500 cycle keys (46 characters) would be
# ~30 KB. This budget for the encoded values leaves ~2 KB for the path, the rest of the query and the
# headers (a run measures ~14.5 KB at most: tests/connectors/salesforce/test_writes.py).
MAX_IN_BYTES = 14_000


def in_chunks(
    values: Sequence[str], max_items: int = MAX_IN_IDS, budget: int = MAX_IN_BYTES
) -> Iterator[list[str]]:
    """`values` in IN-list chunks of at most `max_items` whose URL-encoded size stays under `budget`."""
    chunk: list[str] = []
    size = 0
    for value in values:
        cost = len(quote_plus(format_soql("{}", value))) + 4  # the separator ", " encodes as "%2C+"
        if chunk and (len(chunk) >= max_items or size + cost > budget):
            yield chunk
            chunk, size = [], 0
        chunk.append(value)
        size += cost
    if chunk:
        yield chunk


def existing_tasks(client: SalesforceClient, keys: Sequence[str]) -> tuple[dict[str, str], int]:
    """(cycle key -> Task id of tasks already there, deleted ones included; queries made). Keys are
    longer than ids, so fewer go in one query (`in_chunks`)."""
    found: dict[str, str] = {}
    queries = 0
    for chunk in in_chunks(list(dict.fromkeys(keys))):
        soql = format_soql(
            f"SELECT Id, {TASK_KEY_FIELD} FROM Task WHERE {TASK_KEY_FIELD} IN {{}}", list(chunk)
        )
        queries += 1
        for row in client.query(soql, include_deleted=True):
            found.setdefault(row[TASK_KEY_FIELD], row["Id"])
    return found, queries


class TaskIndex:
    """cycle key -> Task id for one run (see the module docstring). Not thread-safe."""

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client
        self.known: dict[str, str] = {}
        self.complete = False  # `known` holds every keyed task the org had when read (plus this run's)
        self._started = False
        self._after: str | None = None  # the last Id of the part already read
        self._pages_left = 0  # pages of the org's keyed tasks not read yet (estimate from totalSize)
        self._in_queries = 0  # IN-list queries spent since the first page
        self._doubt: set[str] = set()  # keys whose write may or may not have landed

    def existing(self, keys: Sequence[str]) -> dict[str, str]:
        """The keys among `keys` that have a Task -> its id."""
        wanted = list(dict.fromkeys(keys))
        if not self._started:
            self._started = True
            self._read(first_page_only=True)
        elif not self.complete and self._in_queries >= self._pages_left:
            self._read(first_page_only=False)
        out = {k: self.known[k] for k in wanted if k in self.known and k not in self._doubt}
        ask = [k for k in wanted if k not in out and (not self.complete or k in self._doubt)]
        if ask:
            found, queries = existing_tasks(self.client, ask)
            self._in_queries += queries
            for k in ask:
                self._doubt.discard(k)
                self.known.pop(k, None)
            self.known.update(found)
            out.update(found)
        return out

    def created(self, key: str, task_id: str) -> None:
        self.known[key] = task_id
        self._doubt.discard(key)

    def doubt(self, keys: Sequence[str]) -> None:
        """These keys' writes failed or went unanswered: ask Salesforce before trusting the index."""
        self._doubt.update(keys)

    def _read(self, *, first_page_only: bool) -> None:
        soql = f"SELECT Id, {TASK_KEY_FIELD} FROM Task WHERE {TASK_KEY_FIELD} != null"
        if self._after is not None:
            soql += format_soql(" AND Id > {}", self._after)
        soql += " ORDER BY Id"
        pages = self.client.query_pages(soql, include_deleted=True, page_size=STREAM_PAGE)
        try:
            for page in pages:
                for row in page:
                    self.known.setdefault(row[TASK_KEY_FIELD], row["Id"])
                if page:
                    self._after = page[-1]["Id"]
                if first_page_only:
                    total = self.client.last_total_size or 0
                    rest = total - len(page)
                    self.complete = rest <= 0
                    self._pages_left = math.ceil(rest / STREAM_PAGE) if rest > 0 else 0
                    return
            self.complete = True
        finally:
            pages.close()
