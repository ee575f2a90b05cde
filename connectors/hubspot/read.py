"""Reading HubSpot contacts: incremental search without the 10,000-result cap, archived contacts, and
batch reads by email.

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

from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
)

from connectors.base import ConnectorError, ContactRef
from connectors.hubspot.transport import HubSpotTransport

log = logging.getLogger(__name__)

SEARCH_PAGE = 200  # HubSpot's maximum `limit` for search
BATCH_READ_SIZE = 100  # HubSpot's maximum inputs per batch read
LIST_PAGE = 100  # HubSpot's maximum `limit` for the basic contacts list
ALWAYS_READ = ("email", "lastmodifieddate", "hs_object_id", "hs_merged_object_ids")
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
    """The caller's properties plus the ones the connector always needs, without duplicates."""
    return list(dict.fromkeys([*ALWAYS_READ, *requested]))


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
                 properties: list[str], *, alternative: list[Filter] | None = None) -> list[dict[str, Any]]:
    groups = [FilterGroup(filters=f) for f in (filters, alternative) if f]
    request = PublicObjectSearchRequest(
        filter_groups=groups,
        sorts=[{"propertyName": sort_by, "direction": "ASCENDING"}],  # type: ignore[list-item]
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


# --------------------------------------------------------------------------- archived, by email


def check_access(transport: HubSpotTransport) -> None:
    """One contact, one property: the cheapest call that proves the token works for what leadsync
    reads (crm.objects.contacts.read)."""
    api = transport.client.crm.contacts.basic_api
    transport.request("contacts", api.get_page_with_http_info, raw=True, limit=1, properties=["email"])


def iter_archived(transport: HubSpotTransport, since: datetime | None) -> Iterator[ContactRef]:
    """Archived (deleted) contacts, archived at or after `since`. HubSpot cannot filter archived
    contacts by date, so this pages through all of them (100 per call) and filters here."""
    api = transport.client.crm.contacts.basic_api
    after: str | None = None
    while True:
        kwargs: dict[str, Any] = {"limit": LIST_PAGE, "archived": True, "properties": list(ALWAYS_READ)}
        if after:
            kwargs["after"] = after
        page, _ = transport.request("contacts", api.get_page_with_http_info, raw=True, **kwargs)
        page = page or {}
        for obj in page.get("results") or []:
            ref = to_contact(obj, archived=True)
            if since is None or ref.modified_at is None or ref.modified_at >= since:
                yield ref
        nxt = ((page.get("paging") or {}).get("next") or {}).get("after")
        if not nxt or nxt == after:
            return
        after = str(nxt)


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
