"""The private inspection API under `/_sandbox/` (no auth, no rate limits, not counted, no faults).

GET  /_sandbox/calls                 {"calls": {endpoint: n}, "injected": {"endpoint kind": n}}
POST /_sandbox/reset                 forget contacts, lists, custom properties, calls and limits
GET  /_sandbox/contacts?archived=true&limit=N   contacts with every set property
POST /_sandbox/contacts              {"properties": {...}, "at": ISO-8601?} -> {"id": ...}
PATCH /_sandbox/contacts/{id}/engagement   {"properties": {...}, "at": ISO-8601?} -> the contact
                                     sets engagement properties (hs_email_open, ...), which the real
                                     API refuses (READ_ONLY_VALUE); only those, so a test or demo can
                                     make a person respond again; bumps lastmodifieddate like an event
GET  /_sandbox/lists/{name}/members  {"name": ..., "members": [ids]}
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .errors import ApiError, ContactConflictError, PropertyValidationError, error_body
from .http import json_body, query_bool, query_int

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator

PREFIX = "/_sandbox"


def routes(emu: HubSpotEmulator) -> list[Route]:
    from .app import json_response

    async def calls(request: Request) -> Response:
        injected = {f"{endpoint} {kind}": n for (endpoint, kind), n in emu.faults.injected.items()}
        return json_response(200, {"calls": emu.calls.snapshot(), "injected": injected})

    async def reset(request: Request) -> Response:
        emu.reset()
        return json_response(200, {"reset": True})

    async def contacts(request: Request) -> Response:
        total, rows = emu.store.contacts_page(
            include_archived=query_bool(request, "archived"), limit=query_int(request, "limit", 1000)
        )
        return json_response(200, {"total": total, "results": rows})

    async def seed(request: Request) -> Response:
        try:
            body = await json_body(request)
            at = datetime.fromisoformat(body["at"].replace("Z", "+00:00")) if body.get("at") else None
            contact_id = emu.store.create_contact(body.get("properties") or {}, at=at)
        except ApiError as exc:
            return json_response(exc.status, exc.body())
        except PropertyValidationError as exc:
            return json_response(400, error_body(str(exc), "VALIDATION_ERROR"))
        except ContactConflictError as exc:
            return json_response(409, error_body(str(exc), "CONFLICT"))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            return json_response(400, error_body(f"bad seed request: {exc}", "VALIDATION_ERROR"))
        return json_response(201, {"id": contact_id})

    async def engagement(request: Request) -> Response:
        contact_id = request.path_params["contact_id"]
        try:
            body = await json_body(request)
            props = body.get("properties")
            if not isinstance(props, dict) or not props:
                raise ValueError("'properties' must be a non-empty object")
            schema = emu.store.schema
            other = sorted(n for n in props if (p := schema.get(n)) is not None and not p.read_only_value)
            if other:
                return json_response(
                    400,
                    error_body(
                        f"not engagement properties: {other}; set them through the API "
                        f"(PATCH /crm/v3/objects/contacts/{contact_id})",
                        "VALIDATION_ERROR",
                    ),
                )
            at = datetime.fromisoformat(body["at"].replace("Z", "+00:00")) if body.get("at") else None
            emu.store.update_contact(contact_id, props, at=at)
        except KeyError:
            return json_response(
                404, error_body(f"no active contact with id {contact_id}", "OBJECT_NOT_FOUND")
            )
        except PropertyValidationError as exc:
            return json_response(400, error_body(str(exc), "VALIDATION_ERROR"))
        except ApiError as exc:
            return json_response(exc.status, exc.body())
        except (AttributeError, TypeError, ValueError) as exc:
            return json_response(400, error_body(f"bad engagement request: {exc}", "VALIDATION_ERROR"))
        return json_response(200, emu.store.get_contact(contact_id))

    async def members(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            ids = sorted(emu.store.list_members(name), key=int)
        except KeyError:
            return json_response(404, error_body(f"no list named {name}", "OBJECT_NOT_FOUND"))
        return json_response(200, {"name": name, "members": ids})

    return [
        Route(f"{PREFIX}/calls", calls, methods=["GET"]),
        Route(f"{PREFIX}/reset", reset, methods=["POST"]),
        Route(f"{PREFIX}/contacts", contacts, methods=["GET"]),
        Route(f"{PREFIX}/contacts", seed, methods=["POST"]),
        Route(f"{PREFIX}/contacts/{{contact_id}}/engagement", engagement, methods=["PATCH"]),
        Route(f"{PREFIX}/lists/{{name:path}}/members", members, methods=["GET"]),
    ]
