"""The local tooling's import structure: no import cycle among the local packages, and no private name (or
``__import__``) used to reach into another module. Read from the source with ``ast``, imports inside functions
included (a cycle hidden in a function-level import is still a cycle)."""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL = REPO_ROOT / "local"
LOCAL_PACKAGES = ("local_stack", "sam_local", "tableau_emulator")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_under(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    return {module_name(path, root): path for package in packages for path in sorted((root / package).rglob("*.py"))}


def imports_of(name: str, path: Path) -> Iterator[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import statement in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                yield target, alias.name, node.lineno


def import_graph(modules: Mapping[str, Path]) -> dict[str, set[str]]:
    """Edges between the given modules; ``from pkg import mod`` counts as an import of ``pkg.mod``."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, imported, _ in imports_of(name, path):
            if imported is not None and f"{target}.{imported}" in modules:
                graph[name].add(f"{target}.{imported}")
            elif target in modules:
                graph[name].add(target)
        graph[name].discard(name)
    return graph


def find_cycle(graph: Mapping[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first repeated at the end), or ``None``."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt in on_stack:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in done:
                found = visit(nxt)
                if found is not None:
                    return found
        stack.pop()
        on_stack.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start)
            if found is not None:
                return found
    return None


def is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def private_imports(modules: Mapping[str, Path], into: tuple[str, ...]) -> list[str]:
    """``file:line`` for each private name imported from another module of the packages ``into``, and each
    ``__import__``."""
    found = []
    for name, path in modules.items():
        where = path.relative_to(path.parents[len(name.split(".")) - (0 if path.name == "__init__.py" else 1)])
        for target, imported, line in imports_of(name, path):
            if target.split(".")[0] not in into:
                continue
            dotted = [*target.split("."), *([imported] if imported else [])]
            if any(is_private(part) for part in dotted):
                found.append(f"{where}:{line} imports {'.'.join(dotted)}")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
                found.append(f"{where}:{node.lineno} calls __import__")
    return found


def test_no_import_cycle_among_the_local_packages() -> None:
    modules = modules_under(LOCAL, LOCAL_PACKAGES)
    assert {name.split(".")[0] for name in modules} == set(LOCAL_PACKAGES)
    assert find_cycle(import_graph(modules)) is None


def test_no_private_name_imported_from_another_module() -> None:
    modules = {**modules_under(LOCAL, LOCAL_PACKAGES), **modules_under(REPO_ROOT, ("tests",))}
    assert private_imports(modules, into=LOCAL_PACKAGES) == []


def test_the_checks_see_a_cycle_through_a_function_level_import_and_a_private_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import helper\n")
    (package / "b.py").write_text("def helper():\n    from . import a\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "__init__.py").write_text("")
    (other / "c.py").write_text("from pkg.b import _secret\nx = __import__('pkg.a')\n")
    modules = modules_under(tmp_path, ("pkg", "other"))
    assert find_cycle(import_graph(modules)) == ["pkg.b", "pkg.a", "pkg.b"]
    assert private_imports(modules, into=("pkg",)) == [
        "other/c.py:1 imports pkg.b._secret",
        "other/c.py:2 calls __import__",
    ]
