"""The emulator's routes: the emulated API under /services/..., and a private inspection API under
/_sandbox/... (no auth, never counted, not part of Salesforce).

Endpoint names (for fault rules and the call log): salesforce.login (SOAP), salesforce.token (OAuth),
salesforce.query, salesforce.query_more, salesforce.describe, salesforce.sobject (CRUD and upsert),
salesforce.collections, salesforce.bulk, salesforce.limits.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clock import parse_instant
from ..faults import DroppedConnection, FaultInjector, FaultSpecError
from . import bulk, composite, rest
from .api import LOGIN_FAULTS, base_url, endpoint, json_response, take_fault
from .auth import oauth_token, soap_fault, soap_login
from .errors import RecordError
from .values import to_json

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

DATA = "/services/data/v{version}"


def _routes_for(emu: SalesforceEmulator) -> list[Route]:
    def api(
        path: str, name: str, handler: Callable[..., Awaitable[Response]], methods: list[str], **kwargs: Any
    ) -> list[Route]:
        wrapped = endpoint(emu, name, partial(handler, emu, **kwargs))
        return [Route(p, wrapped, methods=methods) for p in (path, path + "/")]

    q, s, c, b = "salesforce.query", "salesforce.sobject", "salesforce.collections", "salesforce.bulk"
    d = "salesforce.describe"
    routes = [
        Route("/services/data", partial(_versions, emu), methods=["GET"]),
        Route("/services/data/", partial(_versions, emu), methods=["GET"]),
        Route("/services/Soap/u/{version}", partial(_soap_login, emu), methods=["POST"]),
        Route("/services/oauth2/token", partial(_token, emu), methods=["POST"]),
        *api(f"{DATA}/query", q, rest.query, ["GET"], include_deleted=False),
        *api(f"{DATA}/queryAll", q, rest.query, ["GET"], include_deleted=True),
        *api(f"{DATA}/query/{{locator}}", "salesforce.query_more", rest.query_more, ["GET"]),
        *api(f"{DATA}/queryAll/{{locator}}", "salesforce.query_more", rest.query_more, ["GET"]),
        *api(f"{DATA}/limits", "salesforce.limits", rest.limits, ["GET"]),
        *api(f"{DATA}/sobjects", d, rest.describe_global, ["GET"]),
        *api(f"{DATA}/sobjects/{{sobject}}/describe", d, rest.describe_sobject, ["GET"]),
        *api(f"{DATA}/sobjects/{{sobject}}", d, rest.sobject_basic, ["GET"]),
        *api(f"{DATA}/sobjects/{{sobject}}", s, rest.create, ["POST"]),
        *api(f"{DATA}/sobjects/{{sobject}}/{{record_id}}", s, rest.get_record, ["GET"]),
        *api(f"{DATA}/sobjects/{{sobject}}/{{record_id}}", s, rest.update, ["PATCH"]),
        *api(f"{DATA}/sobjects/{{sobject}}/{{record_id}}", s, rest.delete, ["DELETE"]),
        *api(f"{DATA}/sobjects/{{sobject}}/{{field}}/{{value}}", s, rest.get_by_external_id, ["GET"]),
        *api(f"{DATA}/sobjects/{{sobject}}/{{field}}/{{value}}", s, rest.upsert, ["PATCH"]),
        *api(f"{DATA}/composite/sobjects", c, composite.collections, ["POST", "PATCH", "DELETE"]),
        *api(f"{DATA}/composite/sobjects/{{sobject}}", c, composite.retrieve, ["GET"]),
        *api(f"{DATA}/composite/sobjects/{{sobject}}/{{field}}", c, composite.upsert, ["PATCH"]),
        *api(f"{DATA}/jobs/ingest", b, bulk.create_ingest, ["POST"]),
        *api(f"{DATA}/jobs/ingest", b, bulk.list_jobs, ["GET"]),
        *api(f"{DATA}/jobs/ingest/{{job_id}}", b, bulk.get_ingest, ["GET"]),
        *api(f"{DATA}/jobs/ingest/{{job_id}}", b, bulk.patch_ingest, ["PATCH"]),
        *api(f"{DATA}/jobs/ingest/{{job_id}}", b, bulk.delete_job, ["DELETE"]),
        *api(f"{DATA}/jobs/ingest/{{job_id}}/batches", b, bulk.upload, ["PUT"]),
        *api(f"{DATA}/jobs/ingest/{{job_id}}/{{kind}}", b, bulk.ingest_results, ["GET"]),
        *api(f"{DATA}/jobs/query", b, bulk.create_query, ["POST"]),
        *api(f"{DATA}/jobs/query", b, bulk.list_jobs, ["GET"]),
        *api(f"{DATA}/jobs/query/{{job_id}}", b, bulk.get_query, ["GET"]),
        *api(f"{DATA}/jobs/query/{{job_id}}", b, bulk.patch_query, ["PATCH"]),
        *api(f"{DATA}/jobs/query/{{job_id}}", b, bulk.delete_job, ["DELETE"]),
        *api(f"{DATA}/jobs/query/{{job_id}}/results", b, bulk.query_results, ["GET"]),
    ]
    return routes + _inspection_routes(emu)


# "the maximum combined length of the URI and headers is 16,384 bytes": over it 431 Request Header
# Fields Too Large, and 414 URI Too Long when the URI alone is over it (help article 000386264).
MAX_URI_AND_HEADERS = 16_384


def request_size(scope: dict[str, Any]) -> tuple[int, int]:
    """(URI bytes as sent: path + "?" + query, URI + header bytes "name: value\r\n")."""
    query = scope.get("query_string") or b""
    uri = len(scope.get("raw_path") or scope["path"].encode()) + (len(query) + 1 if query else 0)
    headers = sum(len(name) + len(value) + 4 for name, value in scope.get("headers") or ())
    return uri, uri + headers


class UriLimit:
    """ASGI middleware answering 414 / 431 like Salesforce's edge, before any route (and uncounted)."""

    def __init__(self, app: Starlette, limit: int = MAX_URI_AND_HEADERS):
        self.app, self.limit = app, limit
        self.largest = 0  # the largest URI + headers seen (tests measure leadsync's requests with it)

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001 (ASGI signature)
        if scope["type"] == "http":
            uri, total = request_size(scope)
            self.largest = max(self.largest, total)
            if uri > self.limit or total > self.limit:
                status = 414 if uri > self.limit else 431
                text = b"URI Too Long" if status == 414 else b"Request Header Fields Too Large"
                headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(text))]
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": text})
                return
        await self.app(scope, receive, send)


def build_app(emu: SalesforceEmulator) -> UriLimit:
    return UriLimit(Starlette(routes=_routes_for(emu)))


# ------------------------------------------------------------------ unauthenticated endpoints
async def _versions(emu: SalesforceEmulator, request: Request) -> Response:
    return await rest.versions(emu, request)


async def _soap_login(emu: SalesforceEmulator, request: Request) -> Response:
    emu.calls.hit("salesforce.login")
    fault = await take_fault(emu, "salesforce.login", request, LOGIN_FAULTS)
    if fault is not None:
        if fault.kind == "drop":
            return DroppedConnection()  # type: ignore[return-value]
        if fault.kind == "503":
            return Response("Service Unavailable", 503, media_type="text/plain")
        return Response(
            soap_fault("UNKNOWN_EXCEPTION", "An unexpected error occurred."), 500, media_type="text/xml"
        )
    status, xml = soap_login(
        await request.body(),
        emu.credentials,
        base_url(request),
        request.path_params["version"],
        emu.store.user_id,
        retired=emu.soap_login_retired,
    )
    return Response(xml, status, media_type="text/xml;charset=UTF-8")


async def _token(emu: SalesforceEmulator, request: Request) -> Response:
    emu.calls.hit("salesforce.token")
    fault = await take_fault(emu, "salesforce.token", request, LOGIN_FAULTS)
    if fault is not None:
        if fault.kind == "drop":
            return DroppedConnection()  # type: ignore[return-value]
        return json_response(
            {"error": "unknown_error", "error_description": "retry your request"}, int(fault.kind)
        )
    form = dict(parse_qsl((await request.body()).decode()))
    status, body = oauth_token(
        form,
        request.headers.get("authorization"),
        emu.credentials,
        base_url(request),
        emu.store.user_id,
        password_retired=emu.password_grant_retired,
        rotate_refresh_tokens=emu.rotate_refresh_tokens,
    )
    return json_response(body, status)


# ------------------------------------------------------------------ /_sandbox inspection
def _inspection_routes(emu: SalesforceEmulator) -> list[Route]:
    async def calls(request: Request) -> Response:
        return json_response(
            {
                "calls": emu.calls.snapshot(),
                "api_usage": {"used": emu.api_used, "max": emu.daily_limit},
                "faults_injected": {f"{e}:{k}": n for (e, k), n in emu.faults.injected.items()},
            }
        )

    async def reset(request: Request) -> Response:
        emu.reset()
        return Response(status_code=204)

    async def records(request: Request) -> Response:
        sobject = request.path_params["sobject"]
        try:
            table = emu.store.table(sobject)
            if request.method == "POST":
                body = json.loads(await request.body() or b"{}")
                return json_response({"id": emu.store.create(sobject, body)}, 201)
        except RecordError as exc:
            return json_response([exc.as_api_error()], 400)
        include_deleted = request.query_params.get("include_deleted", "false").lower() == "true"
        rows = emu.store.all(sobject, include_deleted=include_deleted)
        return json_response(
            {"records": [{f.name: to_json(f, row[f.name]) for f in table.obj.fields} for row in rows]}
        )

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            emu.faults.clear()
            return Response(status_code=204)
        spec = json.loads(await request.body() or b"{}").get("spec", "")
        try:
            parsed = FaultInjector.parse(spec)
        except FaultSpecError as exc:
            return json_response({"error": str(exc)}, 400)
        for rule in parsed.rules:
            emu.faults.add(rule.endpoint, rule.kind, rule.probability, rule.remaining, rule.arg)
        return Response(status_code=204)

    async def expire_sessions(request: Request) -> Response:
        emu.sessions.expire()
        return Response(status_code=204)

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body() or b"{}")
                text = body["now"]
                emu.move_clock(None if text is None else parse_instant(text))
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                usage = 'body must be {"now": "ISO-8601 (UTC without an offset)"} or {"now": null}'
                return json_response({"error": f"{usage}: {exc}"}, 400)
        offset = emu.clock.offset.total_seconds()
        return json_response({"now": emu.clock().isoformat(), "offset_seconds": offset})

    return [
        Route("/_sandbox/calls", calls, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/records/{sobject}", records, methods=["GET", "POST"]),
        Route("/_sandbox/faults", faults, methods=["POST", "DELETE"]),
        Route("/_sandbox/sessions/expire", expire_sessions, methods=["POST"]),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"]),
    ]
