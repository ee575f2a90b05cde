"""The layout keeps its promises (docs/DECISIONS.md "Layout"): no import cycle between packages or
between modules, no import placed inside a function, the sandbox apart from the product, and the
layers in order: mappings (pure) and connectors below sync; sync/ run, state and views below its CLI
and its console.

The graph is read from the source (tests.import_graph), so a cycle that only an import inside a
function, or under `if TYPE_CHECKING:`, keeps from failing at import time is still found."""

from __future__ import annotations

from tests import import_graph as g

SYNC_PARTS = ("sync.cli", "sync.console", "sync.orchestrators", "sync.run", "sync.state", "sync.views")


def _group(name: str) -> str:
    """The package a module counts in: a top-level package, or one of sync's parts."""
    return next((p for p in SYNC_PARTS if name == p or name.startswith(p + ".")), name.split(".")[0])


def _group_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, mod in g.modules().items():
        for imp in mod.imports:
            a, b = _group(name), _group(imp.target)
            if a != b:
                edges.setdefault(a, set()).add(b)
    return edges


def _imports_between(source: str, target: str) -> list[str]:
    return [f"{m.path.relative_to(g.ROOT)}:{i.line} imports {i.target}"
            for m in g.modules().values() if _group(m.name) == source or m.name.split(".")[0] == source
            for i in m.imports if i.target == target or i.target.startswith(target + ".")]


def test_the_cycle_finder_finds_a_cycle_and_only_cycles() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"d"}}
    assert g.cycles(edges) == [["a", "b", "c"]]
    assert g.cycles({"a": {"b"}, "b": set()}) == []


def test_the_graph_sees_the_imports_it_must() -> None:
    """A smoke check on the reader: a known top-level import, a relative one and a type-only one."""
    mods = g.modules()
    assert "sync.run.context" in {i.target for i in mods["sync.run.runner"].imports}
    assert "sandbox.faults" in {i.target for i in mods["sandbox.hubspot.emulator"].imports}
    type_only = [i for i in mods["sync.cli.sandbox"].imports if i.type_only]
    assert [i.target for i in type_only] == ["sandbox.launcher"]


def test_no_import_cycle_between_modules_of_the_product() -> None:
    assert g.cycles(g.module_edges(g.PRODUCT)) == []


def test_no_import_cycle_between_packages() -> None:
    edges = _group_edges()
    assert set(SYNC_PARTS) <= set(edges)  # each part imports something: the grouping is real
    assert g.cycles(edges) == []


def test_no_import_placed_inside_a_function() -> None:
    lazy = [f"{m.path.relative_to(g.ROOT)}:{i.line} imports {i.target}"
            for m in g.modules().values() if m.name.split(".")[0] in g.PRODUCT
            for i in m.imports if i.in_function]
    assert lazy == []


def test_the_sandbox_imports_nothing_of_the_product() -> None:
    for product in g.PRODUCT:
        assert _imports_between("sandbox", product) == []


# `leadsync sandbox --faults SPEC` checks the spec (and lists the fault kinds in its help) before any
# emulator starts; sandbox.faults uses the standard library only, so it loads without the extra
# (tests/sync/cli/test_production_imports.py proves `leadsync --help` loads no extra-only package).
SANDBOX_IMPORTS_ALLOWED = {("sync.cli.sandbox", "sandbox.faults")}


def test_the_product_reaches_the_sandbox_only_through_the_extras_loader() -> None:
    """Type-only imports are allowed (annotations); at run time `sync.cli.extras` loads the extra."""
    runtime = {(m.name, i.target) for m in g.modules().values() if m.name.split(".")[0] in g.PRODUCT
               for i in m.imports if i.target.split(".")[0] == "sandbox" and not i.type_only}
    assert runtime <= SANDBOX_IMPORTS_ALLOWED, sorted(runtime - SANDBOX_IMPORTS_ALLOWED)
    faults = g.modules()["sandbox.faults"]
    assert [i.target for i in faults.imports] == []  # it imports no other sandbox module


def test_sync_reaches_a_vendor_only_through_the_factory_and_its_settings_model() -> None:
    """sync/ types connectors with the Protocols of connectors.base and builds them with
    connectors.factory; of a vendor package it may name only the settings model it composes into
    settings.toml's sections (sync/settings.py)."""
    vendor = ("connectors.salesforce", "connectors.hubspot")
    reached = {(m.name, i.target) for m in g.modules().values() if m.name.split(".")[0] == "sync"
               for i in m.imports if i.target.startswith(vendor)}
    assert {t for _, t in reached} <= {f"{v}.settings" for v in vendor}, sorted(reached)
    assert {n for n, _ in reached} == {"sync.settings"}


def test_layers_point_down() -> None:
    assert _imports_between("mappings", "connectors") == []
    assert _imports_between("mappings", "sync") == []
    assert _imports_between("connectors", "sync") == []
    assert _imports_between("connectors", "mappings") == []
    for lower in ("sync.run", "sync.state", "sync.views"):
        assert _imports_between(lower, "sync.cli") == []
        assert _imports_between(lower, "sync.console") == []  # the console is a front end, as the CLI
        assert _imports_between(lower, "sync.orchestrators") == []  # so is an orchestrator's (Dagster)
    assert _imports_between("sync.console", "sync.cli") == []
    assert _imports_between("sync.state", "sync.run") == []
    assert _imports_between("sync.state", "sync.views") == []
    assert _imports_between("sync.run", "sync.views") == []
