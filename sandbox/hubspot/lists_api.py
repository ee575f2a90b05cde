"""Lists v3 endpoints: create, search, fetch by id or name, delete, and memberships."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from .errors import ApiError
from .http import Reply, json_body, query_bool, query_int
from .lists import MAX_MEMBERSHIP_PAGE

SEARCH_DEFAULT_COUNT = 20  # ListSearchRequest.count default (crm-lists-v3.json)
SEARCH_MAX_COUNT = 500  # its maximum

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator


async def create_list(request: Request, emu: HubSpotEmulator) -> Reply:
    created = emu.store.lists.create(await json_body(request))
    return Reply(200, {"list": created.as_json(include_filters=True)})


async def get_list(request: Request, emu: HubSpotEmulator) -> Reply:
    found = emu.store.lists.get(request.path_params["listId"])
    return Reply(200, {"list": found.as_json(include_filters=query_bool(request, "includeFilters"))})


async def get_lists(request: Request, emu: HubSpotEmulator) -> Reply:
    """GET /crm/v3/lists/?listIds=1&listIds=2: the lists with these ids, in id order. Ids of no list
    are left out without an error, as the documented v1 batch read does ("Any list IDs that are
    invalid will be ignored", developers.hubspot.com/docs/api-reference/legacy/crm/lists/v1/
    get-contacts-v1-lists-batch); v3's own reference shows only the 200 body. Without `listIds`:
    an empty answer (the unfiltered listing is not emulated)."""
    include = query_bool(request, "includeFilters")
    found = emu.store.lists.by_ids(request.query_params.getlist("listIds"))
    return Reply(200, {"lists": [x.as_json(include_filters=include) for x in found]})


async def get_list_by_name(request: Request, emu: HubSpotEmulator) -> Reply:
    found = emu.store.lists.by_name(request.path_params["objectTypeId"], request.path_params["listName"])
    return Reply(200, {"list": found.as_json(include_filters=query_bool(request, "includeFilters"))})


async def search_lists(request: Request, emu: HubSpotEmulator) -> Reply:
    """POST /crm/v3/lists/search. `offset` and `additionalProperties` are required by the spec
    (ListSearchRequest): refused when absent, the stricter reading. `count` at most 500 (spec)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError.validation("Invalid input JSON: expected a ListSearchRequest object")
    missing = [k for k in ("offset", "additionalProperties") if body.get(k) is None]
    if missing:
        raise ApiError.validation(f"Some required fields were not set: [{', '.join(missing)}]")
    offset, count = body["offset"], body.get("count", SEARCH_DEFAULT_COUNT)
    if not (isinstance(offset, int) and offset >= 0 and isinstance(count, int)
            and 1 <= count <= SEARCH_MAX_COUNT):
        raise ApiError.validation(f"offset must be >= 0 and count between 1 and {SEARCH_MAX_COUNT}")
    types = body.get("processingTypes") or []
    return Reply(200, emu.store.lists.search(str(body.get("query") or ""), offset, count, list(types)))


async def delete_list(request: Request, emu: HubSpotEmulator) -> Reply:
    emu.store.lists.delete(request.path_params["listId"])
    return Reply(204)


async def add_members(request: Request, emu: HubSpotEmulator) -> Reply:
    ids = _capped(emu, _id_array(await json_body(request)))
    return Reply(200, emu.store.lists.change(request.path_params["listId"], ids, ()))


async def remove_members(request: Request, emu: HubSpotEmulator) -> Reply:
    ids = _capped(emu, _id_array(await json_body(request)))
    return Reply(200, emu.store.lists.change(request.path_params["listId"], (), ids))


async def add_and_remove(request: Request, emu: HubSpotEmulator) -> Reply:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError.validation("Invalid input JSON: expected {recordIdsToAdd, recordIdsToRemove}")
    add = _id_array(body.get("recordIdsToAdd") or [])
    remove = _id_array(body.get("recordIdsToRemove") or [])
    _capped(emu, add + remove)
    return Reply(200, emu.store.lists.change(request.path_params["listId"], add, remove))


async def page_members(request: Request, emu: HubSpotEmulator) -> Reply:
    limit = query_int(request, "limit", 100)
    if limit > MAX_MEMBERSHIP_PAGE:
        raise ApiError.validation(f"limit must be at most {MAX_MEMBERSHIP_PAGE}, got {limit}")
    return Reply(
        200, emu.store.lists.page(request.path_params["listId"], request.query_params.get("after"), limit)
    )


def _capped(emu: HubSpotEmulator, ids: list[str]) -> list[str]:
    """Refuse more than `emu.membership_max_ids` record ids in one membership call. UNVERIFIED: the
    Lists v3 spec and reference state no maximum (the legacy v1 lists API took up to 500 per request);
    the emulator enforces the assumed one, with a HubSpot-shaped VALIDATION_ERROR of unknown text."""
    limit = emu.membership_max_ids
    if len(ids) > limit:
        raise ApiError.validation(
            f"The maximum number of record ids supported in a membership request is {limit}. "
            "Please reduce the number of items and try again",
            context={"maximum": [str(limit)], "received": [str(len(ids))]},
        )
    return ids


def _id_array(body: Any) -> list[str]:
    if not isinstance(body, list) or not all(isinstance(x, str | int) for x in body):
        raise ApiError.validation("The request body must be a JSON array of record ids")
    return [str(x) for x in body]
