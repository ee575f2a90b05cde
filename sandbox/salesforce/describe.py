"""Describe results (global and per object) built from the schema, in the REST API's shape."""

from __future__ import annotations

from typing import Any

from .schema import NUMBER_TYPES, FieldDef, ObjectDef, Schema

_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
}


def _urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def field_describe(f: FieldDef) -> dict[str, Any]:
    default = f.default if f.default not in (None, "$user") else None
    return {
        "name": f.name,
        "label": f.display_label,
        "type": f.type,
        "soapType": _SOAP_TYPES.get(f.type, "xsd:string"),
        "length": f.length
        if f.type not in NUMBER_TYPES and f.type not in ("boolean", "date", "datetime")
        else 0,
        "byteLength": f.length * 3 if f.length else 0,
        "precision": f.precision if f.type in NUMBER_TYPES - {"int"} else 0,
        "scale": f.scale if f.type in NUMBER_TYPES - {"int"} else 0,
        "digits": f.precision if f.type == "int" else 0,
        "nillable": f.nillable,
        "createable": f.createable,
        "updateable": f.updateable,
        "calculated": f.calculated,
        "custom": f.custom,
        "externalId": f.external_id,
        "unique": f.unique,
        "idLookup": f.name == "Id" or f.external_id or f.type == "email",
        "defaultedOnCreate": f.default is not None
        or f.type == "boolean"
        or f.name
        in ("Id", "CreatedDate", "CreatedById", "LastModifiedDate", "LastModifiedById", "SystemModstamp"),
        "defaultValue": default if f.type != "boolean" else bool(f.default),
        "filterable": not f.long_text,
        "sortable": not f.long_text,
        "groupable": not f.long_text,
        "aggregatable": not f.long_text,
        "caseSensitive": False,
        "nameField": f.name == "Name",
        "autoNumber": False,
        "htmlFormatted": False,
        "dependentPicklist": False,
        "controllerName": None,
        "picklistValues": [
            {"active": True, "defaultValue": v == f.default, "label": v, "validFor": None, "value": v}
            for v in f.picklist
        ],
        "restrictedPicklist": f.restricted,
        "referenceTo": list(f.reference_to),
        "relationshipName": f.relationship_name,
        "polymorphicForeignKey": len(f.reference_to) > 1,
        "cascadeDelete": False,
        "restrictedDelete": False,
        "deprecatedAndHidden": False,
        "encrypted": False,
        "inlineHelpText": None,
        "permissionable": f.custom,
        "writeRequiresMasterRead": False,
    }


def sobject_summary(obj: ObjectDef, version: str) -> dict[str, Any]:
    return {
        "name": obj.name,
        "label": obj.label or obj.name,
        "labelPlural": obj.label_plural or obj.name,
        "keyPrefix": obj.key_prefix,
        "custom": False,
        "queryable": True,
        "retrieveable": True,
        "searchable": True,
        "createable": obj.createable,
        "updateable": obj.updateable,
        "deletable": obj.deletable,
        "undeletable": obj.deletable,
        "layoutable": obj.createable,
        "replicateable": True,
        "triggerable": obj.createable,
        "urls": _urls(obj, version),
    }


def describe_global(schema: Schema, version: str) -> dict[str, Any]:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [sobject_summary(o, version) for o in schema.objects.values()],
    }


def describe_object(obj: ObjectDef, version: str) -> dict[str, Any]:
    out = sobject_summary(obj, version)
    out["fields"] = [field_describe(f) for f in obj.fields]
    out["childRelationships"] = [
        {
            "childSObject": c.child,
            "field": c.field,
            "relationshipName": c.name,
            "cascadeDelete": False,
            "restrictedDelete": False,
            "deprecatedAndHidden": False,
        }
        for c in obj.children
    ]
    out["recordTypeInfos"] = []
    return out
