"""Turn an Assignment into words (explain) and into field values (field_value) for the writers."""

from __future__ import annotations

from mappings.compiled import FieldMapping, Mapping
from mappings.facts import Assignment

EXPLANATION_MAX_CHARS = 32_000  # Salesforce long text areas hold 32,768 by default; HubSpot 65,536
_TRUNCATED = "\n… (explanation truncated)"

FieldScalar = str | int | None


def explain(assignment: Assignment, *, stable: bool = False) -> list[str]:
    """The assignment in an admin's words: a summary line, then every rule that fired, in order.

    `stable` leaves out what moves with the clock alone (the call task's due date), for the
    explanation written into the systems: it changes only when the assignment does, so it never
    causes a write by itself (the texts use dates, not "N days ago")."""
    a = assignment
    lines = [
        f"{a.key}: stage {a.stage}, score {a.score}, rank {a.rank}, recycle group "
        f"{a.recycle_group or 'none'}, nurture list {a.nurture_list or 'none'} (mapping version "
        f"{a.mapping_version})"
    ]
    for reason in a.reasons:
        detail = reason.detail  # the text itself once the engine formatted it (see engine._worded)
        lines.append(detail if type(detail) is str else reason.text)
    if a.task is not None:
        due = "" if stable else f", due {a.task.due_on}"
        lines.append(
            f'Call task "{a.task.subject}" for owner {a.task.owner_id or "unknown"}{due} '
            f"(cycle key {a.task.cycle_key})"
        )
    if a.review:
        lines.append("Needs review (not in the mapping): " + "; ".join(a.review))
    return lines


def field_value(
    assignment: Assignment, from_name: str, mapping: Mapping | None = None, system: str | None = None
) -> FieldScalar:
    """The value a field mapped `from = from_name` receives.

    `nurture_list` is the list's name in `system` when `mapping` and `system` are given (what the
    Salesforce/HubSpot field shows), else the list key ("hot"). `explanation` is `explain()` joined
    by newlines, cut to EXPLANATION_MAX_CHARS with a visible marker. Unknown names raise KeyError
    (the loader only accepts known names).
    """
    a = assignment
    if from_name == "stage":
        return a.stage
    if from_name == "score":
        return a.score
    if from_name == "rank":
        return a.rank
    if from_name == "recycle_group":
        return a.recycle_group
    if from_name == "nurture_list":
        if a.nurture_list is None or mapping is None or system is None:
            return a.nurture_list
        return mapping.list_name(a.nurture_list, system)
    if from_name == "explanation":
        return written_explanation(a)
    if from_name == "mapping_version":
        return a.mapping_version
    if from_name == "recycle_deal_id":
        return a.deal_id
    raise KeyError(f"unknown field value name {from_name!r}")


def written_explanation(assignment: Assignment) -> str:
    """`explain(stable=True)` joined by newlines, cut to EXPLANATION_MAX_CHARS with a visible marker.

    The text of the last assignment asked for is kept: the sync asks once per system for the same
    assignment, one after the other (assignments are immutable, and the one kept is referenced, so
    its identity cannot be reused)."""
    global _last_written
    last = _last_written
    if last[0] is assignment:
        return last[1]
    text = "\n".join(explain(assignment, stable=True))
    if len(text) > EXPLANATION_MAX_CHARS:
        text = text[: EXPLANATION_MAX_CHARS - len(_TRUNCATED)] + _TRUNCATED
    _last_written = (assignment, text)
    return text


_last_written: tuple[object, str] = (None, "")


def field_values(
    assignment: Assignment, mapping: Mapping, system: str, object_name: str
) -> dict[str, FieldScalar]:
    """Every mapped field of one object of one system -> its value for this assignment."""
    return {
        fm.field: field_value(assignment, fm.from_name, mapping, system)
        for fm in mapping.fields_for(system, object_name)
    }


def values_for(
    assignment: Assignment, mappings: tuple[FieldMapping, ...], mapping: Mapping
) -> list[FieldScalar]:
    """Values for the given field mappings, in their order."""
    return [field_value(assignment, fm.from_name, mapping, fm.system) for fm in mappings]
