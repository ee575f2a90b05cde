"""`leadsync setup` and `mappings validate --live`: what the mapping needs in each system.

HubSpot: the custom contact properties leadsync writes (in the "leadsync" group, enumerations with
every value leadsync can write) and the MANUAL lists of the nurture mapping; setup creates what is
missing. Salesforce: fields cannot be created through the data API, so setup checks them (exist,
updateable, every value leadsync can write fits the picklist) and reports what an admin must create.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from connectors.base import FieldSpec, ValueKind
from mappings import Mapping
from mappings.facts import RANKS, RECYCLE_GROUPS
from sync.run.context import SyncContext

# what the values of each from-name are (a connector turns the kind into its own field type);
# enumerations get their options from `possible_values`; unknown names are text
VALUE_KINDS: dict[str, ValueKind] = {
    "stage": "enumeration",
    "rank": "enumeration",
    "recycle_group": "enumeration",
    "nurture_list": "enumeration",
    "score": "number",
    "mapping_version": "number",
    "explanation": "long_text",
    "recycle_deal_id": "text",
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


def field_specs(mapping: Mapping, system: str, object_name: str) -> list[FieldSpec]:
    """The fields leadsync writes to `system`'s `object_name`, described neutrally (the MA platform's
    connector creates or checks them: `ensure_properties`)."""
    specs = []
    for fm in mapping.fields_for(system, object_name):
        kind = VALUE_KINDS.get(fm.from_name, "text")
        options = possible_values(mapping, fm.from_name, system) if kind == "enumeration" else None
        label = "leadsync " + fm.from_name.replace("_", " ")
        specs.append(FieldSpec(fm.field, label, kind, options))
    return specs


def field_expectations(mapping: Mapping, system: str) -> dict[str, dict[str, Collection[str] | None]]:
    """object -> field -> every value leadsync may write there (None: free text or number), for a
    system whose fields an admin creates (the SFA's connector checks them: `check_fields`)."""
    out: dict[str, dict[str, Collection[str] | None]] = {}
    for fm in mapping.fields_for(system):
        out.setdefault(fm.object, {})[fm.field] = possible_values(mapping, fm.from_name, system)
    return out


def located(mapping: Mapping, system: str, problems: list[str]) -> list[str]:
    """The problems, each that is about a mapped field prefixed with where that field is mapped
    (`file:line [fields.<system>.<Object>].<Field>: `), so the admin knows which line to fix. The
    connectors name a field as `Object.Field: ...` (Salesforce) or `... property 'field' ...` (HubSpot)."""
    out = []
    for problem in problems:
        low = problem.lower()
        for fm in mapping.fields_for(system):
            if low.startswith(f"{fm.object}.{fm.field}:".lower()) or f"'{fm.field}'" in problem:
                problem = f"{mapping.where(fm)}: {problem}"
                break
        out.append(problem)
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
    report.hubspot_problems = located(mapping, "hubspot", ctx.hubspot.ensure_properties(
        field_specs(mapping, "hubspot", "contacts"), create_missing=create_missing))
    names = sorted({mapping.list_name(k, "hubspot") for k in mapping.nurture_lists})
    report.hubspot_lists = ctx.hubspot.ensure_lists(names, create_missing=create_missing)
    report.hubspot_problems += [f"HubSpot list {n!r} does not exist (run `leadsync setup`)"
                                for n in names if n not in report.hubspot_lists]
    ctx.salesforce.connect()
    problems = ctx.salesforce.check_fields(field_expectations(mapping, "salesforce"))
    report.salesforce_problems = located(mapping, "salesforce", problems)
    return report
