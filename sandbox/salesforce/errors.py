"""Errors the emulator answers with, shaped like the real API's error bodies."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordError(Exception):
    """One record could not be written: `statusCode`, `message`, `fields` as in per-record results."""

    status_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status_code}: {self.message}"

    def as_result_error(self) -> dict[str, object]:
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields)}

    def as_api_error(self) -> dict[str, object]:
        return {"message": self.message, "errorCode": self.status_code, "fields": list(self.fields)}


@dataclass
class ApiError(Exception):
    """A whole request fails: HTTP `status` with body `[{"message", "errorCode"}]`."""

    status: int
    error_code: str
    message: str

    def __str__(self) -> str:
        return f"{self.status} {self.error_code}: {self.message}"

    def body(self) -> list[dict[str, str]]:
        return [{"message": self.message, "errorCode": self.error_code}]


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")
