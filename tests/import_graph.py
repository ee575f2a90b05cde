"""The import graph of leadsync's own code, read from the source with `ast` (nothing is imported).

Used by tests/test_layout.py, and runnable for the layout figures quoted in docs/DECISIONS.md:

    python -m tests.import_graph        # modules per package, dependency depth, largest functions
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("connectors", "mappings", "sync")
PACKAGES = (*PRODUCT, "sandbox")


@dataclass(frozen=True)
class Import:
    target: str  # the imported module (dotted), one of ours
    line: int
    in_function: bool  # placed inside a def (a lazy import, or one dodging a cycle)
    type_only: bool  # under `if TYPE_CHECKING:`


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list[Import] = field(default_factory=list)


def module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _ours(name: str) -> bool:
    return name.split(".")[0] in PACKAGES


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, in_function: bool, type_only: bool) -> Iterator[tuple[ast.AST, bool, bool]]:
    for child in ast.iter_child_nodes(node):
        yield child, in_function, type_only
        inner_function = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        inner_type = type_only or (isinstance(child, ast.If) and _is_type_checking(child.test))
        yield from _walk(child, inner_function, inner_type)


@cache
def modules() -> dict[str, Module]:
    """Every module of the product and the sandbox, with the imports of our own modules it makes."""
    found: dict[str, Module] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name, is_package = module_name(path)
            found[name] = Module(name, path, is_package)
    for mod in found.values():
        tree = ast.parse(mod.path.read_text(encoding="utf-8"), str(mod.path))
        here = mod.name if mod.is_package else mod.name.rpartition(".")[0]
        for node, in_function, type_only in _walk(tree, False, False):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import mod` imports the module pkg.mod; `from mod import name` the module
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in found else base for a in node.names]
            for target in targets:
                while target and target not in found and "." in target:
                    target = target.rpartition(".")[0]  # `import a.b.c` where c is not ours
                if _ours(target) and target in found and target != mod.name:
                    mod.imports.append(Import(target, node.lineno, in_function, type_only))
    return found


def package_of(name: str, mods: dict[str, Module]) -> str:
    """The folder a module lives in (a package's own __init__ belongs to it)."""
    return name if mods[name].is_package else name.rpartition(".")[0]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def module_edges(prefixes: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> modules it imports (type-only imports included: a cycle through them is a cycle in
    the design). Package __init__ modules are left out: importing `pkg.mod` runs `pkg/__init__`,
    which is not a dependency of the code that names `pkg.mod`."""
    mods = modules()
    keep = {n for n, m in mods.items() if n.split(".")[0] in prefixes and not m.is_package}
    return {n: {i.target for i in mods[n].imports if i.target in keep} for n in keep}


def depth(edges: dict[str, set[str]]) -> dict[str, int]:
    """Longest import chain below each module (0: imports none of ours). Needs an acyclic graph."""
    memo: dict[str, int] = {}

    def d(v: str, seen: frozenset[str]) -> int:
        if v in memo:
            return memo[v]
        if v in seen:
            raise ValueError(f"cycle through {v}")
        memo[v] = 1 + max((d(w, seen | {v}) for w in edges.get(v, ())), default=-1)
        return memo[v]

    return {v: d(v, frozenset()) for v in edges}


def largest_functions(prefixes: tuple[str, ...] = PRODUCT, top: int = 6) -> list[tuple[int, str]]:
    sizes: list[tuple[int, str]] = []
    for mod in modules().values():
        if mod.name.split(".")[0] not in prefixes:
            continue
        for node in ast.walk(ast.parse(mod.path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                sizes.append((node.end_lineno - node.lineno + 1, f"{mod.name}.{node.name}"))
    return sorted(sizes, reverse=True)[:top]


def main() -> None:
    mods = modules()
    for package in PACKAGES:
        names = [n for n, m in mods.items() if n.split(".")[0] == package and not m.is_package]
        lines = sum(len(mods[n].path.read_text(encoding="utf-8").splitlines()) for n in names)
        print(f"{package:11} {len(names):3} modules {lines:6} lines")
    edges = module_edges(PRODUCT)
    found = cycles(edges)
    print(f"module cycles in the product: {len(found)}")
    if not found:
        depths = depth(edges)
        deepest = max(depths, key=lambda n: depths[n])
        print(f"dependency depth: {depths[deepest]} ({deepest})")
    lazy = [(m.name, i.line) for m in mods.values() if m.name.split(".")[0] in PRODUCT
            for i in m.imports if i.in_function]
    print(f"imports inside functions: {len(lazy)} {lazy}")
    for size, name in largest_functions():
        print(f"  {size:4} lines  {name}")


if __name__ == "__main__":
    main()
