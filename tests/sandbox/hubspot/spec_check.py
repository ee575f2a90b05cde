"""Validate every HTTP response the emulator sends against HubSpot's published OpenAPI files.

`Recorder` wraps the emulator's ASGI app and keeps (method, raw path, status, body) of each API
response; `SpecChecker.problems(recorder.records)` validates them with openapi-core against
specs/crm-{contacts,lists,properties}-v3.json (operation found by method + path; a status the
operation does not list is checked against its `default` Error response; 204 must have no body).

Documented adjustments: the specs declare contact property values as `{"type": "string"}`, while
the real API returns `null` for requested properties that have no value (and hubspot-api-client
accepts None there), so `properties` maps of SimplePublicObject* are marked nullable. Nothing else
is changed, except that the shared `Error` response, declared for `*/*`, is also registered under
`application/json` so that openapi-core parses the JSON error body instead of validating raw bytes.
`/_sandbox/*` (the private inspection API) is not part of HubSpot's API and is skipped, and so is
`/account-info/v3/details`: no OpenAPI file here covers it (test_hubspot_account_info.py asserts its
shape). Skipping it here rather than per test matters: a response is recorded after the client has
it, so the record of a test's last call can land after the next test cleared the recorder.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC_DIR = Path(__file__).parent / "specs"
SERVER = "https://api.hubapi.com"
SPEC_BY_PREFIX = (
    ("/crm/v3/objects/contacts", "crm-contacts-v3.json"),
    ("/crm/v3/properties/", "crm-properties-v3.json"),
    ("/crm/v3/lists", "crm-lists-v3.json"),
)
NULLABLE_PROPERTY_MAPS = (
    "SimplePublicObject",
    "SimplePublicObjectWithAssociations",
    "SimplePublicUpsertObject",
)


@dataclass(frozen=True)
class Record:
    method: str
    raw_path: str
    status: int
    body: bytes
    complete: bool  # False when the response was cut (injected dropped connection)


class Recorder:
    """ASGI middleware keeping every response of the wrapped app."""

    def __init__(self, app: Any):
        self.app = app
        self.records: list[Record] = []
        # raw paths a test sends on purpose that no spec can describe (checked against nothing); a
        # set rather than popping the record, which the server thread may append after the reply
        self.unchecked: set[str] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        chunks: list[bytes] = []
        complete = False

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        raw_path = scope.get("raw_path") or scope["path"].encode()
        try:
            await self.app(scope, receive, capture)
        finally:
            self.records.append(
                Record(
                    scope["method"],
                    raw_path.decode("latin-1").split("?")[0],
                    status,
                    b"".join(chunks),
                    complete,
                )
            )


@cache
def _openapi(file_name: str) -> OpenAPI:
    spec = json.loads((SPEC_DIR / file_name).read_text())
    spec = copy.deepcopy(spec)
    schemas = spec.get("components", {}).get("schemas", {})
    for response in spec.get("components", {}).get("responses", {}).values():
        content = response.get("content", {})
        if "*/*" in content and "application/json" not in content:
            content["application/json"] = content["*/*"]  # so the JSON body is parsed, not taken as bytes
    for name in NULLABLE_PROPERTY_MAPS:
        values = schemas.get(name, {}).get("properties", {}).get("properties", {}).get("additionalProperties")
        if isinstance(values, dict):
            values["nullable"] = True
    return OpenAPI.from_dict(spec)


# the contacts object's other path names (object type id, singular) serve the same operations
CONTACT_ALIAS = re.compile(r"^/crm/v3/objects/(?:0-1|contact)(?=/|$)")


def spec_for(path: str) -> str | None:
    return next((file for prefix, file in SPEC_BY_PREFIX if path.startswith(prefix)), None)


def validate(method: str, raw_path: str, status: int, body: bytes) -> None:
    """Raise if the response does not match the operation's declared response."""
    raw_path = CONTACT_ALIAS.sub("/crm/v3/objects/contacts", raw_path)
    file_name = spec_for(raw_path)
    if file_name is None:
        raise AssertionError(f"{method} {raw_path}: no HubSpot spec covers this path")
    if status == 204:
        assert body == b"", f"{method} {raw_path}: 204 with a body"
        return
    path = raw_path.rstrip("/") if raw_path != "/" else raw_path  # client 12 sends /crm/v3/lists/
    request = MockRequest(SERVER, method.lower(), path)
    response = MockResponse(body, status_code=status, content_type="application/json")
    _openapi(file_name).validate_response(request, response)


NO_SPEC = ("/_sandbox", "/account-info/")


def problems(records: list[Record], unchecked: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """One line per response that fails validation (empty when all conform)."""
    out: list[str] = []
    for rec in records:
        if rec.raw_path.startswith(NO_SPEC) or not rec.complete or rec.raw_path in unchecked:
            continue
        try:
            validate(rec.method, rec.raw_path, rec.status, rec.body)
        except Exception as exc:  # noqa: BLE001 (report every kind of validation failure)
            out.append(
                f"{rec.method} {rec.raw_path} -> {rec.status}: {type(exc).__name__}: {exc}"
                f" | body: {rec.body[:300]!r}"
            )
    return out
