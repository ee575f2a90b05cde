"""The mapping file as the editor's form, and a submitted form applied back to the file's TOML.

The form holds what admins change most, each field one TOML key of the file (docs/mapping-file.md):

- behaviour points and caps ......... [score.behaviour.<kind>] points, cap
- thresholds ......................... [rank] hot, warm, cold; [stages] mql_score
- phase per opportunity stage ........ [phases.salesforce.opportunity_stage] "<stage>" = phase
- high/low phases (再育成) ........... [recycle] high, low (one choice per phase)
- waits .............................. [recycle] wait_days, max_age_days; [recycle.call_task] due_days
- excluded loss reasons .............. [recycle] exclude_loss_reasons (one a line)
- lists per rank and group ........... [nurture.lists.<key>] salesforce_campaign, hubspot_list, email;
                                       [nurture.groups] <group> = list key
- write policies ..................... [fields.<system>.<object>] <field> = { policy = ... }

Only keys the file has are shown. A submitted form is applied with tomlkit to the file it was built
from, so comments, order and formatting stay; a field whose value did not change is not touched. Values
are converted as typed ("12" -> 12); what does not convert stays text, and the mapping's own validation
(`mappings.load_mapping_text`, as `leadsync mappings validate`) names the line and key that is wrong.
Field names are "k:" + the key path (`k:rank.hot`, keys percent-encoded), and only the paths of the
form built from the file are written, so a form cannot set any other key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import tomlkit

from mappings.facts import PHASES
from mappings.model import POLICIES
from mappings.printable import visible

PHASE_FIELD = "phase:"  # + phase: "high", "low" or "" (neither) -> [recycle] high / low
CLASSES = ("high", "low", "")


class TextBlock:
    """Text shown in a textarea: control characters made visible as everywhere, but its newlines and
    tabs kept (the template's finalizer would write them as `\\n`; autoescape still applies)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return "\n".join("\t".join(visible(part) for part in line.split("\t"))
                         for line in self.text.split("\n"))


@dataclass(frozen=True)
class Field:
    name: str  # the form field's name
    path: tuple[str, ...]  # the TOML key it writes
    kind: str  # int | choice | bool | text | lines
    value: Any  # as shown: str, or a TextBlock for lines
    column: str  # i18n key of the column (or a key of the file)
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    label: str  # a key of the file (a behaviour, stage or list name), or an i18n key when `word`
    note: str = ""  # the file's label for the row, if any
    fields: list[Field] = field(default_factory=list)
    word: bool = False  # `label` is one of the console's words (translated), not a key of the file


@dataclass(frozen=True)
class Section:
    title: str  # i18n key
    columns: tuple[str, ...]  # i18n keys
    rows: list[Row]


def _name(path: tuple[str, ...]) -> str:
    """`k:rank.hot`, `k:phases.salesforce.opportunity_stage.Proposal%2FPrice%20Quote`: each key
    percent-encoded (dots too), so a name is plain ASCII a CSS selector or a test can use."""
    return "k:" + ".".join(quote(key, safe="").replace(".", "%2E") for key in path)


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _table(data: Any, *path: str) -> dict[str, Any]:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, dict) else {}


def _scalar(table: dict[str, Any], path: tuple[str, ...], key: str, kind: str, column: str,
            choices: tuple[str, ...] = ()) -> Field | None:
    if key not in table:
        return None
    return Field(_name((*path, key)), (*path, key), kind, _shown(table[key]), column, choices)


def sections(data: dict[str, Any]) -> list[Section]:
    """The form's sections for a parsed mapping file (`tomllib.loads`); a key the file lacks or holds
    in another shape is left out."""
    out: list[Section] = []

    rows = []
    for kind, rule in _table(data, "score", "behaviour").items():
        if isinstance(rule, dict):
            path = ("score", "behaviour", kind)
            cells = [f for f in (_scalar(rule, path, "points", "int", "ed_points"),
                                 _scalar(rule, path, "cap", "int", "ed_cap")) if f]
            label = rule.get("label")
            rows.append(Row(kind, label if isinstance(label, str) else "", cells))
    out.append(Section("ed_behaviour", ("ed_points", "ed_cap"), rows))

    rows = []
    rank = _table(data, "rank")
    for key in ("hot", "warm", "cold"):
        f = _scalar(rank, ("rank",), key, "int", "ed_threshold")
        if f:
            rows.append(Row(key, "", [f], word=True))
    f = _scalar(_table(data, "stages"), ("stages",), "mql_score", "int", "ed_threshold")
    if f:
        rows.append(Row("ed_mql_score", "", [f], word=True))
    out.append(Section("ed_thresholds", ("ed_threshold",), rows))

    path = ("phases", "salesforce", "opportunity_stage")
    out.append(Section("ed_phases", ("ed_phase",), [
        Row(stage, "", [Field(_name((*path, stage)), (*path, stage), "choice", _shown(phase), "ed_phase",
                              PHASES)])
        for stage, phase in _table(data, *path).items()]))

    recycle = _table(data, "recycle")
    if "high" in recycle or "low" in recycle:
        high, low = (recycle.get(k) if isinstance(recycle.get(k), list) else [] for k in ("high", "low"))
        out.append(Section("ed_classes", ("ed_class",), [
            Row(phase, "", [Field(PHASE_FIELD + phase, ("recycle",), "choice",
                                  "high" if phase in high else "low" if phase in low else "", "ed_class",
                                  CLASSES)])
            for phase in PHASES]))

    rows = [Row(f"ed_{key}", "", [f], word=True) for key in ("wait_days", "max_age_days")
            if (f := _scalar(recycle, ("recycle",), key, "int", "ed_days"))]
    due = _scalar(_table(recycle, "call_task"), ("recycle", "call_task"), "due_days", "int", "ed_days")
    if due:
        rows.append(Row("ed_due_days", "", [due], word=True))
    out.append(Section("ed_waits", ("ed_days",), rows))

    reasons = recycle.get("exclude_loss_reasons")
    if isinstance(reasons, list):
        path = ("recycle", "exclude_loss_reasons")
        out.append(Section("ed_excluded", ("ed_one_a_line",), [Row("ed_excluded", "", [
            Field(_name(path), path, "lines", TextBlock("\n".join(str(r) for r in reasons)),
                  "ed_one_a_line")], word=True)]))

    rows = []
    lists = _table(data, "nurture", "lists")
    for key, item in lists.items():
        if isinstance(item, dict):
            path = ("nurture", "lists", key)
            rows.append(Row(key, "", [f for f in (
                _scalar(item, path, "salesforce_campaign", "text", "ed_campaign"),
                _scalar(item, path, "hubspot_list", "text", "ed_list"),
                _scalar(item, path, "email", "bool", "ed_email", ("true", "false"))) if f]))
    out.append(Section("ed_lists", ("ed_campaign", "ed_list", "ed_email"), rows))

    keys = ("", *lists)
    out.append(Section("ed_groups", ("ed_group_list",), [
        Row(group, "", [Field(_name(("nurture", "groups", group)), ("nurture", "groups", group), "choice",
                              _shown(key), "ed_group_list", keys)], word=True)
        for group, key in _table(data, "nurture", "groups").items()]))

    rows = []
    for system, objects in _table(data, "fields").items():
        for obj, fields in (objects.items() if isinstance(objects, dict) else ()):
            for name, spec in (fields.items() if isinstance(fields, dict) else ()):
                if isinstance(spec, dict) and "policy" in spec:
                    path = ("fields", system, obj, name, "policy")
                    rows.append(Row(f"{system} {obj}.{name}", _shown(spec.get("from")),
                                    [Field(_name(path), path, "choice", _shown(spec["policy"]), "ed_policy",
                                           POLICIES)]))
    out.append(Section("ed_policies", ("ed_policy",), rows))
    return [s for s in out if s.rows]


class FormError(ValueError):
    """The form cannot be applied (the file it applies to is not valid TOML)."""


def _typed(f: Field, sent: str) -> Any:
    if f.kind == "lines":
        return [line.strip() for line in sent.splitlines() if line.strip()]
    sent = sent.strip() if f.kind in ("int", "bool", "choice") else sent
    if f.kind == "int":
        try:
            return int(sent)
        except ValueError:
            return sent  # the loader says "expected an integer", with the line
    if f.kind == "bool" and sent in ("true", "false"):
        return sent == "true"
    return sent


def _unchanged(f: Field, sent: str) -> bool:
    """True when the form sends back what it showed (control characters were shown as escapes, so a
    value holding one comes back as its escape: that is no edit)."""
    if f.kind == "lines":
        shown = [line.strip() for line in str(f.value).split("\n") if line.strip()]  # TextBlock: visible
        return [line.strip() for line in sent.splitlines() if line.strip()] == shown
    return sent.strip() == visible(f.value).strip() if f.kind != "text" else sent == visible(f.value)


def _set(doc: Any, path: tuple[str, ...], value: Any) -> None:
    container = doc
    for key in path[:-1]:
        container = container[key]
    container[path[-1]] = value


def apply(text: str, form: dict[str, str]) -> str:
    """`text` (the mapping file) with the form's changed values written into it. Raises FormError."""
    try:
        data = tomllib.loads(text)
        doc = tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, tomlkit.exceptions.ParseError) as exc:
        raise FormError(f"the file is not valid TOML ({exc}): edit it as text") from None
    classes: dict[str, str] = {}
    for section in sections(data):
        for row in section.rows:
            for f in row.fields:
                sent = form.get(f.name)
                if sent is None:
                    continue
                if f.name.startswith(PHASE_FIELD):
                    classes[f.name.removeprefix(PHASE_FIELD)] = sent.strip()
                elif not _unchanged(f, sent):
                    _set(doc, f.path, _typed(f, sent))
    if classes:
        recycle = data["recycle"]
        for group in ("high", "low"):
            now = recycle.get(group) if isinstance(recycle.get(group), list) else []
            kept = [p for p in now if classes.get(p, group) == group]  # the file's order first
            wanted = kept + [p for p in PHASES if classes.get(p) == group and p not in kept]
            if wanted != now:
                doc["recycle"][group] = wanted
    return tomlkit.dumps(doc)


def with_version(text: str, version: int) -> str:
    """`text` with its top-level `version` set (comments and layout kept). `text` must be valid TOML."""
    doc = tomlkit.parse(text)
    doc["version"] = version
    return tomlkit.dumps(doc)
