"""The layers of the code (``yingji.core.layers``): every module under src/yingji, its imports read
with ``ast`` (module level and inside functions alike), must (a) form no import cycle and (b) never
import from an app in a higher layer. A failure prints the offending import lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from yingji.core import layers

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "yingji"


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


MODULES = _modules()


def _resolve(target: str) -> str | None:
    """The project module an import names (``from pkg import name`` may name a submodule)."""
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


def imports_of(name: str) -> list[tuple[str, int, str]]:
    """(imported project module, line number, source line) for every import in module ``name``."""
    path, is_package = MODULES[name]
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    base = name.split(".") if is_package else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(source, str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = base[: len(base) - (node.level - 1)]
                module = ".".join(prefix + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in MODULES else module for a in node.names]
        for target in targets:
            if not target.startswith("yingji"):
                continue
            resolved = _resolve(target)
            entry = (resolved, node.lineno, lines[node.lineno - 1].strip())
            if resolved and resolved != name and entry not in out:
                out.append(entry)
    return out


GRAPH = {name: imports_of(name) for name in MODULES}


def app_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() and parts[1] != "locale":
        return parts[1]
    return layers.TOP


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {n: sorted({t for t, _l, _s in GRAPH[n]}) for n in GRAPH}
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_every_app_has_a_layer():
    apps = {app_of(m) for m in MODULES} - {layers.TOP}
    assert apps <= set(layers.LAYERS), f"apps without a layer in yingji.core.layers.LAYERS: {apps - set(layers.LAYERS)}"


def test_no_import_cycles():
    problems = []
    for component in _cycles():
        members = set(component)
        problems.append("cycle: " + " ↔ ".join(component))
        for module in component:
            for target, line, text in GRAPH[module]:
                if target in members:
                    problems.append(f"  {module}:{line}: {text}")
    assert not problems, "import cycles between modules:\n" + "\n".join(problems)


def test_no_import_from_a_higher_layer():
    problems = []
    for module, imports in sorted(GRAPH.items()):
        here = app_of(module)
        for target, line, text in imports:
            there = app_of(target)
            if layers.rank(there) > layers.rank(here):
                problems.append(f"{module}:{line} ({here} → {there}): {text}")
    assert not problems, ("imports from a higher layer (order: " + " < ".join(layers.LAYERS) + "):\n"
                          + "\n".join(problems))


@pytest.mark.parametrize("snippet, expected", [
    ("from yingji.hazards.models import Hazard\n", ["yingji.hazards.models"]),
    ("def f():\n    from ..hazards import services\n", ["yingji.hazards.services"]),
    ("import yingji.stats.figures\n", ["yingji.stats.figures"]),
])
def test_the_walker_sees_module_and_function_level_imports(tmp_path, monkeypatch, snippet, expected):
    """The walker itself: a late import inside a function counts like a top-level one."""
    probe = tmp_path / "probe.py"
    probe.write_text(snippet, encoding="utf-8")
    monkeypatch.setitem(MODULES, "yingji.registry.probe", (probe, False))
    assert [t for t, _l, _s in imports_of("yingji.registry.probe")] == expected
