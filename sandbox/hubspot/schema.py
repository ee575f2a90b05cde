"""The portal's property schema for contacts: definitions and groups, and checking writes against it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .defaults import DEFAULT_GROUPS, default_contact_properties
from .errors import ApiError, PropertyProblem
from .properties import OBJECT_TYPES, SYSTEM_PROPERTIES, PropertyDef, definition_from_json, normalize_value


@dataclass(frozen=True, slots=True)
class PropertyGroup:
    name: str
    label: str
    display_order: int = -1

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "displayOrder": self.display_order, "archived": False}


def object_type_of(raw: str) -> str:
    """Canonical object type for a path segment; only contacts are emulated (400 otherwise, as the real
    API answers for an object type it cannot resolve)."""
    try:
        return OBJECT_TYPES[raw.lower()]
    except KeyError:
        raise ApiError.validation(f"Unable to infer object type from: {raw}") from None


class PropertySchema:
    """Contact property definitions and groups. Thread-safe; definitions are immutable values."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
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
            return prop

    def update(self, name: str, raw: Mapping[str, Any], now_iso: str) -> PropertyDef:
        with self._lock:
            existing = self.require(name)
            prop = definition_from_json(dict(raw), self._groups, now_iso=now_iso, existing=existing)
            self._props[name] = prop
            return prop

    def archive(self, name: str) -> None:
        with self._lock:
            prop = self.require(name)
            if prop.hubspot_defined:
                raise ApiError.validation(f"Property '{name}' is HubSpot-defined and cannot be archived")
            del self._props[name]

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
            checked = normalize_value(prop, text)
            if isinstance(checked, PropertyProblem):
                problems.append(checked)
            else:
                out[name] = checked
        return out, problems


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
