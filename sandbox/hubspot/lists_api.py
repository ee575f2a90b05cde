"""Lists v3 endpoints: create, fetch by id or name, delete, and memberships."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from .errors import ApiError
from .http import Reply, json_body, query_bool, query_int
from .lists import MAX_MEMBERSHIP_PAGE

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator


async def create_list(request: Request, emu: HubSpotEmulator) -> Reply:
    created = emu.store.lists.create(await json_body(request))
    return Reply(200, {"list": created.as_json(include_filters=True)})


async def get_list(request: Request, emu: HubSpotEmulator) -> Reply:
    found = emu.store.lists.get(request.path_params["listId"])
    return Reply(200, {"list": found.as_json(include_filters=query_bool(request, "includeFilters"))})


async def get_list_by_name(request: Request, emu: HubSpotEmulator) -> Reply:
    found = emu.store.lists.by_name(request.path_params["objectTypeId"], request.path_params["listName"])
    return Reply(200, {"list": found.as_json(include_filters=query_bool(request, "includeFilters"))})


async def delete_list(request: Request, emu: HubSpotEmulator) -> Reply:
    emu.store.lists.delete(request.path_params["listId"])
    return Reply(204)


async def add_members(request: Request, emu: HubSpotEmulator) -> Reply:
    ids = _id_array(await json_body(request))
    return Reply(200, emu.store.lists.change(request.path_params["listId"], ids, ()))


async def remove_members(request: Request, emu: HubSpotEmulator) -> Reply:
    ids = _id_array(await json_body(request))
    return Reply(200, emu.store.lists.change(request.path_params["listId"], (), ids))


async def add_and_remove(request: Request, emu: HubSpotEmulator) -> Reply:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ApiError.validation("Invalid input JSON: expected {recordIdsToAdd, recordIdsToRemove}")
    add = _id_array(body.get("recordIdsToAdd") or [])
    remove = _id_array(body.get("recordIdsToRemove") or [])
    return Reply(200, emu.store.lists.change(request.path_params["listId"], add, remove))


async def page_members(request: Request, emu: HubSpotEmulator) -> Reply:
    limit = query_int(request, "limit", 100)
    if limit > MAX_MEMBERSHIP_PAGE:
        raise ApiError.validation(f"limit must be at most {MAX_MEMBERSHIP_PAGE}, got {limit}")
    return Reply(
        200, emu.store.lists.page(request.path_params["listId"], request.query_params.get("after"), limit)
    )


def _id_array(body: Any) -> list[str]:
    if not isinstance(body, list) or not all(isinstance(x, str | int) for x in body):
        raise ApiError.validation("The request body must be a JSON array of record ids")
    return [str(x) for x in body]
