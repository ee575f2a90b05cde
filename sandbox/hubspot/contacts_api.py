"""Contacts: basic CRUD, list paging, merge and search (batch endpoints live in batch.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from . import batch, search, search_request
from .errors import ApiError, ContactConflictError
from .http import Reply, json_body, query_bool, query_int, query_list
from .serialize import ALWAYS, property_names, public_object
from .store import Contact

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator

# `limit` of the contacts list: at most 100 (HubSpot's objects guide, "Limits"; the spec says of
# `propertiesWithHistory` only that it "will reduce the maximum number of contacts that can be read by a
# single request"): with it the sandbox allows 50, the figure HubSpot's batch read with history uses
# (UNVERIFIED for the list; docs/sandbox-hubspot.md)
MAX_PAGE = 100
HISTORY_PAGE = 50


async def search_contacts(request: Request, emu: HubSpotEmulator) -> Reply:
    body = await json_body(request)
    with emu.store.lock:
        parsed = search_request.parse_request(body, emu.store)
        return Reply(200, search.run(parsed, emu.store))


async def batch_read(request: Request, emu: HubSpotEmulator) -> Reply:
    return batch.batch_read(emu, await json_body(request), query_bool(request, "archived"))


async def batch_update(request: Request, emu: HubSpotEmulator) -> Reply:
    return batch.batch_update(emu, await json_body(request))


async def batch_upsert(request: Request, emu: HubSpotEmulator) -> Reply:
    return batch.batch_upsert(emu, await json_body(request))


async def batch_create(request: Request, emu: HubSpotEmulator) -> Reply:
    return batch.batch_create(emu, await json_body(request))


async def batch_archive(request: Request, emu: HubSpotEmulator) -> Reply:
    return batch.batch_archive(emu, await json_body(request))


async def list_contacts(request: Request, emu: HubSpotEmulator) -> Reply:
    """GET /crm/v3/objects/contacts: a page in id order; `after` is the next id (a keyset, so paging
    is stable while contacts are modified). At most MAX_PAGE per page, HISTORY_PAGE with
    `propertiesWithHistory`; the 10-second window applies (app.py), not search's per-second cap."""
    history_asked = query_list(request, "propertiesWithHistory")
    limit = query_int(request, "limit", 10)
    most = HISTORY_PAGE if history_asked else MAX_PAGE
    if limit < 1 or limit > most:
        raise ApiError.validation(f"limit must be between 1 and {most}, got {limit}"
                                  + (" (with propertiesWithHistory)" if history_asked else ""))
    after = request.query_params.get("after") or ""
    archived = query_bool(request, "archived")
    store = emu.store
    with store.lock:
        index = store.archived_ids if archived else store.active_ids
        start = index.bisect_left(int(after)) if after.isdigit() else 0
        ids = list(index.islice(start, start + limit + 1))
        known = {p.name for p in store.schema.all()}
        names = property_names(query_list(request, "properties"), known)
        history = [h for h in dict.fromkeys(history_asked) if h in known]
        results = [public_object(store.contact(i), names, history=history) for i in ids[:limit]]
    body: dict[str, Any] = {"results": results}
    if len(ids) > limit:
        body["paging"] = {"next": {"after": str(ids[limit]), "link": f"?after={ids[limit]}"}}
    return Reply(200, body)


async def create_contact(request: Request, emu: HubSpotEmulator) -> Reply:
    body = await json_body(request)
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ApiError.validation("Some required fields were not set: [properties]")
    store = emu.store
    values, problems = store.schema.check_write(props, api=True)
    if problems:
        raise ApiError.invalid_properties(problems)
    with store.lock:
        try:
            contact = store.insert(values, store.now_ms(), source="API")
        except ContactConflictError as exc:
            raise ApiError(409, str(exc), "CONFLICT") from None
        return Reply(201, public_object(contact, _written(values)))


async def get_contact(request: Request, emu: HubSpotEmulator) -> Reply:
    store = emu.store
    with store.lock:
        contact = _contact_from_path(request, emu, archived=query_bool(request, "archived"))
        known = {p.name for p in store.schema.all()}
        names = property_names(query_list(request, "properties"), known)
        history = [h for h in query_list(request, "propertiesWithHistory") if h in known]
        return Reply(200, public_object(contact, names, history=history))


async def update_contact(request: Request, emu: HubSpotEmulator) -> Reply:
    body = await json_body(request)
    props = body.get("properties") if isinstance(body, dict) else None
    if not isinstance(props, dict):
        raise ApiError.validation("Some required fields were not set: [properties]")
    store = emu.store
    with store.lock:
        contact = _contact_from_path(request, emu, archived=False, follow_merges=False)
        values, problems = store.schema.check_write(props, api=True)
        if problems:
            raise ApiError.invalid_properties(problems)
        try:
            store.apply_update(contact, values, store.now_ms(), source="API")
        except ContactConflictError as exc:
            raise ApiError(409, str(exc), "CONFLICT") from None
        return Reply(200, public_object(contact, _written(values)))


async def archive_contact(request: Request, emu: HubSpotEmulator) -> Reply:
    store = emu.store
    with store.lock:
        contact = store.find(request.path_params["contactId"])
        if contact is not None:
            store.archive(contact, store.now_ms())
    return Reply(204)


async def merge_contacts(request: Request, emu: HubSpotEmulator) -> Reply:
    body = await json_body(request)
    if not isinstance(body, dict) or not body.get("primaryObjectId") or not body.get("objectIdToMerge"):
        raise ApiError.validation("Some required fields were not set: [primaryObjectId, objectIdToMerge]")
    store = emu.store
    with store.lock:
        primary = store.find(str(body["primaryObjectId"]))
        merged = store.find(str(body["objectIdToMerge"]))
        if primary is None or merged is None:
            raise ApiError.not_found()
        try:
            store.merge(primary, merged, store.now_ms())
        except ValueError as exc:
            raise ApiError.validation(str(exc)) from None
        return Reply(200, public_object(primary, property_names(None, set())))


def _contact_from_path(
    request: Request, emu: HubSpotEmulator, *, archived: bool, follow_merges: bool = True
) -> Contact:
    ident = request.path_params["contactId"]
    id_property = request.query_params.get("idProperty")
    contact = batch.lookup(emu.store, ident, id_property, archived=archived, follow_merges=follow_merges)
    if contact is None or (archived and contact.archived_at is None):
        raise ApiError.not_found()
    return contact


def _written(values: dict[str, str | None]) -> list[str]:
    return [n for n in values if n not in ALWAYS] + list(ALWAYS)
