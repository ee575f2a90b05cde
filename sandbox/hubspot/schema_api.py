"""Properties API v3 for contacts: properties and property groups."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from .http import Reply, json_body
from .schema import object_type_of
from .timefmt import iso_ms

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator


def _schema(request: Request, emu: HubSpotEmulator):  # noqa: ANN202 (PropertySchema)
    object_type_of(request.path_params["objectType"], access="read" if request.method == "GET" else "write")
    return emu.store.schema


async def list_properties(request: Request, emu: HubSpotEmulator) -> Reply:
    return Reply(200, {"results": [p.as_json() for p in _schema(request, emu).all()]})


async def create_property(request: Request, emu: HubSpotEmulator) -> Reply:
    schema = _schema(request, emu)
    prop = schema.create(await json_body(request), iso_ms(emu.store.now_ms()))
    return Reply(201, prop.as_json())


async def get_property(request: Request, emu: HubSpotEmulator) -> Reply:
    schema = _schema(request, emu)
    return Reply(200, schema.require(request.path_params["propertyName"]).as_json())


async def update_property(request: Request, emu: HubSpotEmulator) -> Reply:
    schema = _schema(request, emu)
    prop = schema.update(
        request.path_params["propertyName"], await json_body(request), iso_ms(emu.store.now_ms())
    )
    return Reply(200, prop.as_json())


async def archive_property(request: Request, emu: HubSpotEmulator) -> Reply:
    _schema(request, emu).archive(request.path_params["propertyName"])
    return Reply(204)


async def list_groups(request: Request, emu: HubSpotEmulator) -> Reply:
    return Reply(200, {"results": [g.as_json() for g in _schema(request, emu).groups()]})


async def create_group(request: Request, emu: HubSpotEmulator) -> Reply:
    schema = _schema(request, emu)
    return Reply(201, schema.create_group(await json_body(request)).as_json())


async def get_group(request: Request, emu: HubSpotEmulator) -> Reply:
    return Reply(200, _schema(request, emu).group(request.path_params["groupName"]).as_json())


async def update_group(request: Request, emu: HubSpotEmulator) -> Reply:
    schema = _schema(request, emu)
    return Reply(
        200, schema.update_group(request.path_params["groupName"], await json_body(request)).as_json()
    )


async def archive_group(request: Request, emu: HubSpotEmulator) -> Reply:
    _schema(request, emu).archive_group(request.path_params["groupName"])
    return Reply(204)
