"""People described as JSON, for `leadsync mappings explain --person FILE.json`.

The shape is documented in docs/explain-person.md.

    people_from_json_text(text, "alice.json") -> list[PersonFacts]     # or raises PersonFileError

The file holds one person object or an array of them. Errors name the file, the line and the key path
(`alice.json:7 deals[0].lost_on: ...`), like mapping-file errors.
"""

from __future__ import annotations

import contextlib
import json
import re
from bisect import bisect_right
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mappings.errors import Issue, PersonFileError, issue_at
from mappings.facts import DealFacts, PersonFacts
from mappings.locate import KeyLines, PathKey

Scalar = str | int | float | bool | None


class DealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deal_id: str = Field(min_length=1)
    state: Literal["lost", "won", "open"]
    stage_at_loss: str | None = None
    loss_reason: str | None = None
    lost_on: date | None = None
    lost_on_source: Literal["history", "close_date"] | None = None
    close_date: date | None = None
    closed_on: date | None = None
    amount: float | None = None
    owner_id: str | None = None
    name: str | None = None


class PersonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str | None = None
    email: str | None = None
    opted_out: bool = False
    values: dict[str, Scalar] = Field(default_factory=dict)
    deals: list[DealIn] = Field(default_factory=list)

    def to_facts(self, fallback_key: str) -> PersonFacts:
        key = self.key or (self.email.strip().lower() if self.email and self.email.strip() else fallback_key)
        deals = tuple(
            DealFacts(
                deal_id=d.deal_id,
                state=d.state,
                stage_at_loss=d.stage_at_loss,
                loss_reason=d.loss_reason,
                lost_on=d.lost_on,
                amount=d.amount,
                owner_id=d.owner_id,
                name=d.name,
                closed_on=d.closed_on,
                lost_on_source=d.lost_on_source,
                close_date=d.close_date,
            )
            for d in self.deals
        )
        return PersonFacts(key=key, values=dict(self.values), opted_out=self.opted_out, deals=deals)


def people_from_json_text(text: str, filename: str) -> list[PersonFacts]:
    """Parse one person object, or an array of them. Raises PersonFileError listing every problem."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PersonFileError(
            [Issue(filename, exc.lineno, "", f"invalid JSON at column {exc.colno}: {exc.msg}")]
        ) from None
    lines = locate_json(text)
    items: list[tuple[PathKey, Any]] = (
        [((i,), item) for i, item in enumerate(data)] if isinstance(data, list) else [((), data)]
    )
    if not items:
        raise PersonFileError([Issue(filename, 1, "", "no people in the file (an empty array)")])
    issues: list[Issue] = []
    people: list[PersonFacts] = []
    for prefix, item in items:
        try:
            person = PersonIn.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                path = (*prefix, *err["loc"])
                issues.append(issue_at(filename, lines, path, _message(err)))
            continue
        people.append(person.to_facts(f"person {prefix[0] + 1}" if prefix else "person"))
    if issues:
        raise PersonFileError(issues)
    return people


def _message(err: Any) -> str:
    if err["type"] == "missing":
        return "missing required key"
    if err["type"] == "extra_forbidden":
        return "unknown key (see docs/explain-person.md for the shape)"
    return f"{err['msg']}, got {json.dumps(err.get('input'), ensure_ascii=False, default=str)[:60]}"


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SCALAR = re.compile(r"[^,\]}\s]+")


def locate_json(text: str) -> KeyLines:
    """Line of every key path of a JSON document that `json.loads` accepted (best effort)."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    lines: dict[PathKey, int] = {}

    def line_at(i: int) -> int:
        return bisect_right(starts, i)

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def value(i: int, path: PathKey) -> int:
        i = skip(i)
        ch = text[i]
        if ch == "{":
            i = skip(i + 1)
            while text[i] != "}":
                match = _STRING.match(text, i)
                if match is None:
                    raise ValueError("expected a key")
                key = json.loads(match.group())
                lines[(*path, key)] = line_at(i)
                i = skip(match.end())
                i = value(i + 1, (*path, key))  # skip ':'
                i = skip(i)
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        if ch == "[":
            i = skip(i + 1)
            index = 0
            while text[i] != "]":
                lines[(*path, index)] = line_at(i)
                i = skip(value(i, (*path, index)))
                index += 1
                if text[i] == ",":
                    i = skip(i + 1)
            return i + 1
        match = _STRING.match(text, i) if ch == '"' else _SCALAR.match(text, i)
        if match is None:
            raise ValueError("expected a value")
        return match.end()

    with contextlib.suppress(IndexError, ValueError):  # keep what was found; line() uses ancestors
        value(0, ())
    return KeyLines(lines, frozenset())
