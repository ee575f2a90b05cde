"""Hypothesis strategies that turn the bundled mapping file into bad (or still valid) mapping files.

Two families:
- structural: parse `mappings/default.toml`, apply 1-4 mutations to the data (delete a key, give a key
  a value of the wrong type or out of range, add an unknown key, rename a key, swap in a name that
  belongs elsewhere in the file - an unknown phase, stage, rank or policy), then write TOML again with
  tomlkit. The result is always syntactically valid TOML, so it exercises validation, not the parser.
- textual: edit the file's text (delete or duplicate lines, cut it short, insert TOML punctuation,
  control characters or a byte order mark), which mostly breaks the syntax.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from datetime import date, datetime, time
from importlib import resources
from typing import Any

import tomlkit
from hypothesis import strategies as st

KeyPath = tuple[str | int, ...]

DEFAULT_TEXT: str = resources.files("mappings").joinpath("default.toml").read_text(encoding="utf-8")
DEFAULT_DATA: dict[str, Any] = tomllib.loads(DEFAULT_TEXT)


def _walk(node: Any, prefix: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    yield prefix, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, (*prefix, i))


def _strings(node: Any) -> set[str]:
    """Every key and string value in the document (names that are valid *somewhere* in the file)."""
    out: set[str] = set()
    for path, value in _walk(node):
        if path and isinstance(path[-1], str):
            out.add(path[-1])
        if isinstance(value, str):
            out.add(value)
    return out


KNOWN_NAMES = sorted(_strings(DEFAULT_DATA))

HUGE = "x" * 200_000
WEIRD_STRINGS = [
    "", " ", "\t", "compare", "Compare", "HOT", "overwrite ", "keep-manual", "hubspot.", "salesforce.",
    "hubspot.no_such_property", "salesforce.Contact.", "営業中の案件", "🔥🚀", "é" * 300, HUGE,
    "x' OR Name != '", "back\\slash", 'quo"te', "\u2028", "\u200b", "\ufeff", "{deal_name",
    "{no_such_placeholder}", "%s %d", "{0}", "}{",
]

_ints = st.one_of(
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([-1, 0, 1, 59, 60, 100, 101, 10**6, 2**31, 2**63 - 1, -(2**63)]),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
)
_floats = st.one_of(
    st.sampled_from([0.0, -0.0, 0.5, -1.5, 1e308, -1e308, 1e-308]),
    st.floats(allow_nan=True, allow_infinity=True),
)
# Control characters (\n, \r, \x00...) are generated too: error messages show them escaped, so every
# error stays on its FILE:LINE line. Only surrogates (not encodable as UTF-8) are left out.
NO_CONTROL = st.characters(blacklist_categories=("Cs",))
_texts = st.one_of(st.sampled_from(WEIRD_STRINGS), st.sampled_from(KNOWN_NAMES),
                   st.text(NO_CONTROL, max_size=40))
_temporal = st.one_of(
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2999, 1, 1)),
    st.times().map(lambda t: time(t.hour, t.minute, t.second)),
)
SCALARS = st.one_of(_ints, _floats, st.booleans(), _texts, _temporal)
KEYS = st.one_of(st.sampled_from(KNOWN_NAMES), st.text(NO_CONTROL, max_size=24))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=8,
)


def _parent(doc: Any, path: KeyPath) -> Any:
    node = doc
    for part in path[:-1]:
        node = node[part]
    return node


@st.composite
def mutated_data(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """(mutated copy of the default mapping, a description of each mutation for failure reports)."""
    doc = copy.deepcopy(DEFAULT_DATA)
    done: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = [p for p, _ in _walk(doc) if p]
        tables = [p for p, v in _walk(doc) if isinstance(v, dict)]
        op = draw(st.sampled_from(["delete", "replace", "replace", "add", "rename"]))
        if op == "add" or not paths:
            table_path = draw(st.sampled_from(tables))  # () is the document itself
            table = _parent(doc, (*table_path, ""))
            key, value = draw(KEYS), draw(VALUES)
            table[key] = value
            done.append(f"add {(*table_path, key)!r} = {value!r:.80}")
            continue
        path = draw(st.sampled_from(paths))
        parent = _parent(doc, path)
        if op == "delete":
            del parent[path[-1]]
            done.append(f"delete {path!r}")
        elif op == "replace":
            value = draw(VALUES)
            parent[path[-1]] = value
            done.append(f"replace {path!r} with {value!r:.80}")
        elif isinstance(parent, dict):
            new = draw(KEYS)
            parent[new] = parent.pop(path[-1])
            done.append(f"rename {path!r} to {new!r}")
        else:  # "rename" inside an array: move the element to the front instead
            parent.insert(0, parent.pop(path[-1]))
            done.append(f"move {path!r} to the front")
    return doc, done


@st.composite
def mutated_documents(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(TOML text of a structurally mutated default mapping, mutation log)."""
    doc, done = draw(mutated_data())
    return tomlkit.dumps(doc), done


PUNCTUATION = ["[", "]", "[[", "{", "}", "=", '"', "'", '"""', ",", ".", "#", "\n", "\\", "\x00", "\x1b",
               "\ufeff", "\r", "é", "=\n", " = = ", "[phases]\n", "[recycle]\n", "version = 2\n"]


@st.composite
def mutated_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(text of the default mapping with 1-3 textual edits, edit log)."""
    text = DEFAULT_TEXT
    done: list[str] = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        lines = text.splitlines(keepends=True) or [""]
        op = draw(st.sampled_from(["delete_line", "duplicate_line", "truncate", "insert", "swap"]))
        i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
        if op == "delete_line":
            del lines[i]
        elif op == "duplicate_line":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        text = "".join(lines)
        if op == "truncate":
            cut = draw(st.integers(min_value=0, max_value=len(text)))
            text = text[:cut]
        elif op == "insert":
            at = draw(st.integers(min_value=0, max_value=len(text)))
            piece = draw(st.one_of(st.sampled_from(PUNCTUATION), st.text(max_size=6)))
            text = text[:at] + piece + text[at:]
            done.append(f"insert {piece!r} at {at}")
            continue
        done.append(f"{op} line {i + 1}")
    return text, done
