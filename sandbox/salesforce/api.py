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

from ..faults import DroppedConnection, Fault
from .errors import ApiError, RecordError, not_found

if TYPE_CHECKING:
    from .emulator import SalesforceEmulator

Handler = Callable[[Request], Awaitable[Response]]
MIN_VERSION = 20.0
_VERSION_RE = re.compile(r"^\d{2}\.0$")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status,
        headers=headers,
        media_type="application/json;charset=UTF-8",
    )


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response([{"message": message, "errorCode": code}], status, headers)


def fault_response(fault: Fault) -> Response:
    """The body a REST call gets for an injected 429/500/503."""
    if fault.kind == "429":
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        return error_response(
            429, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded.", headers
        )
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


def version_supported(version: str, newest: str) -> bool:
    return bool(_VERSION_RE.match(version)) and MIN_VERSION <= float(version) <= float(newest)


async def take_fault(emu: SalesforceEmulator, name: str, request: Request) -> Fault | None:
    """Draw a fault for endpoint `name`. A slow fault sleeps and an expire fault ends the caller's
    session here (the call then carries on); 429/500/503/drop are returned for the caller to answer."""
    fault = emu.faults.draw(name)
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
        if version is not None and not version_supported(version, emu.api_version):
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
