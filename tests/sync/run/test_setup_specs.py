"""What `leadsync setup` asks of each system: neutral field descriptions from the mapping, turned into
HubSpot property types by the HubSpot connector (the types leadsync has always created)."""

from __future__ import annotations

from connectors.base import FieldSpec
from connectors.hubspot.setup import PropertySpec, property_spec
from mappings.facts import RECYCLE_GROUPS
from mappings.loader import load_mapping_text
from sync.run.setup import field_expectations, field_specs
from tests.mappings.mapping_helpers import default_text

MAPPING = load_mapping_text(default_text(), "default.toml")


def test_default_mapping_becomes_the_same_hubspot_properties_as_before() -> None:
    specs = {s.name: property_spec(s) for s in field_specs(MAPPING, "hubspot", "contacts")}
    types = {name: (p.type, p.field_type) for name, p in specs.items()}
    assert types == {
        "leadsync_stage": ("enumeration", "select"),
        "leadsync_score": ("number", "number"),
        "leadsync_rank": ("enumeration", "select"),
        "leadsync_recycle_group": ("enumeration", "select"),
        "leadsync_nurture_list": ("enumeration", "select"),
        "leadsync_explanation": ("string", "textarea"),
    }
    assert specs["leadsync_stage"].options == tuple(MAPPING.stage_order)
    assert specs["leadsync_recycle_group"].options == RECYCLE_GROUPS
    assert specs["leadsync_score"].options is None
    assert specs["leadsync_explanation"].label == "leadsync explanation"
    assert all(p.group == "leadsync" for p in specs.values())


def test_every_value_kind_has_a_hubspot_type_and_only_enumerations_keep_options() -> None:
    kinds = {"enumeration": ("enumeration", "select"), "number": ("number", "number"),
             "date": ("date", "date"), "text": ("string", "text"), "long_text": ("string", "textarea")}
    for kind, (hs_type, field_type) in kinds.items():
        got = property_spec(FieldSpec("p", "P", kind, ("a", "b")))  # type: ignore[arg-type]
        options = ("a", "b") if kind == "enumeration" else None
        assert got == PropertySpec("p", "P", hs_type, field_type, options), kind


def test_salesforce_expectations_name_objects_fields_and_picklist_values() -> None:
    expected = field_expectations(MAPPING, "salesforce")
    assert set(expected) == {fm.object for fm in MAPPING.fields_for("salesforce")}
    contact = expected["Contact"]
    by_from = {fm.from_name: fm.field for fm in MAPPING.fields_for("salesforce", "Contact")}
    assert contact[by_from["recycle_group"]] == RECYCLE_GROUPS
    assert contact[by_from["score"]] is None
