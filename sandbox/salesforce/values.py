"""Field values: checking and converting what clients send, and formatting what the API returns.

Inside the store, values are Python objects: str, bool, int, float, `date`, and `datetime` (aware, UTC,
millisecond precision). JSON and CSV forms are produced here and nowhere else.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from .errors import RecordError
from .ids import normalize_id
from .schema import FieldDef

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_datetime(value: str | datetime | date) -> datetime:
    """An aware UTC datetime, truncated to whole seconds, from an ISO 8601 string or a datetime;
    ValueError if invalid.

    Salesforce dateTime fields store no milliseconds: values come back as "...T09:00:00.000+0000" and
    SOQL comparisons ignore milliseconds (a literal 900 ms later compares equal). Community evidence
    only (salesforce.stackexchange q. 234824; /tmp/issue10-facts.md §12); stored values, the clock and
    SOQL literals all go through here, so the emulator is never more precise than the org."""
    if isinstance(value, datetime):
        if value.tzinfo is UTC and not value.microsecond:
            return value  # already the stored form (the demo loader's instants: millions of them)
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = value.strip()
        if not text or "T" not in text and not _DATE_RE.match(text):
            raise ValueError(f"not a dateTime: {value!r}")
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(microsecond=0)


def parse_date(value: str | date) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise ValueError(f"not a date: {value!r}")
    return date.fromisoformat(value.strip())


def format_datetime(dt: datetime) -> str:
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{dt.microsecond // 1000:03d}+0000"


def _type_error(fd: FieldDef, value: Any) -> RecordError:
    return RecordError(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        f"{fd.display_label}: value not of required type: {value}",
        [fd.name],
    )


def coerce(fd: FieldDef, value: Any) -> Any:
    """The stored form of `value` for field `fd`, or RecordError with the real status code."""
    if value is None:
        return None
    kind = fd.type
    if kind in ("string", "textarea", "phone", "url", "combobox", "picklist", "email"):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):  # noqa: UP038 (faster)
            raise _type_error(fd, value)
        text = value if isinstance(value, str) else str(value)
        if text == "":
            return None
        if fd.length and len(text) > fd.length:
            raise RecordError(
                "STRING_TOO_LONG",
                f"{fd.display_label}: data value too large: {text[:40]} (max length={fd.length})",
                [fd.name],
            )
        if kind == "email" and not _EMAIL_RE.match(text):
            raise RecordError(
                "INVALID_EMAIL_ADDRESS", f"{fd.display_label}: invalid email address: {text}", [fd.name]
            )
        if kind == "picklist" and fd.restricted and text not in fd.picklist:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{fd.display_label}: bad value for restricted picklist field: {text}",
                [fd.name],
            )
        return text
    if kind in ("reference", "id"):
        rid = normalize_id(value)
        if rid is None:
            raise RecordError(
                "MALFORMED_ID", f"{fd.display_label}: id value of incorrect type: {value}", [fd.name]
            )
        return rid
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(fd, value)
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise _type_error(fd, value)
        return int(value)
    if kind in ("double", "currency", "percent"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(fd, value)
        return float(value)
    try:
        if kind == "date":
            return parse_date(value)
        if kind == "datetime":
            return parse_datetime(value)
    except (ValueError, TypeError):
        raise _type_error(fd, value) from None
    raise _type_error(fd, value)


def to_json(fd: FieldDef, value: Any) -> Any:
    if value is None:
        return None
    if fd.type == "datetime":
        return format_datetime(value)
    if fd.type == "date":
        return value.isoformat()
    return value


def to_csv(fd: FieldDef, value: Any) -> str:
    """Bulk API 2.0 form: empty for null, true/false, ISO dates, 2026-01-01T00:00:00.000Z datetimes."""
    if value is None:
        return ""
    if fd.type == "boolean":
        return "true" if value else "false"
    if fd.type == "datetime":
        return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"
    if fd.type == "date":
        return value.isoformat()
    if fd.type in ("double", "currency", "percent") and float(value).is_integer():
        return str(int(value)) if fd.scale == 0 else str(value)
    return str(value)


def from_csv(fd: FieldDef, text: str) -> Any:
    """The JSON-like value of a Bulk API CSV cell ("#N/A" means null) for `coerce`."""
    if text == "#N/A":
        return None
    if fd.type == "boolean":
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise _type_error(fd, text)
    if fd.type in ("int", "double", "currency", "percent"):
        try:
            number = float(text)
        except ValueError:
            raise _type_error(fd, text) from None
        return int(number) if fd.type == "int" and number.is_integer() else number
    return text
