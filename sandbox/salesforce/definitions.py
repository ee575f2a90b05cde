"""Field and object definitions (the data model of the emulated org's schema).

Field types follow the describe vocabulary: id, string, textarea, email, phone, url, picklist, combobox,
reference, boolean, int, double, currency, percent, date, datetime. A textarea longer than 255
characters is a "long text" field (it shrinks query pages to 200 records when two are selected).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STRING_TYPES = frozenset({"string", "textarea", "email", "phone", "url", "picklist", "combobox"})
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
ID_TYPES = frozenset({"id", "reference"})
FIELD_TYPES = STRING_TYPES | NUMBER_TYPES | ID_TYPES | {"boolean", "date", "datetime"}


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str = ""
    length: int = 0
    precision: int = 0
    scale: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    calculated: bool = False
    default: Any = None
    picklist: tuple[str, ...] = ()
    restricted: bool = False
    external_id: bool = False
    unique: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def long_text(self) -> bool:
        return self.type == "textarea" and self.length > 255

    @property
    def required(self) -> bool:
        """Must be given on create (not nillable, writable, no default)."""
        return not self.nillable and self.createable and self.default is None and self.type != "boolean"

    @property
    def display_label(self) -> str:
        return self.label or self.name.removesuffix("__c").replace("_", " ")


@dataclass(frozen=True)
class ChildRelationship:
    name: str  # e.g. "OpportunityContactRoles"
    child: str  # child object
    field: str  # lookup field on the child


@dataclass(frozen=True)
class ObjectDef:
    name: str
    key_prefix: str
    fields: tuple[FieldDef, ...]
    label: str = ""
    label_plural: str = ""
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    children: tuple[ChildRelationship, ...] = ()
    by_name: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    by_lower: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    relationships: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)
    required: list[str] = field(default_factory=list, compare=False, repr=False)
    defaults: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # non-boolean defaults

    def __post_init__(self) -> None:
        for f in self.fields:
            self.by_name[f.name] = f
            self.by_lower[f.name.lower()] = f
            if f.relationship_name:
                self.relationships[f.relationship_name.lower()] = f
            if f.required:
                self.required.append(f.name)
            if f.default is not None and f.type != "boolean" and f.createable:
                self.defaults[f.name] = f.default

    def field(self, name: str) -> FieldDef | None:
        return self.by_name.get(name) or self.by_lower.get(name.lower())

    def child_relationship(self, name: str) -> ChildRelationship | None:
        lowered = name.lower()
        return next((c for c in self.children if c.name.lower() == lowered), None)
