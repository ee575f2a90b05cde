"""Views of one assignment: as text for a terminal (`leadsync mappings explain --person`) and as
JSON-ready data (`--json`, and the assignment part of `leadsync mappings explain EMAIL --json`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from mappings import Mapping
from mappings.engine import explain, field_value
from mappings.facts import Assignment


def render_text(a: Assignment, mapping: Mapping, at: datetime) -> str:
    lines = [f"At {at.isoformat()} with {mapping.filename} (version {mapping.version}):"]
    lines += [f"  {line}" for line in explain(a)]
    if a.task is not None:
        lines.append("  Task description:")
        lines += [f"    {line}" for line in a.task.description.splitlines()]
    lines.append("  Fields leadsync would write:")
    for fm in mapping.field_mappings:
        value = field_value(a, fm.from_name, mapping, fm.system)
        if value is None:
            shown = "(blank)"
        elif fm.from_name == "explanation":
            shown = "(the explanation above)"
        else:
            shown = str(value)
        lines.append(f"    {fm.system}.{fm.object}.{fm.field} = {shown}  [{fm.policy}]")
    return "\n".join(lines)


def assignment_json(a: Assignment, mapping: Mapping) -> dict[str, Any]:
    """The assignment as JSON-ready data: the Assignment fields, the explanation, fields and lists."""
    data = asdict(a)
    data["reasons"] = [{**r._asdict(), "points": round(r.points, 2)} for r in a.reasons]
    data["review"] = list(a.review)
    if a.task is not None:
        data["task"] = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(a.task).items()}
    data["explanation"] = explain(a)
    fields: dict[str, dict[str, Any]] = {}
    for fm in mapping.field_mappings:
        fields.setdefault(f"{fm.system}.{fm.object}", {})[fm.field] = field_value(
            a, fm.from_name, mapping, fm.system
        )
    data["fields"] = fields
    data["lists"] = (
        {
            "salesforce_campaign": mapping.list_name(a.nurture_list, "salesforce"),
            "hubspot_list": mapping.list_name(a.nurture_list, "hubspot"),
        }
        if a.nurture_list is not None
        else None
    )
    return data
