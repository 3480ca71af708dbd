"""The house rules, checked: layers point one way, no cycle, no giant module, imports at the
top, no privates reached from outside, no SQL outside gis/store, packages list their names."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
GIS = ROOT / "gis"
LINT = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 800


def _modules() -> list[Path]:
    return sorted(p for p in GIS.rglob("*.py") if "migrations" not in p.parts)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _lint(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


def test_layer_contract_holds():
    out = _lint(ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "1 kept, 0 broken" in out.stdout


def test_layer_contract_fails_on_a_planted_violation(tmp_path):
    """The contract is not toothless: a lower layer importing a higher one breaks it."""
    shutil.copytree(GIS, tmp_path / "gis", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    victim = tmp_path / "gis" / "core" / "errors.py"
    victim.write_text(victim.read_text() + "\n\ndef _planted():\n    import gis.cli  # noqa\n")
    out = _lint(tmp_path)
    assert out.returncode != 0
    assert "gis.core.errors -> gis.cli" in out.stdout


def test_no_import_cycle_between_modules():
    """Tarjan's strongly connected components over every import grimp sees (imports inside
    functions and under TYPE_CHECKING included): each component must be a single module."""
    graph = grimp.build_graph("gis", exclude_type_checking_imports=False)
    mods = sorted(graph.modules)
    edges = {m: graph.find_modules_directly_imported_by(m) for m in mods}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
                cycles.append(sorted(comp))

    for m in mods:
        if m not in index:
            visit(m)
    # (a module importing a sibling through its package's __init__ makes a cycle with the
    # __init__ that re-exports it: import siblings from their own module)
    assert not cycles, f"import cycles: {cycles}"


def test_no_module_over_800_lines():
    big = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def _gis_imports_in_functions(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("gis"):
                    lines.append(sub.lineno)
                elif isinstance(sub, ast.Import) and any(
                    a.name.startswith("gis") for a in sub.names
                ):
                    lines.append(sub.lineno)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom | ast.Import):
                    lines.append(sub.lineno)
    return lines


def test_gis_imports_sit_at_module_top():
    found = {}
    for path in _modules():
        lines = _gis_imports_in_functions(ast.parse(path.read_text(encoding="utf-8")))
        if lines:
            found[str(path.relative_to(ROOT))] = lines
    assert not found, f"imports of gis inside functions or TYPE_CHECKING: {found}"


def _private_uses(path: Path) -> list[str]:
    """``from gis.x import _y`` and ``alias._y`` where ``alias`` is an imported gis module,
    unless the private belongs to the module's own package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    own = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    out = []
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gis"):
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if a.name.startswith("_") and not a.name.startswith("__"):
                    if not node.module.startswith(own):
                        out.append(f"{node.lineno}: from {node.module} import {a.name}")
                aliases[a.asname or a.name] = full
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("gis"):
                    aliases[a.asname or a.name] = a.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and not aliases[node.value.id].startswith(own)
        ):
            out.append(f"{node.lineno}: {node.value.id}.{node.attr}")
    return out


def test_no_privates_reached_from_outside():
    found = {}
    for path in [*_modules(), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]:
        uses = _private_uses(path)
        if uses:
            found[str(path.relative_to(ROOT))] = uses
    assert not found, f"privates used outside their package: {found}"


def test_no_sql_outside_the_store():
    found = {}
    for path in [*_modules(), *(ROOT / "pages").glob("*.py")]:
        if "store" in path.relative_to(ROOT).parts:
            continue
        text = path.read_text(encoding="utf-8")
        hits = [
            i
            for i, line in enumerate(text.splitlines(), 1)
            if "sa.text(" in line or "sqlalchemy.text(" in line or "exec_driver_sql" in line
        ]
        if hits:
            found[str(path.relative_to(ROOT))] = hits
    assert not found, f"SQL outside gis/store: {found}"


@pytest.mark.parametrize(
    "package",
    sorted(
        str(p.parent.relative_to(ROOT)).replace("/", ".")
        for p in GIS.rglob("__init__.py")
        if "migrations" not in p.parts and p.parent != GIS
    ),
)
def test_packages_list_their_public_names(package):
    init = ROOT / package.replace(".", "/") / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    names = [
        t.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    ]
    assert "__all__" in names, f"{package}/__init__.py has no __all__"
