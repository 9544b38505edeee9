"""Mutation check: how many small, plausible bugs planted in a module its tests catch.

    python tests/mutation.py [--module sr_harness.gate.compare] [--tests tests/test_compare.py ...]

Each mutant changes one node of the module's syntax tree (a comparison flipped, ``and``/``or`` swapped, a ``not``
dropped, a number moved by one, ``True``/``False`` swapped, ``+``/``-`` or ``*``/``/`` swapped, a returned value
replaced by ``None``) and the tests run against it in a fresh interpreter; the mutant is killed when they fail.
Docstrings and other strings are never mutated. Prints each survivor (line and change) and the score; exit 0.
The mutant replaces the module in the test process only (child processes the tests start see the original).
"""

from __future__ import annotations

import argparse
import ast
import copy
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWAPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
         ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.And: ast.Or, ast.Or: ast.And,
         ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
DEFAULT_TARGETS = {
    "sr_harness.gate.compare": ["tests/test_compare.py", "tests/test_metric_registry.py"],
    "sr_harness.records.run": ["tests/test_records.py"],
}

PLUGIN = '''
import importlib.util, json, os, sys
_target = json.loads(os.environ["SR_MUTANT"])
_spec = importlib.util.spec_from_file_location(_target["module"], _target["path"])
_module = importlib.util.module_from_spec(_spec)
sys.modules[_target["module"]] = _module
exec(compile(_target["source"], _target["path"], "exec"), _module.__dict__)
_parent, _, _leaf = _target["module"].rpartition(".")
setattr(importlib.import_module(_parent), _leaf, _module)
'''


def _docstring_ids(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def sites(tree: ast.AST) -> list[tuple[int, str]]:
    """(node index in ast.walk order, description) of every mutation this tree allows."""
    skip = _docstring_ids(tree)
    found = []
    for index, node in enumerate(ast.walk(tree)):
        line = getattr(node, "lineno", None)
        if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS:
            found.append((index, f"line {line}: {type(node.ops[0]).__name__} -> {SWAPS[type(node.ops[0])].__name__}"))
        elif isinstance(node, (ast.BoolOp, ast.BinOp)) and type(node.op) in SWAPS:
            found.append((index, f"line {line}: {type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            found.append((index, f"line {line}: 'not' dropped"))
        elif isinstance(node, ast.Constant) and id(node) not in skip and isinstance(node.value, (bool, int, float)):
            found.append((index, f"line {line}: constant {node.value!r} changed"))
        elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            found.append((index, f"line {line}: returns None"))
    return found


def mutate(tree: ast.AST, index: int) -> str:
    tree = copy.deepcopy(tree)
    node = list(ast.walk(tree))[index]
    if isinstance(node, ast.Compare):
        node.ops[0] = SWAPS[type(node.ops[0])]()
    elif isinstance(node, (ast.BoolOp, ast.BinOp)):
        node.op = SWAPS[type(node.op)]()
    elif isinstance(node, ast.UnaryOp):
        return ast.unparse(_drop_not(tree, index))
    elif isinstance(node, ast.Constant):
        node.value = (not node.value) if isinstance(node.value, bool) else node.value + 1
    elif isinstance(node, ast.Return):
        node.value = ast.Constant(None)
    return ast.unparse(tree)


def _drop_not(tree: ast.AST, index: int) -> ast.AST:
    target = list(ast.walk(tree))[index]

    class Drop(ast.NodeTransformer):
        def visit_UnaryOp(self, node):
            self.generic_visit(node)
            return node.operand if node is target else node
    return Drop().visit(tree)


def run_mutant(module: str, path: Path, source: str, tests: list[str], plugin_dir: str, timeout: int) -> bool:
    """True when the tests fail (or hang) against the mutant."""
    env = dict(os.environ, SR_MUTANT=json.dumps({"module": module, "path": str(path), "source": source}),
               PYTHONPATH=os.pathsep.join(filter(None, [plugin_dir, os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "sr_mutant", "-p",
                               "no:cacheprovider", "-m", "not bench and not slow", *tests],
                              env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return True
    return done.returncode != 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="dotted module to mutate (repeatable; default: "
                        + ", ".join(DEFAULT_TARGETS) + ")")
    parser.add_argument("--tests", nargs="+", help="test files to run against each mutant (default: the module's)")
    parser.add_argument("--timeout", type=int, default=180, help="seconds per mutant before it counts as killed")
    args = parser.parse_args(argv)
    targets = {m: args.tests or DEFAULT_TARGETS.get(m, []) for m in (args.module or DEFAULT_TARGETS)}
    with tempfile.TemporaryDirectory() as plugin_dir:
        Path(plugin_dir, "sr_mutant.py").write_text(PLUGIN)
        total_killed = total = 0
        for module, tests in targets.items():
            path = Path(importlib.util.find_spec(module).origin)
            tree = ast.parse(path.read_text())
            started, survivors = time.perf_counter(), []
            candidates = sites(tree)
            for n, (index, what) in enumerate(candidates, 1):
                if not run_mutant(module, path, mutate(tree, index), tests, plugin_dir, args.timeout):
                    survivors.append(what)
                print(f"  {module}: {n}/{len(candidates)} run, {len(survivors)} survived", end="\r", file=sys.stderr,
                      flush=True)
            killed = len(candidates) - len(survivors)
            total_killed, total = total_killed + killed, total + len(candidates)
            print(f"{module}: {killed}/{len(candidates)} mutants killed ({killed / max(len(candidates), 1):.0%}) by "
                  f"{' '.join(tests)} in {time.perf_counter() - started:.0f} s", flush=True)
            for what in survivors:
                print(f"  survived: {what}", flush=True)
        print(f"total: {total_killed}/{total} killed ({total_killed / max(total, 1):.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
