"""CRM text in rich output: control characters made visible (`mappings.printable.visible`), then rich
markup escaped, so a value from Salesforce or HubSpot is shown as stored and can neither drive the
terminal (ESC, OSC sequences, NUL, CR/LF) nor rich (`[bold]`). Use `safe()` for every CRM value in a
table cell or a markup string; `visible()` where output is printed with `markup=False`. `--json`
output uses neither: it stays exact."""

from __future__ import annotations

from rich.markup import escape

from mappings.printable import visible


def safe(value: object) -> str:
    """A CRM value for rich markup (table cells, `console.print` with markup)."""
    return escape(visible(value))


__all__ = ["safe", "visible"]
