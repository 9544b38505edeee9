"""The source tree keeps the shape the README's layout section describes: layers import downwards only, no
import circle, no module over 300 lines, no function over 60, and every sub-package is documented."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"harness": "sr_harness", "models": "sr_harness.models", "protocols": "sr_harness.protocols"}
# Lower numbers are lower layers: a module may import only its own layer or lower ones.
RANK = {"models": 0, "protocols": 0, "base": 1, "config": 2, "records": 2, "run": 3, "gate": 4, "trainer": 4,
        "report": 5, "cli": 6, "__main__": 7}
BASE_MODULES = ("errors", "metrics", "outputs")


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(ROOT / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in BASE_MODULES:
        return "base"
    return parts[1]


def imports(module: str, path: Path, *, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{a.name}" for a in node.names)  # `from pkg import module`
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {t for t in found if t.startswith("sr_harness")}


MODULES = modules()


def test_layers_import_downwards_only():
    upward = []
    for module, path in MODULES.items():
        for target in imports(module, path):
            if target in MODULES and RANK[layer(target)] > RANK[layer(module)]:
                upward.append(f"{module} -> {target}")
    assert not upward, upward


def test_models_and_protocols_never_import_the_harness():
    for module, path in MODULES.items():
        if layer(module) in ("models", "protocols"):
            assert {layer(t) for t in imports(module, path) if t in MODULES} <= {"models", "protocols"}, module


def test_no_import_circle_among_module_level_imports():
    graph = {m: {t for t in imports(m, p, top_level_only=True) if t in MODULES and t != m} for m, p in MODULES.items()}
    # a package's __init__ importing its own submodule is how packages re-export, not a circle
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state, cycle = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycle, cycle


def test_planted_upward_import_is_caught(tmp_path):
    """The layer check itself can fail: a records module importing the gate is reported."""
    fake = tmp_path / "bad.py"
    fake.write_text("from sr_harness.gate.compare import compare\n")
    targets = imports("sr_harness.records.bad", fake)
    assert any(RANK[layer(t)] > RANK["records"] for t in targets if t in MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module):
    path = MODULES[module]
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300, f"{path.relative_to(ROOT)}: over 300 lines; split it by purpose"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= 60, f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {length} lines"


def test_every_harness_sub_package_is_in_the_readme_layout_section():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", readme, re.S | re.M)
    assert section, "README.md has no '## Layout' section"
    packages = sorted(p.parent.name for p in (ROOT / "harness").glob("*/__init__.py"))
    assert packages, "no sub-packages found under harness/"
    missing = [p for p in packages if f"harness/{p}/" not in section.group(1)]
    assert not missing, f"not described in README's layout section: {missing}"
