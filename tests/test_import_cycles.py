"""No import cycle anywhere in acd/: between modules, nor between packages.

Every `import` and `from ... import` of an acd module counts, at module level or
inside a function alike; imports under `if TYPE_CHECKING:` are left out (they are
never executed: annotations only). `from acd.pkg import name` counts as an import
of the module acd.pkg.name when that is a module, else of acd.pkg. Packages
(acd.calls, acd.routing, ...; a top-level module such as acd.app counts as its own)
must form a layered graph too: agents -> routing -> agents would be a cycle even
when no two modules import each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent / "acd"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in ROOT.rglob("*.py")}


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path, name: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                out.add(full if full in known else base)
    return {m for m in out if m in known and m != name}


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports(path, name, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # No two modules import each other, yet the packages do (agents <-> routing was so).
    modules = {"acd.a.x": {"acd.b.y"}, "acd.b.y": {"acd.a.z"}, "acd.a.z": set()}
    assert cycles(modules) == []
    assert cycles(packages(modules)) == [["acd.a", "acd.b"]]


def test_the_checker_reads_relative_and_type_checking_imports(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("from typing import TYPE_CHECKING\nfrom . import x\n"
                   "if TYPE_CHECKING:\n    from acd.y import z\n"
                   "def f():\n    import acd.w\n")
    assert imports(src, "acd.m", {"acd.x", "acd.y", "acd.y.z", "acd.w", "acd"}) == {
        "acd.x", "acd.w"}


def packages(g: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph collapsed to acd's packages (acd.x)."""
    def top(m: str) -> str:
        return ".".join(m.split(".")[:2])
    out: dict[str, set[str]] = {}
    for module, deps in g.items():
        out.setdefault(top(module), set()).update(top(d) for d in deps)
    for pkg, deps in out.items():
        deps.discard(pkg)
        for d in deps:
            out.setdefault(d, set())
    return out


def test_no_import_cycle_between_modules() -> None:
    found = cycles(graph())
    assert found == [], "import cycles in acd/: " + "; ".join(" <-> ".join(c) for c in found)


def test_no_import_cycle_between_packages() -> None:
    found = cycles(packages(graph()))
    assert found == [], "package cycles in acd/: " + "; ".join(" <-> ".join(c) for c in found)
