"""Mapping-file errors: each one names the file, the line and the key path, and says what was expected.

`str(MappingError)` is every error, one per line, sorted by line:

    mappings/custom.toml:14 [recycle].high: unknown phase "compare" (known: awareness, interest, ...)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from mappings.locate import KeyLines, PathKey
from mappings.printable import visible

_BARE = re.compile(r"[A-Za-z0-9_-]+\Z")


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a mapping file. `key` is the display form of the key path."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        # control characters from the file (a newline in a key or value) shown escaped, so that every
        # error stays on its one `file:line key: message` line
        key, message = visible(self.key), visible(self.message)
        return f"{where} {key}: {message}" if key else f"{where}: {message}"


class FileErrors(ValueError):
    """Problems found in a file leadsync reads. `.errors` holds every one (not just the first)."""

    def __init__(self, errors: list[Issue]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.key, e.message))
        super().__init__("\n".join(str(e) for e in self.errors))


class MappingError(FileErrors):
    """The mapping file is invalid."""


class PersonFileError(FileErrors):
    """A person file given to `leadsync mappings explain --person` is invalid."""


def quote_key(key: str | int) -> str:
    if isinstance(key, int):
        return f"[{key}]"
    return key if _BARE.match(key) else json.dumps(key, ensure_ascii=False)


def display_path(path: PathKey, lines: KeyLines | None) -> str:
    """`("recycle", "high", 1)` -> `[recycle].high`; `("version",)` -> `version`.

    The part that is an explicit `[table]` header of the file is shown in brackets, like the file
    shows it. Trailing array indices are dropped (the message names the offending value and the line
    points at it); indices in the middle stay, as in `[score.fit.employees].bands[1].min`.
    """
    path = tuple(path)
    while path and isinstance(path[-1], int):
        path = path[:-1]
    table = lines.table_of(path) if lines is not None else ()
    rest = path[len(table) :]
    head = _join(table)
    tail = _join(rest)
    if not table:
        return tail
    if not tail:
        return f"[{head}]"
    return f"[{head}]{tail}" if tail.startswith("[") else f"[{head}].{tail}"


def _join(parts: PathKey) -> str:
    out = ""
    for part in parts:
        piece = quote_key(part)
        out += piece if (not out or piece.startswith("[")) else f".{piece}"
    return out


def issue_at(file: str, lines: KeyLines | None, path: PathKey, message: str) -> Issue:
    line = lines.line(path) if lines is not None else 1
    return Issue(file, line, display_path(path, lines), message)
