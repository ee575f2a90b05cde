"""The layers: `sync` reaches the connectors only through `connectors.base` (records, Protocols) and
`connectors.factory`, never a vendor's package; `connectors` never imports `sync`; the sandbox imports
nothing of the product."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported(package: str) -> dict[str, set[str]]:
    """file (relative to the repository) -> every module it imports, anywhere in the file."""
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
        out[str(path.relative_to(ROOT))] = names
    return out


def offenders(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    found = {}
    for file, names in imported(package).items():
        bad = sorted(n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden))
        if bad:
            found[file] = bad
    return found


@pytest.mark.parametrize("package, forbidden", [
    ("sync", ("connectors.salesforce", "connectors.hubspot")),
    ("connectors", ("sync",)),
    ("sandbox", ("sync", "connectors", "mappings")),
])
def test_no_import_crosses_a_layer(package: str, forbidden: tuple[str, ...]) -> None:
    assert imported(package), package  # the walk found the package's files
    assert offenders(package, forbidden) == {}


def test_the_check_sees_a_vendor_import() -> None:
    names = imported("connectors")["connectors/factory.py"]
    assert "connectors.salesforce.connector.SalesforceConnector" in names
    assert offenders("connectors", ("connectors.hubspot",))["connectors/factory.py"]
