"""`describe` checks before any write: every mapped field exists, is updateable, and every value leadsync
would write fits its type and (restricted) picklist."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime
from typing import Any

from connectors.base import FatalAPIError
from connectors.salesforce.client import DESCRIBE, SalesforceClient
from connectors.salesforce.read import field_name

_ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
STRING_TYPES = frozenset(
    {
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "combobox",
        "multipicklist",
        "encryptedstring",
    }
)


def _is_int(v: str) -> bool:
    try:
        int(v)
    except ValueError:
        return False
    return True


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _is_date(v: str) -> bool:
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return True


def _is_datetime(v: str) -> bool:
    try:
        datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_TYPE_CHECKS: dict[str, Callable[[str], bool]] = {
    "int": _is_int,
    "double": _is_number,
    "currency": _is_number,
    "percent": _is_number,
    "boolean": lambda v: v.lower() in ("true", "false"),
    "date": _is_date,
    "datetime": _is_datetime,
    "reference": lambda v: bool(_ID.match(v)),
    "id": lambda v: bool(_ID.match(v)),
}


def describe(client: SalesforceClient, sobject: str) -> dict[str, Any] | None:
    """The describe result of `sobject`, or None when the object does not exist for this user."""
    try:
        return client.restful(DESCRIBE, f"sobjects/{field_name(sobject)}/describe/")
    except FatalAPIError as exc:
        if exc.status == 404 or exc.code in ("NOT_FOUND", "INVALID_TYPE"):
            return None
        raise


def field_problems(
    sobject: str, meta: Mapping[str, Any] | None, name: str, values: Collection[str] | None
) -> list[str]:
    """Problems of one field (empty = fine) given its describe entry (None = missing)."""
    label = f"{sobject}.{name}"
    if meta is None:
        return [f"{label}: field missing (or not visible to the integration user)"]
    problems = []
    if not meta.get("updateable"):
        problems.append(f"{label}: not updateable by the integration user")
    ftype = str(meta.get("type"))
    allowed = {p["value"] for p in meta.get("picklistValues") or [] if p.get("active", True)}
    restricted = bool(meta.get("restrictedPicklist"))
    length = int(meta.get("length") or 0)
    for value in sorted(values or ()):
        text = str(value)
        if ftype in ("picklist", "multipicklist") and restricted:
            parts = text.split(";") if ftype == "multipicklist" else [text]
            bad = [p for p in parts if p not in allowed]
            if bad:
                problems.append(
                    f"{label}: value {text!r} is not in the restricted picklist "
                    f"({', '.join(sorted(allowed))})"
                )
                continue
        if ftype in STRING_TYPES:
            if length and len(text) > length:
                problems.append(f"{label}: value {text!r} is longer than the field ({length} characters)")
        elif ftype in _TYPE_CHECKS:
            if not _TYPE_CHECKS[ftype](text):
                problems.append(f"{label}: value {text!r} does not fit the field type {ftype}")
        else:
            problems.append(f"{label}: field type {ftype} is not supported for writes by leadsync")
            break
    return problems


def check_fields(
    client: SalesforceClient, expected: Mapping[str, Mapping[str, Collection[str] | None]]
) -> list[str]:
    """{"Contact": {"Lead_Stage__c": {"inquiry", ...}, "Lead_Score__c": None}} -> problems (empty = ok):
    object or field missing, field not updateable, value not in a restricted picklist, value that does
    not fit the field's type or length. One describe call per object."""
    problems: list[str] = []
    for sobject, fields in expected.items():
        result = describe(client, sobject)
        if result is None:
            problems.append(f"{sobject}: object not found (or not visible to the integration user)")
            continue
        by_name = {str(f["name"]).lower(): f for f in result.get("fields", [])}
        for name, values in fields.items():
            problems.extend(field_problems(sobject, by_name.get(name.lower()), name, values))
    return problems


def missing_fields(client: SalesforceClient, sobject: str, names: Collection[str]) -> list[str]:
    """Problems (empty = ok) with fields leadsync only reads: the object or a field is missing. One
    describe call."""
    result = describe(client, sobject)
    if result is None:
        return [f"{sobject}: object not found (or not visible to the integration user)"]
    have = {str(f["name"]).lower() for f in result.get("fields", [])}
    return [f"{sobject}.{name}: field missing (or not visible to the integration user)"
            for name in names if name.lower() not in have]
