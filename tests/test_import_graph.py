"""The project's import graph, read from the source (ast, nothing imported): no circles between project modules, and
the layers of DESIGN.md / docs/architecture.md hold. Imports inside functions count: they hide a circle, they do not
remove it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("shapca", "trainables", "ablations", "reports", "clusters")
# layer -> imports it must never make (a name and everything under it)
FORBIDDEN = {
    "shapca": ("ray", "mlflow", "optuna", "trainables", "ablations", "reports", "clusters"),
    "reports": ("shapca.trainer", "ablations", "trainables", "ray"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imported_names(path: Path, module: str) -> list[str]:
    """Every module an import statement of the file names (at any depth), relative ones made absolute; `from X
    import Y` names X.Y where that is a module (a submodule of a package), else X."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names += [f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names]
    return names


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (a package's __init__ only when named itself)."""
    modules = _modules()
    graph = {}
    for module, path in modules.items():
        graph[module] = {n for n in _imported_names(path, module) if n in modules and n != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_every_package():
    graph = _graph()
    assert {m.split(".")[0] for m in graph} == set(PACKAGES)
    assert "ablations.schema" in graph["ablations.study_file"]  # a plain import is seen
    assert "shapca.data.bio" in graph["shapca.data.types"]


def test_a_circle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_circle_between_project_modules():
    cycles = _cycles(_graph())
    assert not cycles, "import circles (each line one circle; break it with a leaf module both sides import):\n" + \
        "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layers_import_only_downwards(layer):
    bad = []
    for module, path in _modules().items():
        if module.split(".")[0] != layer:
            continue
        for name in _imported_names(path, module):
            hit = [f for f in FORBIDDEN[layer] if name == f or name.startswith(f + ".")]
            if hit:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, f"{layer}/ must not import {', '.join(FORBIDDEN[layer])}:\n" + "\n".join(sorted(set(bad)))
