"""The compiled mapping: what the engine and the sync layer use (plain tuples, no pydantic).

`compile_mapping()` turns a validated `MappingFile` into a `Mapping` once, at load time, so the
engine's hot path only unpacks tuples and looks up dicts.
"""

from __future__ import annotations

import string
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from mappings.errors import display_path
from mappings.locate import KeyLines
from mappings.model import MappingFile, Score
from mappings.printable import visible


class BehaviourRule(NamedTuple):
    """Points per event of one kind, counted up to `cap` events."""

    name: str  # key in [score.behaviour]
    label: str  # words for explanations ("email clicks")
    points: int
    cap: int
    source: str  # "hubspot.hs_email_click"
    last_event: str | None  # "hubspot.hs_email_last_click_date"
    path: str  # "score.behaviour.<name>", for explanations


class FitRule(NamedTuple):
    """Points for who the person is: numeric `bands` (highest first) or exact text `values`."""

    name: str
    label: str
    sources: tuple[str, ...]  # first with a value wins
    bands: tuple[tuple[float, int], ...]  # (min, points), highest min first; () when `values` is used
    values: MappingABC[str, int] | None
    max_points: int  # the most this rule can add (0 if all its points are negative)
    path: str  # "score.fit.<name>"


class NativeStages(NamedTuple):
    """Native values of one system property -> (shared stage, its index in the stage order)."""

    source: str  # "hubspot.lifecyclestage", "salesforce.Lead.Status"
    values: MappingABC[str, tuple[str, int]]


class FieldMapping(NamedTuple):
    """One field leadsync writes: `system`.`object`.`field` receives the value named `from_name`."""

    system: str  # "salesforce" | "hubspot"
    object: str  # "Contact", "contacts"
    field: str  # "Lead_Stage__c", "leadsync_stage"
    from_name: str  # stage, score, rank, recycle_group, nurture_list, explanation, ...
    policy: str  # overwrite | if_blank | keep_manual


class NurtureList(NamedTuple):
    key: str  # "hot", "recycle_low", ...
    salesforce_campaign: str
    hubspot_list: str
    email: bool  # an email list: people who opted out of email never go on it


class CallTaskTemplate(NamedTuple):
    subject: str  # as written in the file, with {placeholders}
    description: str
    due_days: int
    subject_format: str  # the same as %-style formats ("%(deal_name)s"), rendered with `format % values`
    description_format: str  # (stripped of leading/trailing blank lines)


def percent_format(template: str) -> str:
    """A checked `{placeholder}` template as the equivalent `%(placeholder)s` format (faster to render
    than str.format_map). A template that does not parse is kept literally."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError:
        return template.replace("%", "%%")
    out = []
    for literal, name, _spec, _conversion in parts:
        out.append(literal.replace("%", "%%"))
        if name is not None:
            out.append(f"%({name})s")
    return "".join(out)


@dataclass(frozen=True, eq=False)
class RecyclePolicy:
    wait_days: int
    max_age_days: int
    high: frozenset[str]
    low: frozenset[str]
    promote_on: tuple[str, ...]  # behaviour rule names
    promote_events: tuple[BehaviourRule, ...]  # those rules (each has a last_event source)
    exclude_loss_reasons: frozenset[str]  # casefolded, stripped
    exclude_display: tuple[str, ...]  # as written in the file
    call_task: CallTaskTemplate

    def excludes(self, loss_reason: str | None) -> bool:
        """Is this loss reason in `exclude_loss_reasons` (trimmed, case-insensitive)?"""
        return loss_reason is not None and loss_reason.strip().casefold() in self.exclude_loss_reasons


@dataclass(frozen=True, eq=False)
class Mapping:
    """A validated, compiled mapping file."""

    version: int
    filename: str
    stage_order: tuple[str, ...]
    mql_score: int
    phases: MappingABC[str, str]  # Salesforce opportunity stage -> buying-process phase
    natives: tuple[NativeStages, ...]
    behaviour: tuple[BehaviourRule, ...]
    fit: tuple[FitRule, ...]
    decay_half_life_days: float | None
    score_max: int  # scores are clamped to 0..score_max
    ranks: tuple[tuple[str, int], ...]  # (rank, threshold), highest threshold first
    recycle: RecyclePolicy
    nurture_lists: MappingABC[str, NurtureList]
    nurture_groups: MappingABC[str, str | None]  # recycle group -> list key (None = on no list)
    optout_sources: tuple[str, ...]
    hubspot_optout_property: str  # HubSpot's own opt-out flag of a contact: "true" = opted out
    field_mappings: tuple[FieldMapping, ...]
    key_lines: KeyLines | None = None  # where each key sits in the file (None: built in code)

    def where(self, fm: FieldMapping) -> str:
        """Where a field mapping sits in the file: `file:line [fields.<system>.<Object>].<Field>`."""
        path = ("fields", fm.system, fm.object, fm.field)
        line = self.key_lines.line(path) if self.key_lines is not None else 1
        return f"{self.filename}:{line} {visible(display_path(path, self.key_lines))}"

    def hubspot_properties(self) -> list[str]:
        """Every HubSpot contact property the rules read (bare names, sorted): read exactly these."""
        return sorted({s.partition(".")[2] for s in self._sources() if s.startswith("hubspot.")})

    def salesforce_fields(self) -> list[str]:
        """Every Salesforce field the rules read, as "Object.Field" (sorted)."""
        return sorted({s.partition(".")[2] for s in self._sources() if s.startswith("salesforce.")})

    def fields_for(self, system: str, object_name: str | None = None) -> tuple[FieldMapping, ...]:
        """The field mappings of one system (and one object, if given), in file order."""
        return tuple(
            f
            for f in self.field_mappings
            if f.system == system and (object_name is None or f.object == object_name)
        )

    def list_name(self, key: str, system: str) -> str:
        """Name of nurture list `key` in `system` (Salesforce campaign or HubSpot list)."""
        nlist = self.nurture_lists[key]
        return nlist.salesforce_campaign if system == "salesforce" else nlist.hubspot_list

    def list_names(self, system: str) -> dict[str, str]:
        """Every nurture list key -> its name in `system`."""
        return {key: self.list_name(key, system) for key in self.nurture_lists}

    def _sources(self) -> list[str]:
        out = [n.source for n in self.natives] + list(self.optout_sources)
        for rule in self.behaviour:
            out.append(rule.source)
            if rule.last_event:
                out.append(rule.last_event)
        for fit in self.fit:
            out.extend(fit.sources)
        return out


def behaviour_rules(score: Score) -> tuple[BehaviourRule, ...]:
    return tuple(
        BehaviourRule(
            name,
            r.label or name.replace("_", " "),
            r.points,
            r.cap,
            r.source,
            r.last_event,
            f"score.behaviour.{name}",
        )
        for name, r in score.behaviour.items()
    )


def fit_rules(score: Score) -> tuple[FitRule, ...]:
    out = []
    for name, r in score.fit.items():
        bands = tuple((b.min, b.points) for b in (r.bands or ()))
        values = MappingProxyType(dict(r.values)) if r.values is not None else None
        options = [p for _, p in bands] + list((values or {}).values())
        out.append(
            FitRule(
                name,
                r.label or name.replace("_", " "),
                tuple(r.sources),
                bands,
                values,
                max([0, *options]),
                f"score.fit.{name}",
            )
        )
    return tuple(out)


def score_max_of(score: Score) -> int:
    """The explicit `score.max`, else the most behaviour (every cap reached) and fit can add up to."""
    if score.max is not None:
        return score.max
    behaviour = sum(r.points * r.cap for r in score.behaviour.values())
    return behaviour + sum(f.max_points for f in fit_rules(score))


def compile_mapping(model: MappingFile, filename: str, lines: KeyLines | None = None) -> Mapping:
    order = tuple(model.stages.order)
    index = {stage: i for i, stage in enumerate(order)}
    natives: list[NativeStages] = []
    for prop, table in model.stages.hubspot.items():
        natives.append(NativeStages(f"hubspot.{prop}", _stage_table(table, index)))
    for obj, per_field in model.stages.salesforce.items():
        for fld, table in per_field.items():
            natives.append(NativeStages(f"salesforce.{obj}.{fld}", _stage_table(table, index)))

    rec = model.recycle
    behaviour = behaviour_rules(model.score)
    recycle = RecyclePolicy(
        wait_days=rec.wait_days,
        max_age_days=rec.max_age_days,
        high=frozenset(rec.high),
        low=frozenset(rec.low),
        promote_on=tuple(rec.promote_on),
        promote_events=tuple(r for r in behaviour if r.name in set(rec.promote_on) and r.last_event),
        exclude_loss_reasons=frozenset(r.strip().casefold() for r in rec.exclude_loss_reasons),
        exclude_display=tuple(rec.exclude_loss_reasons),
        call_task=CallTaskTemplate(
            rec.call_task.subject,
            rec.call_task.description,
            rec.call_task.due_days,
            percent_format(rec.call_task.subject),
            percent_format(rec.call_task.description.strip()),
        ),
    )
    lists = {
        key: NurtureList(key, n.salesforce_campaign, n.hubspot_list, n.email)
        for key, n in model.nurture.lists.items()
    }
    groups = {group: (key or None) for group, key in model.nurture.groups.items()}
    fields = [
        FieldMapping(system, obj, name, fm.from_, fm.policy)
        for system in ("salesforce", "hubspot")
        for obj, table in getattr(model.fields, system).items()
        for name, fm in table.items()
    ]
    ranks = tuple(
        sorted(
            ((name, getattr(model.rank, name)) for name in ("hot", "warm", "cold")), key=lambda item: -item[1]
        )
    )
    return Mapping(
        version=model.version,
        filename=filename,
        stage_order=order,
        mql_score=model.stages.mql_score,
        phases=MappingProxyType(dict(model.phases.salesforce.opportunity_stage)),
        natives=tuple(natives),
        behaviour=behaviour,
        fit=fit_rules(model.score),
        decay_half_life_days=model.score.decay_half_life_days,
        score_max=score_max_of(model.score),
        ranks=ranks,
        recycle=recycle,
        nurture_lists=MappingProxyType(lists),
        nurture_groups=MappingProxyType(groups),
        optout_sources=tuple(model.optout.sources),
        hubspot_optout_property=model.optout.hubspot_property,
        field_mappings=tuple(fields),
        key_lines=lines,
    )


def _stage_table(
    table: MappingABC[str, str], index: MappingABC[str, int]
) -> MappingABC[str, tuple[str, int]]:
    return MappingProxyType({value: (stage, index[stage]) for value, stage in table.items()})
