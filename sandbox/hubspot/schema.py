"""The portal's property schema for contacts: definitions and groups, and checking writes against it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .defaults import DEFAULT_GROUPS, default_contact_properties
from .errors import ApiError, PropertyProblem
from .properties import (
    OBJECT_TYPES,
    STANDARD_TYPE_OF,
    SYSTEM_PROPERTIES,
    PropertyDef,
    definition_from_json,
    normalize_value,
)


@dataclass(frozen=True, slots=True)
class PropertyGroup:
    name: str
    label: str
    display_order: int = -1

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "displayOrder": self.display_order, "archived": False}


MISSING_SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. "
    "Read more about required scopes here: https://developers.hubspot.com/scopes."
)


def object_type_of(raw: str, *, access: str = "read") -> str:
    """Canonical object type for a path segment. Only contacts are emulated. A standard object the
    emulator does not hold (companies, deals, ...: see properties.OTHER_STANDARD_TYPES) answers like a
    portal to an app without that object's scopes: 403 MISSING_SCOPES, body as documented in HubSpot's
    "Using Object APIs" guide. Anything else is a 400 "Unable to infer object type from: X", the real
    message (captured in public notes and client tests, e.g. for an unknown custom object name)."""
    key = raw.lower()
    if key in OBJECT_TYPES:
        return OBJECT_TYPES[key]
    plural = STANDARD_TYPE_OF.get(key)
    if plural is None:
        raise ApiError.validation(f"Unable to infer object type from: {raw}")
    # reading properties takes either scope (crm-properties-v3.json security), writing the schema one
    scopes = [f"crm.objects.{plural}.read", f"crm.schemas.{plural}.read"] if access == "read" else [
        f"crm.schemas.{plural}.write"
    ]
    raise ApiError(
        403,
        MISSING_SCOPES_MESSAGE,
        "MISSING_SCOPES",
        {
            "errors": [
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": scopes},
                }
            ],
            "links": {"scopes": "https://developers.hubspot.com/scopes"},
        },
    )


class PropertySchema:
    """Contact property definitions and groups. Thread-safe; definitions are immutable values."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._normal: dict[tuple[str, str], str] = {}  # see check_write
            self._props: dict[str, PropertyDef] = {p.name: p for p in default_contact_properties()}
            self._groups: dict[str, PropertyGroup] = {
                name: PropertyGroup(name, label, i) for i, (name, label) in enumerate(DEFAULT_GROUPS.items())
            }

    # ---- definitions
    def get(self, name: str) -> PropertyDef | None:
        return self._props.get(name)

    def all(self) -> list[PropertyDef]:
        return list(self._props.values())

    def create(self, raw: Mapping[str, Any], now_iso: str) -> PropertyDef:
        with self._lock:
            name = str(raw.get("name", "")) if isinstance(raw, Mapping) else ""
            if name in self._props:
                raise ApiError(
                    409,
                    f"A property named '{name}' already exists.",
                    "OBJECT_ALREADY_EXISTS",
                    {"context": {"name": [name]}},
                )
            prop = definition_from_json(dict(raw), self._groups, now_iso=now_iso)
            self._props[prop.name] = prop
            self._normal = {}
            return prop

    def update(self, name: str, raw: Mapping[str, Any], now_iso: str) -> PropertyDef:
        with self._lock:
            existing = self.require(name)
            prop = definition_from_json(dict(raw), self._groups, now_iso=now_iso, existing=existing)
            self._props[name] = prop
            self._normal = {}
            return prop

    def archive(self, name: str) -> None:
        with self._lock:
            prop = self.require(name)
            if prop.hubspot_defined:
                raise ApiError.validation(f"Property '{name}' is HubSpot-defined and cannot be archived")
            del self._props[name]
            self._normal = {}

    def require(self, name: str) -> PropertyDef:
        prop = self._props.get(name)
        if prop is None:
            raise ApiError(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
        return prop

    # ---- groups
    def groups(self) -> list[PropertyGroup]:
        return list(self._groups.values())

    def group(self, name: str) -> PropertyGroup:
        group = self._groups.get(name)
        if group is None:
            raise ApiError(404, f"Unable to find property group {name}", "OBJECT_NOT_FOUND")
        return group

    def create_group(self, raw: Mapping[str, Any]) -> PropertyGroup:
        with self._lock:
            name, label = str(raw.get("name") or ""), str(raw.get("label") or "")
            if not name or not label:
                raise ApiError.validation("Some required fields were not set: [name, label]")
            if name in self._groups:
                raise ApiError(
                    409, f"A property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
                )
            group = PropertyGroup(name, label, int(raw.get("displayOrder", -1)))
            self._groups[name] = group
            return group

    def update_group(self, name: str, raw: Mapping[str, Any]) -> PropertyGroup:
        with self._lock:
            old = self.group(name)
            group = PropertyGroup(
                name, str(raw.get("label", old.label)), int(raw.get("displayOrder", old.display_order))
            )
            self._groups[name] = group
            return group

    def archive_group(self, name: str) -> None:
        with self._lock:
            self.group(name)
            if any(p.group_name == name for p in self._props.values()):
                raise ApiError.validation(f"Property group '{name}' still has properties")
            del self._groups[name]

    # ---- values
    def check_write(
        self, values: Mapping[str, Any], *, api: bool
    ) -> tuple[dict[str, str | None], list[PropertyProblem]]:
        """Normalize property values for a write. `None`/"" clear a value. With `api=True`, read-only
        properties are refused as the real API refuses them; the Python API may set engagement values."""
        out: dict[str, str | None] = {}
        problems: list[PropertyProblem] = []
        for name, raw in values.items():
            prop = self._props.get(name)
            if prop is None:
                problems.append(
                    PropertyProblem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if name in SYSTEM_PROPERTIES or (api and prop.read_only_value):
                problems.append(
                    PropertyProblem(
                        name, "READ_ONLY_VALUE", f"{name} is a read only property; its value cannot be set."
                    )
                )
                continue
            if raw is None or raw == "":
                out[name] = None
                continue
            text = raw if isinstance(raw, str) else _stringify(raw)
            normal = self._normal  # valid option, number and boolean values, normalized (few distinct)
            checked = normal.get((name, text))
            if checked is not None:
                out[name] = checked
                continue
            checked = normalize_value(prop, text)
            if prop.type in _MEMO_TYPES and isinstance(checked, str):
                if len(normal) >= _MEMO_SIZE:
                    normal.clear()
                normal[(name, text)] = checked
            if isinstance(checked, PropertyProblem):
                problems.append(checked)
            else:
                out[name] = checked
        return out, problems


_MEMO_TYPES = frozenset({"enumeration", "number", "bool"})
_MEMO_SIZE = 50_000


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
