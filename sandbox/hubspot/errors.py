"""HubSpot-shaped error bodies and the exception the emulator raises to answer with one.

Every API error body carries `status: "error"`, `message`, `correlationId` (a UUID) and `category`,
which is what the OpenAPI `Error` schema requires and what the real API sends. Property validation
errors embed the per-property results as JSON inside `message`, as the real API does:
`Property values were not valid: [{"isValid":false,"message":...,"error":"INVALID_OPTION","name":...}]`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

AUTH_NOT_FOUND = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
BATCH_TOO_LARGE = (
    "The maximum number of inputs supported in a batch is {limit}. "
    "Please reduce the number of items and try again"
)
HISTORY_BATCH_TOO_LARGE = (
    "The maximum number of inputs supported in a batch request for property histories is {limit}. "
    "Please reduce the number of items and try again"
)


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """The standard HubSpot error body; `extra` adds e.g. `context`, `errors`, `subCategory`."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    }
    body.update(extra)
    return body


@dataclass(frozen=True)
class PropertyProblem:
    """One invalid property value, as listed inside a VALIDATION_ERROR message."""

    name: str
    error: str  # INVALID_OPTION, PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE, INVALID_DATE, ...
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "isValid": False,
            "message": self.message,
            "error": self.error,
            "name": self.name,
            "localizedErrorMessage": self.message,
        }


def property_problems_message(problems: list[PropertyProblem]) -> str:
    listed = json.dumps([p.as_json() for p in problems], separators=(",", ":"), ensure_ascii=False)
    return f"Property values were not valid: {listed}"


@dataclass
class ApiError(Exception):
    """Raised inside a handler to answer with `status` and a HubSpot error body."""

    status: int
    message: str
    category: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status} {self.category}: {self.message}"

    def body(self) -> dict[str, Any]:
        return error_body(self.message, self.category, **self.extra)

    @classmethod
    def validation(cls, message: str, **extra: Any) -> ApiError:
        return cls(400, message, "VALIDATION_ERROR", dict(extra))

    @classmethod
    def not_found(cls, message: str = "resource not found") -> ApiError:
        return cls(404, message, "OBJECT_NOT_FOUND")

    @classmethod
    def invalid_properties(cls, problems: list[PropertyProblem]) -> ApiError:
        return cls(
            400,
            property_problems_message(problems),
            "VALIDATION_ERROR",
            {"context": {"propertyName": sorted({p.name for p in problems})}},
        )


class PropertyValidationError(ValueError):
    """Raised by the store's Python API for invalid property values (the API answers 400 instead)."""

    def __init__(self, problems: list[PropertyProblem]):
        super().__init__(property_problems_message(problems))
        self.problems = problems


class ContactConflictError(ValueError):
    """A second contact with an email already in use (emails are unique case-insensitively)."""

    def __init__(self, existing_id: str):
        super().__init__(f"Contact already exists. Existing ID: {existing_id}")
        self.existing_id = existing_id


def batch_error(message: str, category: str, context: dict[str, list[str]]) -> dict[str, Any]:
    """One entry of a 207 response's `errors` (the `StandardError` schema)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }
