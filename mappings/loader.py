"""Load and validate a mapping file from its text (reading the file itself is the caller's I/O).

    mapping = load_mapping_text(text, "mappings/custom.toml")   # -> Mapping, or raises MappingError

Every problem is collected before raising: TOML syntax (with its line), shape and types (pydantic,
`extra="forbid"`), then the rules that relate keys to each other (`mappings.checks`).
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from datetime import date, datetime, time
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from mappings import checks
from mappings.compiled import Mapping, compile_mapping, score_max_of
from mappings.errors import Issue, MappingError, issue_at
from mappings.locate import KeyLines, PathKey, locate_keys
from mappings.model import SECTIONS, MappingFile

_AT_LINE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_AT_END = re.compile(r"\s*\(at end of document\)\s*$")

_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "string_type": "expected a string (in quotes)",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected an array [...]",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
}


def load_mapping_text(text: str, filename: str) -> Mapping:
    """Parse, validate and compile a mapping file. Raises `MappingError` listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError([_syntax_issue(exc, text, filename)]) from None
    return load_mapping_data(data, filename, locate_keys(text))


def load_mapping_data(
    data: dict[str, Any], filename: str = "<mapping>", lines: KeyLines | None = None
) -> Mapping:
    """Validate and compile an already parsed mapping (e.g. built in code or by tests)."""
    issues: list[Issue] = []
    model: MappingFile | None = None
    try:
        model = MappingFile.model_validate(data)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc, filename, lines))

    sections: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        if isinstance(data, dict) and name in data:
            sections[name] = _section_for_checks(cls, data[name])
    for path, message in _problems(sections):
        issues.append(issue_at(filename, lines, path, message))

    if issues or model is None:
        raise MappingError(issues or [Issue(filename, 1, "", "invalid mapping")])
    return compile_mapping(model, filename, lines)


def _section_for_checks(cls: type[BaseModel], raw: Any) -> BaseModel | None:
    """The section as a model for the cross-checks, or None when its shape is wrong.

    Unknown keys are already reported; they are dropped here (once) so that a typo does not hide the
    section's other problems. Any other shape error disables the checks that need the section."""
    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        extra = [tuple(e["loc"]) for e in exc.errors() if e["type"] == "extra_forbidden"]
        if not extra or len(extra) != exc.error_count():
            return None
    trimmed = copy.deepcopy(raw)
    for loc in extra:
        parent = trimmed
        for part in loc[:-1]:
            parent = parent[part]
        parent.pop(loc[-1], None)
    try:
        return cls.model_validate(trimmed)
    except ValidationError:
        return None


def _problems(sections: dict[str, Any]) -> list[tuple[PathKey, str]]:
    out: list[tuple[PathKey, str]] = []
    stages, score, rank = sections.get("stages"), sections.get("score"), sections.get("rank")
    recycle, nurture, fields = sections.get("recycle"), sections.get("nurture"), sections.get("fields")
    if stages is not None:
        out += checks.check_stages(stages)
    if score is not None:
        out += checks.check_score(score)
    if rank is not None:
        out += checks.check_rank(rank)
    if recycle is not None:
        out += checks.check_recycle(recycle)
    if nurture is not None:
        out += checks.check_nurture(nurture)
    if fields is not None:
        out += checks.check_fields(fields)
    score_max = score_max_of(score) if score is not None else 0
    out += checks.check_cross(score, stages, rank, recycle, score_max)
    return out


def _syntax_issue(exc: tomllib.TOMLDecodeError, text: str, filename: str) -> Issue:
    message = str(exc)
    match = _AT_LINE.search(message)
    if match:
        line, column = int(match.group(1)), int(match.group(2))
        return Issue(filename, line, "", f"TOML syntax error at column {column}: {message[: match.start()]}")
    end = _AT_END.search(message)
    if end:
        last = text.count("\n") + (0 if text.endswith("\n") else 1)
        return Issue(
            filename, max(last, 1), "", f"TOML syntax error at end of file: {message[: end.start()]}"
        )
    return Issue(filename, 1, "", f"TOML syntax error: {message}")


def _pydantic_issues(exc: ValidationError, filename: str, lines: KeyLines | None) -> list[Issue]:
    out = []
    for err in exc.errors(include_url=False):
        loc: PathKey = tuple(err["loc"])
        out.append(issue_at(filename, lines, loc, _message(err, loc)))
    return out


def _message(err: Any, loc: PathKey) -> str:
    kind = err["type"]
    if kind == "missing":
        target = _type_at(loc)
        if isinstance(target, type) and issubclass(target, BaseModel):
            return "missing required table"
        return "missing required key"
    if kind == "extra_forbidden":
        parent = _type_at(loc[:-1])
        known = _field_names(parent) if isinstance(parent, type) and issubclass(parent, BaseModel) else []
        name = str(loc[-1])
        close = difflib.get_close_matches(name, known, n=1)
        hint = f'did you mean "{close[0]}"? ' if close else ""
        return f'unknown key "{name}" ({hint}known: {", ".join(known)})'
    expected = _EXPECTED.get(kind)
    if expected is not None:
        return f"{expected}, got {_describe(err.get('input'))}"
    if kind in ("unknown_name", "bad_source"):
        return str(err["msg"])
    return f"{err['msg']}, got {_describe(err.get('input'))}"


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'string "{value}"' if len(value) <= 40 else f'string "{value[:37]}..."'
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value:g}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return f"date/time {value.isoformat()}"
    return type(value).__name__


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is UnionType:
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _type_at(loc: PathKey) -> Any:
    """The declared type at `loc` inside MappingFile (None when the path leaves the schema)."""
    tp: Any = MappingFile
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            found = next((f for n, f in tp.model_fields.items() if (f.alias or n) == part), None)
            if found is None:
                return None
            tp = found.annotation
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            return None
    return _unwrap(tp)
