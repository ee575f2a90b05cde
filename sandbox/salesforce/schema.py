"""The org's schema: the standard objects plus custom fields declared in configuration.

Field types follow the describe vocabulary: id, string, textarea, email, phone, url, picklist, combobox,
reference, boolean, int, double, currency, percent, date, datetime. A textarea longer than 255
characters is a "long text" field (it shrinks query pages to 200 records when two are selected).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .definitions import (
    FIELD_TYPES,
    ID_TYPES,
    NUMBER_TYPES,
    STRING_TYPES,
    ChildRelationship,
    FieldDef,
    ObjectDef,
)
from .objects import (
    CLOSED_LOST_STAGES,
    OPPORTUNITY_STAGES,
    STAGE_BY_LABEL,
    STAGES,
    Stage,
    stage_rows,
    standard_objects,
    task_status_rows,
)

__all__ = [
    "CLOSED_LOST_STAGES",
    "STAGES",
    "STAGE_BY_LABEL",
    "Stage",
    "stage_rows",
    "task_status_rows",
    "FIELD_TYPES",
    "ID_TYPES",
    "NUMBER_TYPES",
    "OPPORTUNITY_STAGES",
    "STRING_TYPES",
    "ChildRelationship",
    "FieldDef",
    "ObjectDef",
    "Schema",
    "SchemaError",
    "field_from_spec",
]


# ---------------------------------------------------------------- custom fields from configuration
class SchemaError(ValueError):
    """A custom field declaration that cannot be used; the message says which and why."""


def field_from_spec(name: str, spec: Mapping[str, Any]) -> FieldDef:
    """A FieldDef from a configuration mapping, e.g.
    {"type": "picklist", "values": ["a", "b"], "restricted": true} or {"type": "string", "length": 80}."""
    if not name.endswith("__c"):
        raise SchemaError(f"custom field {name!r} must end with __c")
    type_ = str(spec.get("type", "string"))
    if type_ not in FIELD_TYPES - {"id"}:
        raise SchemaError(f"custom field {name!r}: unknown type {type_!r}")
    unknown = set(spec) - {
        "type",
        "length",
        "precision",
        "scale",
        "values",
        "restricted",
        "external_id",
        "unique",
        "label",
        "reference_to",
        "relationship_name",
        "required",
        "default",
    }
    if unknown:
        raise SchemaError(f"custom field {name!r}: unknown keys {sorted(unknown)}")
    default_length = {
        "string": 255,
        "textarea": 32768,
        "email": 80,
        "phone": 40,
        "url": 255,
        "picklist": 255,
        "combobox": 255,
        "reference": 18,
    }.get(type_, 0)
    targets = spec.get("reference_to", ())
    if type_ == "reference" and not targets:
        raise SchemaError(f"custom field {name!r}: a reference needs reference_to")
    return FieldDef(
        name,
        type_,
        label=str(spec.get("label", "")),
        length=int(spec.get("length", default_length)),
        precision=int(spec.get("precision", 18 if type_ in NUMBER_TYPES else 0)),
        scale=int(spec.get("scale", 0)),
        nillable=not spec.get("required", False),
        default=spec.get("default"),
        picklist=tuple(spec.get("values", ())),
        restricted=bool(spec.get("restricted", False)),
        external_id=bool(spec.get("external_id", False)),
        unique=bool(spec.get("unique", False)),
        reference_to=(targets,) if isinstance(targets, str) else tuple(targets),
        relationship_name=spec.get("relationship_name")
        or (name[:-3] + "__r" if type_ == "reference" else None),
    )


class Schema:
    """All objects of the org by name (case-insensitive) and by key prefix."""

    def __init__(self, custom_fields: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None):
        objects = {o.name: o for o in standard_objects()}
        for obj_name, fields in (custom_fields or {}).items():
            base = objects.get(obj_name)
            if base is None:
                raise SchemaError(f"custom fields for unknown object {obj_name!r}")
            extra = tuple(field_from_spec(n, s) for n, s in fields.items())
            clash = {f.name for f in extra} & set(base.by_name)
            new_fields = tuple(f for f in base.fields if f.name not in clash) + extra
            objects[obj_name] = replace(
                base, fields=new_fields, by_name={}, by_lower={}, relationships={}, required=[], defaults={}
            )
        self.objects = objects
        self._lower = {name.lower(): o for name, o in objects.items()}
        self._prefix = {o.key_prefix: o for o in objects.values()}

    def get(self, name: str) -> ObjectDef | None:
        return self.objects.get(name) or self._lower.get(name.lower())

    def by_prefix(self, record_id: str) -> ObjectDef | None:
        return self._prefix.get(record_id[:3])
