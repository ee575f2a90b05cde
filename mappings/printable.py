"""Text from a CRM made safe to show on a terminal or in a log line: control characters made visible.

A name, deal name, loss reason or email in Salesforce or HubSpot can hold ESC sequences (clear the
screen, retitle the window with OSC 0, plant a hidden OSC 8 link), NUL bytes, or CR/LF that forge a
log line. `visible()` writes every such character as a Python-style escape (`\\x1b`, `\\x00`, `\\r`, `\\n`,
`\\t`, `\\x9b`, `\\u202e`), so what is shown is what is stored, readable and inert. Everything else (any
script, emoji, accents) is left alone, and so is a backslash: the aim is a safe terminal, not a
reversible encoding (`--json` output stays exact).

It lives in `mappings` because that is the lowest layer every display can import: the email mask
(`mappings.emails.mask_email`), the CLI tables and explanations (`sync.views`, `sync.cli`) and the log
formatter (`sync.logs`).
"""

from __future__ import annotations

import re

# C0 controls, DEL and C1 controls (0x9b is a one-byte CSI for terminals that honour C1), and the
# Unicode bidirectional embeddings, overrides and isolates that reorder what is shown ("Trojan Source",
# CVE-2021-42574), plus the line and paragraph separators some terminals and log viewers break on.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def visible(value: object) -> str:
    """`str(value)` with every control character written as an escape; None gives ""."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL.sub(_escape, text)
