"""Contact property schema: definitions, groups, and validation of definitions and of values.

Definitions follow the properties API v3 (`type` + `fieldType` + `options`). Values are always
strings on the wire; `normalize_value` checks one against its definition and returns the stored form
(datetimes as ISO 8601 with milliseconds, dates as `YYYY-MM-DD`, booleans lowercase) or a
`PropertyProblem` with the real error code (INVALID_OPTION, PROPERTY_DOESNT_EXIST, ...).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ApiError, PropertyProblem
from .timefmt import iso_ms, parse_ms

# type -> allowed fieldTypes (HubSpot properties guide, "Property type and fieldType values")
FIELD_TYPES: dict[str, frozenset[str]] = {
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
    "enumeration": frozenset({"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"}),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "string": frozenset({"text", "textarea", "file", "html", "phonenumber"}),
    "number": frozenset({"number", "calculation_equation"}),
    "phone_number": frozenset({"phonenumber"}),
}
OBJECT_TYPES = {"contacts": "contacts", "contact": "contacts", "0-1": "contacts"}
# HubSpot's standard objects the emulator does not hold, by name, singular and object type id (ids:
# HubSpot's "Understanding the CRM" object type table). The emulated app holds contact scopes only,
# as docs/connect-hubspot.md asks of leadsync's app, so reads of these answer 403 MISSING_SCOPES.
OTHER_STANDARD_TYPES = {
    "companies": ("company", "0-2"),
    "deals": ("deal", "0-3"),
    "tickets": ("ticket", "0-5"),
    "products": ("product", "0-7"),
    "line_items": ("line_item", "0-8"),
    "quotes": ("quote", "0-14"),
    "tasks": ("task", "0-27"),
    "notes": ("note", "0-46"),
    "meetings": ("meeting", "0-47"),
    "calls": ("call", "0-48"),
    "emails": ("email", "0-49"),
    # Also standard, and asked for by third-party extractors (meltano-tap-hubspot reads the properties
    # of each at discovery and tolerates a 403): leads 0-136 and goal targets 0-74 (HubSpot's "Lead
    # object definition" page, objectMetadata table: verified); communications 0-18 and postal mail
    # 0-116 (HubSpot's object type id table in "Understanding the CRM": partly verified here).
    "leads": ("lead", "0-136"),
    "goal_targets": ("goal_target", "0-74"),
    "communications": ("communication", "0-18"),
    "postal_mail": ("0-116",),
}
STANDARD_TYPE_OF = {
    alias: plural for plural, aliases in OTHER_STANDARD_TYPES.items() for alias in (plural, *aliases)
}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_STRING = 65_536


@dataclass(frozen=True, slots=True)
class Option:
    label: str
    value: str
    display_order: int = 0
    hidden: bool = False
    description: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": self.value,
            "displayOrder": self.display_order,
            "hidden": self.hidden,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class PropertyDef:
    name: str
    label: str
    type: str
    field_type: str
    group_name: str
    description: str = ""
    options: tuple[Option, ...] = ()
    display_order: int = -1
    hidden: bool = False
    form_field: bool = False
    has_unique_value: bool = False
    hubspot_defined: bool = True
    read_only_value: bool = False
    created_at: str = "2019-08-06T02:41:08.000Z"
    updated_at: str = "2019-08-06T02:41:08.000Z"
    option_values: frozenset[str] = field(default=frozenset(), compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "option_values", frozenset(o.value for o in self.options))

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": self.description,
            "options": [o.as_json() for o in self.options],
            "displayOrder": self.display_order,
            "hidden": self.hidden,
            "formField": self.form_field,
            "hasUniqueValue": self.has_unique_value,
            "calculated": False,
            "externalOptions": False,
            "archived": False,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only_value,
            },
            **({"hubspotDefined": True} if self.hubspot_defined else {}),
        }


# Properties the API computes; writes through the API are refused (READ_ONLY_VALUE).
# Engagement counters are read-only in real portals too, but the sandbox's Python API
# (`store.create_contact`) may set them so demo data can carry engagement history.
SYSTEM_PROPERTIES = frozenset({"hs_object_id", "lastmodifieddate", "hs_merged_object_ids"})


def definition_from_json(
    raw: dict[str, Any], groups: Iterable[str], *, now_iso: str, existing: PropertyDef | None = None
) -> PropertyDef:
    """Validate a create (existing=None) or update payload; raise ApiError(400) like the real API."""
    if not isinstance(raw, dict):
        raise ApiError.validation("Invalid input JSON: expected an object")
    if existing is None:
        missing = [k for k in ("name", "label", "type", "fieldType", "groupName") if not raw.get(k)]
        if missing:
            raise ApiError.validation(f"Some required fields were not set: [{', '.join(missing)}]")
        name = str(raw["name"])
        if not NAME_RE.match(name):
            raise ApiError.validation(
                f"Property name '{name}' is invalid: use lowercase letters, digits and underscores, "
                "starting with a letter"
            )
    else:
        name = existing.name
        if existing.hubspot_defined:
            raise ApiError.validation(f"Property '{name}' is HubSpot-defined; its definition is read-only")
    base = existing or PropertyDef(
        name, "", "string", "text", "contactinformation", hubspot_defined=False, created_at=now_iso
    )
    ptype = str(raw.get("type", base.type))
    field_type = str(raw.get("fieldType", base.field_type))
    if ptype not in FIELD_TYPES:
        raise ApiError.validation(f"Invalid property type '{ptype}'. Valid types: {sorted(FIELD_TYPES)}")
    if field_type not in FIELD_TYPES[ptype]:
        raise ApiError.validation(
            f"Field type '{field_type}' is not valid for property type '{ptype}'. "
            f"Valid field types: {sorted(FIELD_TYPES[ptype])}"
        )
    group = str(raw.get("groupName", base.group_name))
    if group not in set(groups):
        raise ApiError.validation(f"Property group '{group}' does not exist")
    options = base.options if "options" not in raw else _parse_options(raw["options"])
    if ptype == "enumeration" and not options:
        raise ApiError.validation(f"Enumeration property '{name}' needs at least one option")
    if ptype != "enumeration" and ptype != "bool" and options:
        raise ApiError.validation(f"Options are only allowed on enumeration properties, not '{ptype}'")
    if field_type == "booleancheckbox" and ptype == "enumeration" and len(options) != 2:
        raise ApiError.validation("A booleancheckbox enumeration needs exactly two options")
    return replace(
        base,
        type=ptype,
        field_type=field_type,
        group_name=group,
        options=options,
        label=str(raw.get("label", base.label)),
        description=str(raw.get("description", base.description)),
        display_order=int(raw.get("displayOrder", base.display_order)),
        hidden=bool(raw.get("hidden", base.hidden)),
        form_field=bool(raw.get("formField", base.form_field)),
        has_unique_value=bool(raw.get("hasUniqueValue", base.has_unique_value))
        if existing is None
        else base.has_unique_value,
        updated_at=now_iso,
    )


def _parse_options(raw: Any) -> tuple[Option, ...]:
    if not isinstance(raw, list):
        raise ApiError.validation("options must be a list")
    out: list[Option] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("value") in (None, "") or item.get("label") in (None, ""):
            raise ApiError.validation(f"Option {i} needs a non-empty label and value")
        value = str(item["value"])
        if value != value.strip():
            raise ApiError.validation(f"Option value '{value}' includes leading or trailing whitespace.")
        if value in seen:
            raise ApiError.validation(f"Duplicate option value '{value}'")
        seen.add(value)
        out.append(
            Option(
                str(item["label"]),
                value,
                int(item.get("displayOrder", i)),
                bool(item.get("hidden", False)),
                str(item.get("description", "")),
            )
        )
    return tuple(out)


def normalize_value(prop: PropertyDef, value: str) -> str | PropertyProblem:
    """The stored form of a non-empty value, or the problem with it."""
    kind = prop.type
    if kind == "enumeration":
        parts = value.split(";") if prop.field_type == "checkbox" else [value]
        for part in parts:
            if part not in prop.option_values:
                allowed = ", ".join(o.value for o in prop.options)
                return PropertyProblem(
                    prop.name, "INVALID_OPTION", f"{part} was not one of the allowed options: [{allowed}]"
                )
        return sys.intern(value)
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            return PropertyProblem(prop.name, "INVALID_LONG", f"{value} is not a valid number")
        return sys.intern(str(int(number)) if number.is_integer() and "." not in value else value)
    if kind == "bool":
        low = value.lower()
        if low not in ("true", "false"):
            return PropertyProblem(prop.name, "INVALID_BOOLEAN", f"{value} is not a valid boolean")
        return sys.intern(low)
    if kind in ("datetime", "date"):
        ms = parse_ms(value)
        if ms is None:
            return PropertyProblem(prop.name, "INVALID_DATE", f"{value} is not a valid date or timestamp")
        if kind == "date":
            if ms % 86_400_000:
                return PropertyProblem(
                    prop.name, "INVALID_DATE", f"{value} is not midnight UTC; date properties take dates only"
                )
            return iso_ms(ms)[:10]
        return iso_ms(ms)
    if len(value) > MAX_STRING:
        return PropertyProblem(
            prop.name, "INVALID_STRING", f"value of {prop.name} is longer than {MAX_STRING}"
        )
    return value
