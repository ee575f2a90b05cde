"""Reading HubSpot contacts: the first full read through the list endpoint, incremental search without
the 10,000-result cap, archived contacts, and batch reads by email.

A full read (no `since`: a first sync, or a backfill without `--since`) needs no date filter, so it
pages `GET /crm/v3/objects/contacts` (100 per call, `after` = the next object id) instead of search:
the list endpoint counts against the 10-second window (100 or 190 calls per 10 s), search against
its own 5 per second, so the list reads 1,000-1,900 contacts/s where search reads at most 1,000/s
(800/s at leadsync's default 4 searches/s). `iter_everything` keeps what the search read gives:

1. one search, newest first (`lastmodifieddate` DESCENDING, 200): a book that fits in it is read
   with that one call; otherwise its first timestamp is the newest at the start, `start`;
2. the list, by id (stable under modification: a contact modified during the scan keeps its place);
3. a catch-up search from `start` (the keyset search below, usually one page): every contact modified
   or created while the list ran, with its new values. Without it the run's watermark (the newest
   lastmodifieddate seen) could pass a change made to a contact the list had already read. Contacts
   the list read already at the same timestamp are not yielded again.

A mapping naming so many properties that the list URI would pass LIST_URI_BUDGET reads by search.

Incremental search (`iter_search`) never pages with `after`. HubSpot's `after` is an offset: it stops
at 10,000 results (HTTP 400), and on a live portal it skips records whenever an earlier record is
modified between two pages (everything behind it moves up one place). Instead every page is a fresh
query that starts where the previous page ended (a keyset on the only sort HubSpot offers):

    page N+1:  lastmodifieddate GTE <last timestamp of page N>  AND  LT until
               sorted by lastmodifieddate ascending, limit 200

Records at that boundary timestamp already yielded are excluded by id, in the query itself when they
fit one NOT_IN filter (so nothing is read twice: a book updated in batches of 100, one timestamp per
batch, is read in ceil(n/200) pages):

    page N+1:  (lastmodifieddate GT <t> AND LT until)
               OR (lastmodifieddate EQ <t> AND hs_object_id NOT_IN <ids yielded at t>)

and above MAX_EXCLUDED ids by the GTE query above, skipping them here. When a whole page shares one
timestamp, more than a page may share it (a bulk import or workflow touches thousands of contacts in
one millisecond); that instant is then read on its own, keyset by `hs_object_id`:

    lastmodifieddate EQ <t>  AND  hs_object_id GT <last id>   sorted by hs_object_id ascending

and the scan continues with `lastmodifieddate GT <t>`. Every query's lower bound strictly increases,
so the scan ends, reads each page once, never meets the 10,000 cap, and a record modified during
the scan is seen again later (with its new timestamp) rather than lost. If HubSpot ever answers out
of order or without progress, `SearchPagingError` stops the run loudly rather than truncating.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
)

from connectors.base import MA_NAME_PROPERTIES, ConnectorError, ContactRef
from connectors.hubspot.transport import HubSpotTransport

log = logging.getLogger(__name__)

SEARCH_PAGE = 200  # HubSpot's maximum `limit` for search
BATCH_READ_SIZE = 100  # HubSpot's maximum inputs per batch read
LIST_PAGE = 100  # HubSpot's maximum `limit` for the basic contacts list
# characters of request target (path and query) the list read may use. HubSpot answers 414 URI Too Long
# past about 8 KB (no documented number: airweave-ai/airweave PR #1064 "~8KB URL length limit";
# dlt-hub/verified-sources PR #311, properties "longer than 8000 symbols"); the sandbox refuses targets
# over 8,000 bytes. Past this budget the full read uses search, whose properties travel in the body.
LIST_URI_BUDGET = 7_000
ALWAYS_READ = ("email", "lastmodifieddate", "hs_object_id", "hs_merged_object_ids")
# the contact's family and given name, read with every search, list and batch read whatever the mapping
# uses: not for the rules (the run keeps them out of a person's facts unless the mapping reads them,
# sync.run.identity.to_person_facts) but for the console's people search (sync.state.person_names).
# They cost no call: search and batch read carry properties in the body (HubSpot documents no limit on
# their number; contacts search returns these two among its defaults when none are asked for), and the
# list's request target grows by 41 characters, counted in `list_uri_length` like every property.
NAME_PROPERTIES: tuple[str, ...] = MA_NAME_PROPERTIES
MODIFIED = "lastmodifieddate"
OBJECT_ID = "hs_object_id"
# values in one NOT_IN filter: HubSpot documents no limit (UNVERIFIED); the sandbox enforces 100, the
# stricter plausible reading (docs/sandbox-hubspot.md)
MAX_EXCLUDED = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class SearchPagingError(ConnectorError):
    """HubSpot search answered in a way that would make the scan lose or repeat records forever."""


def to_ms(moment: datetime, *, ceil: bool = False) -> int:
    """Epoch milliseconds of `moment` (naive = UTC), rounded down (or up with `ceil`), exactly."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    whole = delta // _MS
    return whole + 1 if ceil and delta % _MS else whole


def parse_hubspot_time(value: Any) -> datetime | None:
    """A HubSpot datetime property (ISO 8601 or epoch milliseconds) as an aware UTC datetime."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):  # the client deserializes some datetimes itself (in local time)
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.isdigit():
        return _EPOCH + int(text) * _MS
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_properties(requested: Iterable[str]) -> list[str]:
    """The caller's properties plus the ones the connector always needs and the contact's name,
    without duplicates."""
    return list(dict.fromkeys([*ALWAYS_READ, *NAME_PROPERTIES, *requested]))


def to_contact(obj: Mapping[str, Any], *, archived: bool = False) -> ContactRef:
    """A ContactRef from one JSON object of a search, batch read or list answer."""
    props: dict[str, str | None] = {k: (None if v is None else str(v))
                                    for k, v in (obj.get("properties") or {}).items()}
    modified = parse_hubspot_time(props.get(MODIFIED)) or parse_hubspot_time(obj.get("updatedAt"))
    if archived:
        modified = parse_hubspot_time(obj.get("archivedAt")) or modified
    merged = tuple(m for m in (props.get("hs_merged_object_ids") or "").split(";") if m.strip())
    return ContactRef(contact_id=str(obj["id"]), email=props.get("email"), properties=props,
                      modified_at=modified, archived=archived, merged_ids=merged)


# --------------------------------------------------------------------------- incremental search


def _filter(prop: str, op: str, value: int | str) -> Filter:
    return Filter(property_name=prop, operator=op, value=str(value))


def _search_page(transport: HubSpotTransport, filters: list[Filter], sort_by: str,
                 properties: list[str], *, alternative: list[Filter] | None = None,
                 descending: bool = False) -> list[dict[str, Any]]:
    groups = [FilterGroup(filters=f) for f in (filters, alternative) if f]
    direction = "DESCENDING" if descending else "ASCENDING"
    request = PublicObjectSearchRequest(
        filter_groups=groups,
        sorts=[{"propertyName": sort_by, "direction": direction}],  # type: ignore[list-item]
        properties=properties,
        limit=SEARCH_PAGE,
    )
    api = transport.client.crm.contacts.search_api
    page, _ = transport.request("search", api.do_search_with_http_info, request, search=True, raw=True)
    return list((page or {}).get("results") or [])


def _modified_ms(obj: Mapping[str, Any]) -> int:
    stamp = parse_hubspot_time((obj.get("properties") or {}).get(MODIFIED))
    if stamp is None:
        raise SearchPagingError(f"search result {obj.get('id')} has no {MODIFIED}; cannot page by it")
    return to_ms(stamp)


def iter_search(transport: HubSpotTransport, since: datetime | None, until: datetime | None,
                properties: Sequence[str]) -> Iterator[ContactRef]:
    """Contacts with `since <= lastmodifieddate < until` (either bound optional), ascending by
    lastmodifieddate, each once (see the module docstring for how the 10,000 cap is avoided)."""
    props = read_properties(properties)
    upper = [_filter(MODIFIED, "LT", to_ms(until, ceil=True))] if until is not None else []
    lower: tuple[str, int] | None = ("GTE", to_ms(since)) if since is not None else None
    boundary_ms: int | None = None  # the latest timestamp yielded so far ...
    boundary_ids: set[str] = set()  # ... and the ids yielded at exactly that timestamp
    pages = 0
    excluding = False  # the next query reads the rest of boundary_ms with a NOT_IN group
    while True:
        filters = ([_filter(MODIFIED, lower[0], lower[1])] if lower else []) + upper
        alternative = None
        if excluding:  # the rest of the boundary instant, without what was already read at it
            alternative = [_filter(MODIFIED, "EQ", boundary_ms),  # type: ignore[arg-type]
                           Filter(property_name=OBJECT_ID, operator="NOT_IN", values=sorted(boundary_ids))]
        results = _search_page(transport, filters, MODIFIED, props, alternative=alternative)
        pages += 1
        previous_ms = lower[1] if lower else None
        for obj in results:
            ms = _modified_ms(obj)
            if previous_ms is not None and ms < previous_ms:
                raise SearchPagingError(
                    f"search returned {MODIFIED}={ms} after {previous_ms}: results out of order "
                    "or outside the filter; refusing to continue (records could be lost)"
                )
            previous_ms = ms
            if ms != boundary_ms:
                boundary_ms, boundary_ids = ms, set()
            elif str(obj["id"]) in boundary_ids:
                if excluding:
                    raise SearchPagingError(
                        f"search returned contact {obj['id']} excluded by {OBJECT_ID} NOT_IN at "
                        f"{MODIFIED}={ms}: filter ignored; refusing to continue (records could repeat)"
                    )
                continue
            boundary_ids.add(str(obj["id"]))
            yield to_contact(obj)
        if len(results) < SEARCH_PAGE:
            log.debug("hubspot search: %d page(s) read", pages)
            return
        first_ms, last_ms = _modified_ms(results[0]), _modified_ms(results[-1])
        if first_ms == last_ms:
            # a full page of one instant: there may be many more at it; read it by id, then go on
            for ref in _iter_instant(transport, last_ms, boundary_ids, props):
                boundary_ids.add(ref.contact_id)
                yield ref
            lower, excluding = ("GT", last_ms), False
        elif len(boundary_ids) <= MAX_EXCLUDED:
            lower, excluding = ("GT", last_ms), True  # and the rest of last_ms by the NOT_IN group
        else:
            lower, excluding = ("GTE", last_ms), False


def _iter_instant(transport: HubSpotTransport, ms: int, seen: set[str],
                  props: list[str]) -> Iterator[ContactRef]:
    """All contacts with lastmodifieddate == ms, keyset-paged by hs_object_id, skipping `seen`."""
    cursor: int | None = None
    while True:
        filters = [_filter(MODIFIED, "EQ", ms)]
        if cursor is not None:
            filters.append(_filter(OBJECT_ID, "GT", cursor))
        results = _search_page(transport, filters, OBJECT_ID, props)
        for obj in results:
            oid = int(obj["id"])
            if cursor is not None and oid <= cursor:
                raise SearchPagingError(
                    f"search by {OBJECT_ID} returned {oid} after {cursor} at {MODIFIED}={ms}: no "
                    "progress; refusing to continue (records could be lost or repeated)"
                )
            cursor = oid
            if _modified_ms(obj) != ms:
                raise SearchPagingError(f"search for {MODIFIED} EQ {ms} returned another timestamp")
            if str(obj["id"]) not in seen:
                yield to_contact(obj)
        if len(results) < SEARCH_PAGE:
            return


# --------------------------------------------------------------------------- full read (list endpoint)


def list_uri_length(properties: Sequence[str]) -> int:
    """The request target of one list page as hubspot-api-client sends it (each property repeated as
    `properties=<name>`, percent-encoded; `limit`, `after` and `archived` at their longest)."""
    query = [("limit", str(LIST_PAGE)), ("after", "9" * 20), ("archived", "False"),
             *(("properties", p) for p in properties)]
    return len("/crm/v3/objects/contacts?") + len(urlencode(query))


def iter_everything(transport: HubSpotTransport, until: datetime | None,
                    properties: Sequence[str]) -> Iterator[ContactRef]:
    """Every contact with `lastmodifieddate < until` (None: all of them), each once except contacts
    modified while the read ran (then also with their new values): the list endpoint with a search
    before and after it (see the module docstring)."""
    props = read_properties(properties)
    if list_uri_length(props) > LIST_URI_BUDGET:
        log.info("hubspot: %d properties make the list URI too long; reading everything by search",
                 len(props))
        yield from iter_search(transport, None, until, properties)
        return
    upper = [_filter(MODIFIED, "LT", to_ms(until, ceil=True))] if until is not None else []
    newest = _search_page(transport, upper, MODIFIED, props, descending=True)
    if len(newest) < SEARCH_PAGE:  # the whole book in one call
        for obj in reversed(newest):
            yield to_contact(obj)
        return
    start_ms = _modified_ms(newest[0])
    upper_ms = to_ms(until, ceil=True) if until is not None else None
    late: dict[str, int] = {}  # id -> timestamp of what the list read at or after `start_ms`
    pages = 0
    for page in _list_pages(transport, props, archived=False):
        pages += 1
        for obj in page:
            ref = to_contact(obj)
            ms = to_ms(ref.modified_at) if ref.modified_at is not None else None
            if upper_ms is not None and (ms is None or ms >= upper_ms):
                continue
            if ms is not None and ms >= start_ms:
                late[ref.contact_id] = ms
            yield ref
    log.debug("hubspot list: %d page(s) read; catching up from %d", pages, start_ms)
    for ref in iter_search(transport, _EPOCH + start_ms * _MS, until, properties):
        if ref.modified_at is not None and late.get(ref.contact_id) == to_ms(ref.modified_at):
            continue  # the list read it already, as it is now
        yield ref


def _list_pages(transport: HubSpotTransport, props: list[str], *,
                archived: bool) -> Iterator[list[dict[str, Any]]]:
    """The pages of `GET /crm/v3/objects/contacts` (100 per call, `after` cursor), as JSON objects."""
    api = transport.client.crm.contacts.basic_api
    after: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": LIST_PAGE, "archived": archived, "properties": props}
        if after:
            kwargs["after"] = after
        page, _ = transport.request("contacts", api.get_page_with_http_info, raw=True, **kwargs)
        page = page or {}
        yield list(page.get("results") or [])
        nxt = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not nxt:
            return
        if str(nxt) == after:
            raise SearchPagingError(f"contacts list answered the cursor {after} with itself: no progress; "
                                    "refusing to continue (records could be lost)")
        after = str(nxt)


# --------------------------------------------------------------------------- archived, by email


def check_access(transport: HubSpotTransport) -> None:
    """One contact, one property: the cheapest call that proves the token works for what leadsync
    reads (crm.objects.contacts.read)."""
    api = transport.client.crm.contacts.basic_api
    transport.request("contacts", api.get_page_with_http_info, raw=True, limit=1, properties=["email"])


def iter_archived(transport: HubSpotTransport, since: datetime | None) -> Iterator[ContactRef]:
    """Archived (deleted) contacts, archived at or after `since`. HubSpot cannot filter archived
    contacts by date, so this pages through all of them (100 per call) and filters here."""
    for page in _list_pages(transport, list(ALWAYS_READ), archived=True):
        for obj in page:
            ref = to_contact(obj, archived=True)
            if since is None or ref.modified_at is None or ref.modified_at >= since:
                yield ref


def iter_by_email(transport: HubSpotTransport, emails: Sequence[str],
                  properties: Sequence[str]) -> Iterator[ContactRef]:
    """Contacts for `emails` (case-insensitive, duplicates read once), 100 per batch read. Emails
    HubSpot does not know are skipped; other per-record errors are logged."""
    unique = list(dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()))
    props = read_properties(properties)
    api = transport.client.crm.contacts.batch_api
    for start in range(0, len(unique), BATCH_READ_SIZE):
        chunk = unique[start:start + BATCH_READ_SIZE]
        body = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=e) for e in chunk], id_property="email",
            properties=props, properties_with_history=[],
        )
        page, _ = transport.request("batch_read", api.read_with_http_info, body, archived=False, raw=True)
        page = page or {}
        for obj in page.get("results") or []:
            yield to_contact(obj)
        for err in page.get("errors") or []:
            if err.get("category") != "OBJECT_NOT_FOUND":
                log.warning("hubspot batch read: %s (%s)", err.get("category"), err.get("message"))
