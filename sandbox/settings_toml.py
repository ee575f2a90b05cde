"""A small TOML writer for flat settings sections (str, int, float, bool values).

The standard library reads TOML but does not write it; settings files need no more than this.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string with ensure_ascii is a valid TOML basic string (same escapes, \uXXXX).
        return json.dumps(value, ensure_ascii=True)
    raise TypeError(f"cannot write {type(value).__name__} to TOML: {value!r}")


def dumps_toml(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """`[section]` tables of `key = value` lines; None values are left out."""
    out: list[str] = []
    for name, values in sections.items():
        out.append(f"\n[{name}]")
        out.extend(f"{key} = {_value(v)}" for key, v in values.items() if v is not None)
    return "\n".join(out).lstrip("\n") + "\n"
