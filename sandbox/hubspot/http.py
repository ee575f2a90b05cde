"""Small request helpers shared by the API handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from .errors import BATCH_TOO_LARGE, ApiError


@dataclass(frozen=True)
class Reply:
    """A handler's answer: status and JSON body (None: no body, e.g. 204)."""

    status: int
    body: Any = None


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise ApiError.validation("Invalid input JSON: the request body is empty")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ApiError.validation(
            f"Invalid input JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None


def query_list(request: Request, name: str) -> list[str]:
    """A list query parameter sent repeated (`a=1&a=2`, as hubspot-api-client does) or comma-separated."""
    out: list[str] = []
    for raw in request.query_params.getlist(name):
        out.extend(part for part in raw.split(",") if part)
    return out


def query_bool(request: Request, name: str) -> bool:
    """Booleans arrive as `true`/`false` or as Python's `True`/`False` (hubspot-api-client)."""
    return request.query_params.get(name, "false").strip().lower() == "true"


def query_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError.validation(f"{name} must be an integer, got {raw!r}") from None


def inputs_of(body: Any, limit: int) -> list[Any]:
    """The `inputs` of a batch request, refusing more than `limit` as the real API does."""
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise ApiError.validation("Some required fields were not set: [inputs]")
    inputs = body["inputs"]
    if len(inputs) > limit:
        raise ApiError.validation(BATCH_TOO_LARGE.format(limit=limit))
    return inputs
