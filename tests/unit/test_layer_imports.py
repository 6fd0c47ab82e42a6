"""The Lambda layer holds what the functions run, nothing else: every module in it is imported by a function,
directly or through another layer module a function imports; and the layer never imports operator code."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAYER = REPO / "layers" / "shared" / "tableau_broker"
FUNCTIONS = REPO / "functions"
LAYER_PACKAGE = "tableau_broker"
NOT_DEPLOYED = ("token_broker_cli", "token_broker_ops", "local_stack", "tableau_emulator", "tests")


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import``/``from ... import`` names, at any depth (lazy imports count); for
    ``from package import name`` both ``package`` and ``package.name`` (``name`` may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def layer_modules() -> dict[str, Path]:
    return {f"{LAYER_PACKAGE}.{path.stem}": path for path in LAYER.glob("*.py") if path.name != "__init__.py"}


def reachable_from_functions() -> set[str]:
    layer = layer_modules()
    pending = [module for path in FUNCTIONS.rglob("*.py") for module in imported_modules(path) if module in layer]
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module not in seen:
            seen.add(module)
            pending.extend(m for m in imported_modules(layer[module]) if m in layer)
    return seen


def test_the_walk_sees_imports_at_any_depth(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import a.b\nfrom c import d\ndef f():\n    from e.f import g\nfrom . import h\n")
    assert imported_modules(source) == {"a.b", "c", "c.d", "e.f", "e.f.g"}


def test_every_layer_module_is_imported_by_a_function() -> None:
    unused = sorted(set(layer_modules()) - reachable_from_functions())
    assert unused == [], f"layer modules no function imports (move them out of the layer): {unused}"


def test_the_layer_never_imports_operator_or_local_code() -> None:
    offending = {
        path.name: sorted(m for m in imported_modules(path) if m.split(".")[0] in NOT_DEPLOYED)
        for path in LAYER.glob("*.py")
    }
    assert {name: found for name, found in offending.items() if found} == {}
