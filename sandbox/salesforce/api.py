"""What every emulated REST call goes through: call log, fault injection, session check, API version,
the daily request allocation (`Sforce-Limit-Info`, 403 REQUEST_LIMIT_EXCEEDED) and error bodies."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from ..faults import KINDS, DroppedConnection, Fault
from .errors import ApiError, RecordError, not_found

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

Handler = Callable[[Request], Awaitable[Response]]
# API versions (facts §14): Spring '26 = 66.0, the newest the emulator serves by default. 7.0-20.0 were
# retired in Summer '22 and 21.0-30.0 in Summer '25; a retired version answers REST "410:GONE" (API
# End-of-Life page; help 000354473), 31.0-40.0 follow in Summer '28 (`retired_below` raises the floor).
NEWEST_VERSION = "66.0"
OLDEST_VERSION = 31.0
_VERSION_RE = re.compile(r"^\d{1,2}\.0$")
# Status table (REST API Developer Guide, "Status Codes and Error Responses"): 410 "The requested resource
# has been retired or removed." The body's errorCode "GONE" follows the EOL page's "410:GONE"; the exact
# JSON body of a retired-version answer is unverified.
GONE = ("GONE", "The requested resource has been retired or removed. Delete or update any references to "
        "the resource.")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status,
        headers=headers,
        media_type="application/json;charset=UTF-8",
    )


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response([{"message": message, "errorCode": code}], status, headers)


# Salesforce answers no 429 (REST API Developer Guide, "Status Codes and Error Responses"): over the
# concurrent long-running request limit (25 requests of 20 s or more; 5 in Developer and Trial orgs, App
# Limits cheatsheet) it answers 403 REQUEST_LIMIT_EXCEEDED, with no Retry-After. The message is a captured
# one (SalesforceLabs/OrgCheck #432, 2024: "REQUEST_LIMIT_EXCEEDED: ConcurrentRequests (Concurrent API
# Requests) Limit exceeded."): partly verified for REST.
CONCURRENT_LIMIT = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."


def fault_response(fault: Fault) -> Response:
    """The body a REST call gets for an injected concurrent/500/503 fault."""
    if fault.kind == "concurrent":
        return error_response(403, "REQUEST_LIMIT_EXCEEDED", CONCURRENT_LIMIT)
    if fault.kind == "503":
        return error_response(
            503, "SERVER_UNAVAILABLE", "Server temporarily unavailable. Please try again later."
        )
    return error_response(
        500,
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId "
        "if you contact support: 1848370553-73214 (-1206387357)",
    )


def bearer_token(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") and token.strip() else None


def base_url(request: Request) -> str:
    """The emulator's own https://host:port, as the client reached it (the instance_url to hand out)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def version_status(version: str, newest: str, oldest: float = OLDEST_VERSION) -> int:
    """200 for a served version, 410 for a retired one (below `oldest`), 404 for anything else."""
    if not _VERSION_RE.match(version) or float(version) > float(newest) or float(version) < 7.0:
        return 404
    return 410 if float(version) < oldest else 200


# The concurrent limit counts API requests running 20 s or more; a login is none: logins draw the rest.
LOGIN_FAULTS = tuple(k for k in KINDS if k != "concurrent")


async def take_fault(
    emu: SalesforceEmulator, name: str, request: Request, kinds: tuple[str, ...] = KINDS
) -> Fault | None:
    """Draw a fault for endpoint `name`. A slow fault sleeps and an expire fault ends the caller's
    session here (the call then carries on); concurrent/500/503/drop are returned for the caller to
    answer."""
    fault = emu.faults.draw(name, kinds)
    if fault is None:
        return None
    if fault.kind == "slow":
        await asyncio.sleep(fault.delay)
        return None
    if fault.kind == "expire":
        token = bearer_token(request)
        if token:
            emu.sessions.expire(token)
        return None
    return fault


def endpoint(emu: SalesforceEmulator, name: str, handler: Handler) -> Handler:
    """Wrap an API handler with the checks and accounting every REST call gets."""

    async def run(request: Request) -> Response:
        emu.calls.hit(name)
        fault = await take_fault(emu, name, request)
        if fault is not None:
            return DroppedConnection() if fault.kind == "drop" else fault_response(fault)  # type: ignore[return-value]
        version = request.path_params.get("version")
        status = 200 if version is None else version_status(version, emu.api_version, emu.oldest_version)
        if status == 410:
            return error_response(410, *GONE)
        if status == 404:
            err = not_found()
            return error_response(err.status, err.error_code, err.message)
        token = bearer_token(request)
        if token is None or not emu.sessions.check(token):
            return error_response(401, "INVALID_SESSION_ID", "Session expired or invalid")
        used = emu.count_api_call()
        if used is None:
            return error_response(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
                {"Sforce-Limit-Info": f"api-usage={emu.api_used}/{emu.daily_limit}"},
            )
        limit_header = {"Sforce-Limit-Info": f"api-usage={used}/{emu.daily_limit}"}
        try:
            response = await handler(request)
        except ApiError as exc:
            response = json_response(exc.body(), exc.status)
        except RecordError as exc:
            status = 404 if exc.status_code in ("NOT_FOUND",) else 400
            response = json_response([exc.as_api_error()], status)
        response.headers.update(limit_header)
        return response

    return run


async def read_json(request: Request) -> Any:
    body = await request.body()
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character in the request body: {exc}") from None
