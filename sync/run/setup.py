"""`leadsync setup` and `mappings validate --live`: what the mapping needs in each system.

HubSpot: the custom contact properties leadsync writes (in the "leadsync" group, enumerations with
every value leadsync can write) and the MANUAL lists of the nurture mapping; setup creates what is
missing. Salesforce: fields cannot be created through the data API, so setup checks them (exist,
updateable, every value leadsync can write fits the picklist) and reports what an admin must create.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from connectors.hubspot.setup import PropertySpec
from mappings import Mapping
from mappings.facts import RANKS, RECYCLE_GROUPS
from sync.run.context import SyncContext

# from-name -> (HubSpot type, fieldType); enumerations get their options from `possible_values`
_HUBSPOT_TYPES = {
    "stage": ("enumeration", "select"),
    "rank": ("enumeration", "select"),
    "recycle_group": ("enumeration", "select"),
    "nurture_list": ("enumeration", "select"),
    "score": ("number", "number"),
    "mapping_version": ("number", "number"),
    "explanation": ("string", "textarea"),
    "recycle_deal_id": ("string", "text"),
}


def possible_values(mapping: Mapping, from_name: str, system: str) -> tuple[str, ...] | None:
    """Every value leadsync can write for `from_name` (None: free text or number)."""
    if from_name == "stage":
        return tuple(mapping.stage_order)
    if from_name == "rank":
        return tuple(r for r in RANKS if r in {name for name, _ in mapping.ranks})
    if from_name == "recycle_group":
        return RECYCLE_GROUPS
    if from_name == "nurture_list":
        return tuple(dict.fromkeys(mapping.list_name(k, system) for k in mapping.nurture_lists))
    return None


def property_specs(mapping: Mapping) -> list[PropertySpec]:
    specs = []
    for fm in mapping.fields_for("hubspot", "contacts"):
        kind, field_type = _HUBSPOT_TYPES.get(fm.from_name, ("string", "text"))
        options = possible_values(mapping, fm.from_name, "hubspot") if kind == "enumeration" else None
        label = "leadsync " + fm.from_name.replace("_", " ")
        specs.append(PropertySpec(fm.field, label, kind, field_type, options))
    return specs


def salesforce_expectations(mapping: Mapping) -> dict[str, dict[str, Collection[str] | None]]:
    out: dict[str, dict[str, Collection[str] | None]] = {}
    for fm in mapping.fields_for("salesforce"):
        out.setdefault(fm.object, {})[fm.field] = possible_values(mapping, fm.from_name, "salesforce")
    return out


@dataclass
class SetupReport:
    hubspot_problems: list[str] = field(default_factory=list)
    hubspot_lists: dict[str, str] = field(default_factory=dict)
    salesforce_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.hubspot_problems or self.salesforce_problems)

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "hubspot_problems": self.hubspot_problems, "hubspot_lists": self.hubspot_lists,
                "salesforce_problems": self.salesforce_problems}


def run_setup(ctx: SyncContext, *, create_missing: bool) -> SetupReport:
    """Check (and with `create_missing`, create) what the mapping needs in both systems."""
    mapping = ctx.mapping
    report = SetupReport()
    report.hubspot_problems = ctx.hubspot.ensure_properties(property_specs(mapping),
                                                            create_missing=create_missing)
    names = sorted({mapping.list_name(k, "hubspot") for k in mapping.nurture_lists})
    report.hubspot_lists = ctx.hubspot.ensure_lists(names, create_missing=create_missing)
    report.hubspot_problems += [f"HubSpot list {n!r} does not exist (run `leadsync setup`)"
                                for n in names if n not in report.hubspot_lists]
    ctx.salesforce.connect()
    report.salesforce_problems = ctx.salesforce.check_fields(salesforce_expectations(mapping))
    return report
