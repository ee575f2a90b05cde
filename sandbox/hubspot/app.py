"""The Starlette app: API routes, and around every API call auth, rate limits, faults and call counting.

Each API request goes through, in order: the call log (`emu.calls`), bearer-token auth (401
INVALID_AUTHENTICATION; an expired OAuth token: 401 EXPIRED_AUTHENTICATION), the rate limiter
(429 with the real body; `Retry-After` only when
`retry_after_on_429`), the fault injector (429/500/503/drop/slow/expire by endpoint name), then the
handler. Non-search responses carry the `X-HubSpot-RateLimit-*` headers.

Endpoint names (for faults and `emu.calls`): hubspot.search, hubspot.batch_read, hubspot.batch_update,
hubspot.batch_upsert, hubspot.batch_create, hubspot.batch_archive, hubspot.contacts (basic CRUD,
paging, merge), hubspot.properties (properties and groups), hubspot.lists (including search),
hubspot.memberships, hubspot.account_info. A `%2F` in an API path is refused with 404 before all
that (`EncodedSlashGuard`), and a request target over 8,000 bytes with 414 (`UriLengthGuard`).

`/_sandbox/...` is the private inspection API (no auth, no limits, not counted): see inspect_api.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..faults import DroppedConnection
from . import account_api, contacts_api, inspect_api, lists_api, oauth, schema_api
from .errors import AUTH_NOT_FOUND, ApiError, error_body
from .http import Reply
from .ratelimit import RATE_LIMIT_MESSAGES

if TYPE_CHECKING:
    from .emulator import HubSpotEmulator

log = logging.getLogger(__name__)
Handler = Callable[[Request, "HubSpotEmulator"], Awaitable[Reply]]
C, P, L = "/crm/v3/objects/contacts", "/crm/v3/properties/{objectType}", "/crm/v3/lists"

# The contacts object answers under its plural name and its object type id `0-1` (HubSpot's objects
# guide uses `crm/objects/2026-09/0-1`, the deals spec `/crm/v3/objects/0-3`: verified) and under the
# singular `contact`: PARTLY VERIFIED, no HubSpot page says so, but shipping integrations call
# `/crm/v3/objects/contact/...` against real portals (segmentio/action-destinations' HubSpot
# destination uses object type `contact` for objects and properties).
CONTACT_PATHS = (C, "/crm/v3/objects/0-1", "/crm/v3/objects/contact")


def _contact_routes(base: str) -> list[tuple[str, list[str], str, Handler]]:
    return [
        (f"{base}/search", ["POST"], "hubspot.search", contacts_api.search_contacts),
        (f"{base}/batch/read", ["POST"], "hubspot.batch_read", contacts_api.batch_read),
        (f"{base}/batch/update", ["POST"], "hubspot.batch_update", contacts_api.batch_update),
        (f"{base}/batch/upsert", ["POST"], "hubspot.batch_upsert", contacts_api.batch_upsert),
        (f"{base}/batch/create", ["POST"], "hubspot.batch_create", contacts_api.batch_create),
        (f"{base}/batch/archive", ["POST"], "hubspot.batch_archive", contacts_api.batch_archive),
        (f"{base}/merge", ["POST"], "hubspot.contacts", contacts_api.merge_contacts),
        (base, ["GET"], "hubspot.contacts", contacts_api.list_contacts),
        (base, ["POST"], "hubspot.contacts", contacts_api.create_contact),
        (f"{base}/{{contactId}}", ["GET"], "hubspot.contacts", contacts_api.get_contact),
        (f"{base}/{{contactId}}", ["PATCH"], "hubspot.contacts", contacts_api.update_contact),
        (f"{base}/{{contactId}}", ["DELETE"], "hubspot.contacts", contacts_api.archive_contact),
    ]


# (path, methods, endpoint name, handler)
API_ROUTES: list[tuple[str, list[str], str, Handler]] = [
    *(route for base in CONTACT_PATHS for route in _contact_routes(base)),
    (f"{P}/groups", ["GET"], "hubspot.properties", schema_api.list_groups),
    (f"{P}/groups", ["POST"], "hubspot.properties", schema_api.create_group),
    (f"{P}/groups/{{groupName}}", ["GET"], "hubspot.properties", schema_api.get_group),
    (f"{P}/groups/{{groupName}}", ["PATCH"], "hubspot.properties", schema_api.update_group),
    (f"{P}/groups/{{groupName}}", ["DELETE"], "hubspot.properties", schema_api.archive_group),
    (P, ["GET"], "hubspot.properties", schema_api.list_properties),
    (P, ["POST"], "hubspot.properties", schema_api.create_property),
    (f"{P}/{{propertyName}}", ["GET"], "hubspot.properties", schema_api.get_property),
    (f"{P}/{{propertyName}}", ["PATCH"], "hubspot.properties", schema_api.update_property),
    (f"{P}/{{propertyName}}", ["DELETE"], "hubspot.properties", schema_api.archive_property),
    # the spec says /crm/v3/lists, hubspot-api-client 12 sends /crm/v3/lists/: serve both
    (f"{L}/search", ["POST"], "hubspot.lists", lists_api.search_lists),
    (L, ["GET"], "hubspot.lists", lists_api.get_lists),
    (f"{L}/", ["GET"], "hubspot.lists", lists_api.get_lists),
    (L, ["POST"], "hubspot.lists", lists_api.create_list),
    (f"{L}/", ["POST"], "hubspot.lists", lists_api.create_list),
    (
        f"{L}/object-type-id/{{objectTypeId}}/name/{{listName}}",
        ["GET"],
        "hubspot.lists",
        lists_api.get_list_by_name,
    ),
    (f"{L}/{{listId}}", ["GET"], "hubspot.lists", lists_api.get_list),
    (f"{L}/{{listId}}", ["DELETE"], "hubspot.lists", lists_api.delete_list),
    (f"{L}/{{listId}}/memberships/add", ["PUT"], "hubspot.memberships", lists_api.add_members),
    (f"{L}/{{listId}}/memberships/remove", ["PUT"], "hubspot.memberships", lists_api.remove_members),
    (f"{L}/{{listId}}/memberships/add-and-remove", ["PUT"], "hubspot.memberships", lists_api.add_and_remove),
    (f"{L}/{{listId}}/memberships", ["GET"], "hubspot.memberships", lists_api.page_members),
    ("/account-info/v3/details", ["GET"], "hubspot.account_info", account_api.details),
]


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(payload, status_code=status, headers=headers, media_type="application/json")


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def api_endpoint(
    emu: HubSpotEmulator, name: str, handler: Handler
) -> Callable[[Request], Awaitable[Response]]:
    search = name == "hubspot.search"

    async def endpoint(request: Request) -> Response:
        emu.calls.hit(name)
        token = _bearer(request)
        principal = token
        if token is not None and token not in emu.tokens:
            client, expired_for = emu.oauth.check(token, emu.clock())
            if client is None:
                token = None
            elif expired_for > 0:
                return json_response(401, error_body(
                    f"The OAuth token used to make this call expired {expired_for} second(s) ago.",
                    "EXPIRED_AUTHENTICATION"))
            else:
                principal = f"oauth:{client}"  # an app's limits, whichever of its tokens is used
        if token is None or principal is None:
            return json_response(401, error_body(AUTH_NOT_FOUND, "INVALID_AUTHENTICATION"))
        decision = emu.limiter.check(principal, search=search)
        headers = dict(decision.headers)
        if not decision.allowed:
            policy = decision.policy or "TEN_SECONDLY_ROLLING"
            if emu.retry_after_on_429:
                headers["Retry-After"] = str(decision.retry_after)
            return json_response(429, _rate_limit_body(policy), headers)
        fault = emu.faults.draw(name, kinds=("429", "500", "503", "drop", "slow", "expire"))
        if fault is not None:
            if fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault.kind == "drop":
                return DroppedConnection()  # type: ignore[return-value]
            elif fault.kind == "expire":
                return json_response(
                    401,
                    error_body(
                        "The OAuth token used to make this call expired 1 second(s) ago.",
                        "EXPIRED_AUTHENTICATION",
                    ),
                    headers,
                )
            elif fault.kind == "429":
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(
                        int(fault.retry_after) if fault.retry_after.is_integer() else fault.retry_after
                    )
                return json_response(
                    429, _rate_limit_body("SECONDLY" if search else "TEN_SECONDLY_ROLLING"), headers
                )
            else:
                status = int(fault.kind)
                message = "internal error" if status == 500 else "Service Unavailable"
                return json_response(
                    status,
                    error_body(message, "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE"),
                    headers,
                )
        try:
            reply = await handler(request, emu)
        except ApiError as exc:
            headers.update(exc.headers)
            return json_response(exc.status, exc.body(), headers)
        return json_response(reply.status, reply.body, headers)

    return endpoint


def _rate_limit_body(policy: str) -> dict[str, object]:
    body = error_body(RATE_LIMIT_MESSAGES[policy], "RATE_LIMITS")
    body.update(
        {"errorType": "RATE_LIMIT", "policyName": policy, "groupName": "publicapi-sandbox-private-app"}
    )
    return body


async def _not_found(request: Request, exc: Exception) -> Response:
    return json_response(
        404, error_body(f"Unknown path {request.method} {request.url.path}", "OBJECT_NOT_FOUND")
    )


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return json_response(
        405, error_body(f"Method {request.method} not allowed on {request.url.path}", "VALIDATION_ERROR")
    )


class EncodedSlashGuard:
    """Refuse a percent-encoded `/` (`%2F`) in an API path with 404, as web servers and gateways do by
    default (Apache `AllowEncodedSlashes Off`; many proxies decode it into a path separator). A
    literal `/` inside a segment already misses every route (404). UNVERIFIED what HubSpot's edge
    does with `%2F` (issue-10 facts, Lists v3): the stricter answer, so a client never addresses
    anything by a name that may contain `/` (look lists up with POST /crm/v3/lists/search)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and raw.startswith(b"/crm/") and b"%2f" in raw.lower():
            path = raw.split(b"?", 1)[0].decode("latin-1")
            body = error_body(f"Unknown path {scope.get('method', '')} {path}", "OBJECT_NOT_FOUND")
            await json_response(404, body)(scope, receive, send)
            return
        await self.app(scope, receive, send)


MAX_TARGET_BYTES = 8_000
_TOO_LONG = (b"<html><head><title>414 Request-URI Too Large</title></head><body><center><h1>414 "
             b"Request-URI Too Large</h1></center></body></html>")


class UriLengthGuard:
    """Refuse an API request whose target (path and query) is longer than MAX_TARGET_BYTES with 414,
    before auth, limits and the call log (an edge refusal). HubSpot documents no number: integrations
    meet 414 URI Too Long when a GET names many properties, at "the ~8KB URL length limit"
    (airweave-ai/airweave PR #1064) or a property list "longer than 8000 symbols" (dlt-hub/
    verified-sources PR #311; airbytehq/airbyte #3977). The sandbox takes the lower reading, 8,000
    bytes. The body is a gateway's HTML page (what HubSpot's edge sends: UNVERIFIED)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or b""
            query = scope.get("query_string") or b""
            length = len(raw.split(b"?", 1)[0]) + (len(query) + 1 if query else 0)
            if raw.startswith(b"/crm/") and length > MAX_TARGET_BYTES:
                response = Response(_TOO_LONG, status_code=414, media_type="text/html")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def oauth_endpoint(emu: HubSpotEmulator) -> Callable[[Request], Awaitable[Response]]:
    """POST /oauth/v1/token: no bearer auth, no rate limit; counted as hubspot.oauth."""

    async def endpoint(request: Request) -> Response:
        emu.calls.hit("hubspot.oauth")
        reply = await oauth.token(request, emu.oauth, emu.clock())
        return json_response(reply.status, reply.body)

    return endpoint


def build_app(emu: HubSpotEmulator) -> Starlette:
    routes = [
        Route(path, api_endpoint(emu, name, handler), methods=methods)
        for path, methods, name, handler in API_ROUTES
    ]
    routes.append(Route("/oauth/v1/token", oauth_endpoint(emu), methods=["POST"]))
    routes += inspect_api.routes(emu)
    return Starlette(routes=routes, exception_handlers={404: _not_found, 405: _method_not_allowed},
                     middleware=[Middleware(UriLengthGuard), Middleware(EncodedSlashGuard)])
