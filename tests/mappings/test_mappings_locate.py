"""The TOML key-path -> line locator."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.errors import display_path
from mappings.locate import locate_keys

DOC = '''# a comment with [brackets] and key = "value"
version = 3

[phases.salesforce.opportunity_stage]
"Prospecting" = "awareness"   # trailing comment
"Needs\\u0020Analysis" = 'information_gathering'
'提案/見積' = "purchase"

[recycle]
high = [
  "comparison",  # not = a key
  "purchase",
]
call_task = { subject = "a # b = c", due_days = 3, nested.deep = [1,
  2] }
description = """
[not.a.table]
fake = 1
"""
after_string = true
dotted.key.path = 1979-05-27 07:32:00Z

[[bands]]
min = 1000

[[bands]]
min = 100
[[bands.sub]]
x = 1
'''


@pytest.fixture(scope="module")
def lines() -> Any:
    tomllib.loads(DOC)  # the locator only runs on text tomllib accepts
    return locate_keys(DOC)


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("version",), 2),
        (("phases",), 4),
        (("phases", "salesforce", "opportunity_stage"), 4),
        (("phases", "salesforce", "opportunity_stage", "Prospecting"), 5),
        (("phases", "salesforce", "opportunity_stage", "Needs Analysis"), 6),  # escaped quoted key
        (("phases", "salesforce", "opportunity_stage", "提案/見積"), 7),  # literal quoted key, Japanese
        (("recycle",), 9),
        (("recycle", "high"), 10),
        (("recycle", "high", 0), 11),
        (("recycle", "high", 1), 12),
        (("recycle", "call_task"), 14),
        (("recycle", "call_task", "due_days"), 14),
        (("recycle", "call_task", "nested", "deep", 0), 14),
        (("recycle", "call_task", "nested", "deep", 1), 15),
        (("recycle", "description"), 16),
        (("recycle", "after_string"), 20),
        (("recycle", "dotted", "key", "path"), 21),
        (("bands", 0), 23),
        (("bands", 0, "min"), 24),
        (("bands", 1, "min"), 27),
        (("bands", 1, "sub", 0, "x"), 29),
    ],
)
def test_line_of_each_key(lines: Any, path: tuple[Any, ...], line: int) -> None:
    assert lines.line(path) == line


def test_text_inside_strings_is_not_structure(lines: Any) -> None:
    assert ("not", "a", "table") not in lines.lines
    assert ("recycle", "description", "fake") not in lines.lines
    assert ("recycle", "fake") not in lines.lines


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("recycle", "wait_days"), 9),  # a missing key: its table's line
        (("recycle", "call_task", "subject", "oops"), 14),
        (("nowhere", "at", "all"), 1),
    ],
)
def test_unknown_paths_fall_back_to_the_nearest_ancestor(
    lines: Any, path: tuple[Any, ...], line: int
) -> None:
    assert lines.line(path) == line


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (("version",), "version"),
        (("recycle", "high", 1), "[recycle].high"),
        (("recycle", "call_task", "due_days"), "[recycle].call_task.due_days"),
        (
            ("phases", "salesforce", "opportunity_stage", "Needs Analysis"),
            '[phases.salesforce.opportunity_stage]."Needs Analysis"',
        ),
        (("bands", 1, "min"), "[bands[1]].min"),
        (("recycle",), "[recycle]"),
    ],
)
def test_display_path_shows_the_table_like_the_file(lines: Any, path: tuple[Any, ...], shown: str) -> None:
    assert display_path(path, lines) == shown


@pytest.mark.parametrize(
    "text", ["a = [1, 2\n", "a = {", "[x", 'a = "unterminated', "a = '''x", "a =", "b = 1\n]", "a = [[[["]
)
def test_locator_stops_on_text_tomllib_would_refuse(text: str) -> None:
    odd = locate_keys(text)  # not valid TOML: the scanner stops and keeps what it found
    assert odd.line(("a", 5)) == 1


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab =[]{}\"'#.,\n\\1", max_size=40))
def test_locator_terminates_on_any_text(text: str) -> None:
    found = locate_keys(text)
    assert all(line >= 1 for line in found.lines.values())


# -------------------------------------------------------------------- property: any document tomlkit writes

_keys = st.text(alphabet="abcXYZ_-09 .é見", min_size=1, max_size=6)
_scalars = st.one_of(
    st.integers(-1000, 1000), st.booleans(), st.text(alphabet="ab #=[]{}\"'\\\n", max_size=8)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=3)),
    max_leaves=8,
)


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(data, dict):
        out = [path] if path else []
        for key, value in data.items():
            out += _leaves(value, (*path, key))
        return out
    if isinstance(data, list):
        out = [path]
        for i, value in enumerate(data):
            out += _leaves(value, (*path, i))
        return out
    return [path]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _values, min_size=1, max_size=4))
def test_every_key_tomlkit_writes_is_found_on_a_line_that_names_it(data: dict[str, Any]) -> None:
    text = tomlkit.dumps(data)
    assert tomllib.loads(text) == data
    found = locate_keys(text)
    source = text.splitlines()
    for path in _leaves(data):
        assert path in found.lines, path
        key = path[-1]
        if isinstance(key, str) and not isinstance(_get(data, path), dict):
            assert key in source[found.lines[path] - 1], (path, text)


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def test_windows_line_endings_give_the_same_lines(lines: Any) -> None:
    crlf = DOC.replace("\n", "\r\n")
    tomllib.loads(crlf)
    assert locate_keys(crlf).lines == lines.lines
