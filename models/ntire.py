"""Challenge entries built by the organizers' own code: ``select_model(args, device)`` of an NTIRE ESR repository.

Nothing in the repository is edited or copied. Its ``test_demo.py`` is read and only its top-level imports, its
``select_model`` and its ``forward*`` helpers are executed, so utilities the harness does not call (image I/O with
cv2, torchvision's make_grid) need not be installed; an import that fails is recorded, not fatal. While a team is
built the repository is the working directory and the first ``sys.path`` entry (its ``model_zoo/`` paths are
relative, its ``models`` and ``utils`` packages are its own), and ``torch.load`` is called with
``weights_only=True`` and the run's ``map_location`` (checkpoints saved on a GPU load on a CPU). A team that cannot
be built is a ``TeamUnbuildable`` with a one-line reason; the caller records it and goes on with the others.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import inspect
import os
import sys
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .checkpoints import sha256_file
from .cuda_redirect import Redirects, redirected
from .external import ExternalModel
from .fusion_audit import fusion_audit

SCRIPT = "test_demo.py"
FOREIGN_PACKAGES = ("models", "utils")  # the repositories' own top-level packages
# The FLOP counters the organizers' scripts call, by the name of the call: NTIRE 2022 counts with its own
# utils/model_summary.get_model_flops, 2023 on with fvcore (the 2024 script keeps the old call commented out).
FLOP_COUNTERS = {"FlopCountAnalysis": "fvcore", "get_model_flops": "model_summary"}
COUNTER_LABELS = {"fvcore": "fvcore FlopCountAnalysis", "model_summary": "the repository's utils/model_summary.get_model_flops"}


class TeamUnbuildable(Exception):
    """A team the organizers' code cannot build here; str() is the one-line reason."""


class NtireRepoError(Exception):
    """DIR is not an NTIRE ESR repository (no test_demo.py with select_model); one line."""


@dataclass
class NtireRepo:
    root: Path
    script_sha256: str
    namespace: dict  # select_model, forward helpers and the script's imported names
    team_ids: tuple[int, ...]  # the ids select_model dispatches on, in script order
    skipped_imports: list[str] = field(default_factory=list)
    flop_counter: str = "fvcore"  # which FLOP counter the script calls (FLOP_COUNTERS)


class NtireTeamModel(ExternalModel):
    """A team's network with the script's own forward helper (``forward_team<NN>`` where the script has one, as its
    ``run`` does); ``net`` is what the organizers measure FLOPs, params and activations on."""

    def __init__(self, net: nn.Module, forward, *, name: str, data_range: float, tile, scale: int = 4,
                 repo: NtireRepo | None = None, redirect: str | None = None):
        super().__init__(net, data_range=data_range, scale=scale, name=name)
        self._forward, self.tile, self._repo, self._redirect = forward, tile, repo, redirect

    @property
    def complexity_module(self) -> nn.Module:
        return self.net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._redirect is None:
            return self._forward(x, self.net, self.tile)
        with redirected(self._redirect):  # built only with .cuda() redirected: its forward may call it too
            return self._forward(x, self.net, self.tile)

    def own_flops(self, input_hw: tuple[int, int]) -> dict:
        """FLOPs as this repository's script counts them (its FLOP_COUNTERS call), in G, with the counter's name;
        ``None`` where the script counts with fvcore (the run's own count is that number)."""
        if self._repo is None or self._repo.flop_counter == "fvcore":
            return {"flops_counter": COUNTER_LABELS["fvcore"], "flops_g_own": None}
        count = self._repo.namespace.get("get_model_flops")
        if count is None:
            raise TeamUnbuildable("the script counts FLOPs with utils/model_summary.get_model_flops, which did not "
                                  "import")
        redirect = redirected(self._redirect) if self._redirect else contextlib.nullcontext()
        with _inside(self._repo.root, "cpu"), redirect, torch.no_grad():
            flops = count(self.net, (3, *input_hw), False)
        return {"flops_counter": COUNTER_LABELS["model_summary"], "flops_g_own": flops / 1e9}


def _int_constant(node: ast.AST) -> int | None:
    """``4`` or ``-1`` (a negative id is a unary minus on a constant in the tree)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        value = _int_constant(node.operand)
        return -value if value is not None else None
    is_int = isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool)
    return node.value if is_int else None


def _team_ids(tree: ast.Module) -> tuple[int, ...]:
    ids = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "select_model":
            for test in ast.walk(node):
                if (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "model_id"
                        and isinstance(test.ops[0], ast.Eq)):
                    ids.append(_int_constant(test.comparators[0]))
    return tuple(dict.fromkeys(i for i in ids if i is not None))


def _flop_counter(tree: ast.Module) -> str:
    """The FLOP counter the script calls (a commented-out call is not in the tree); fvcore when it calls none."""
    called = {FLOP_COUNTERS[name] for node in ast.walk(tree) if isinstance(node, ast.Call)
              for name in [getattr(node.func, "id", None) or getattr(node.func, "attr", None)] if name in FLOP_COUNTERS}
    return "fvcore" if "fvcore" in called or not called else "model_summary"


@contextlib.contextmanager
def _inside(root: Path, map_location, loaded: list | None = None, trust: bool = False):
    """The repository as the script expects to run: its cwd, its packages first; restored afterwards. Files that
    ``torch.load`` reads meanwhile are appended to ``loaded``; only with ``trust`` may a file inside ``root`` be
    unpickled whole (weights_only=False), never one elsewhere."""
    saved_modules = {k: v for k, v in sys.modules.items() if k.split(".")[0] in FOREIGN_PACKAGES}
    for name in saved_modules:
        del sys.modules[name]
    saved_path = list(sys.path)
    # an entry holding a regular models/ or utils/ package would win over the repository's namespace packages
    sys.path[:] = [str(root), *(p for p in saved_path if not _holds_foreign_package(p))]
    original_load = torch.load

    @functools.wraps(original_load)
    def safe_load(f, *args, **kwargs):
        inside = isinstance(f, (str, os.PathLike)) and Path(root, f).resolve().is_relative_to(root.resolve())
        kwargs["weights_only"], kwargs["map_location"] = not (trust and inside), map_location
        if loaded is not None and isinstance(f, (str, os.PathLike)):
            loaded.append(Path(f).resolve())
        return original_load(f, *args, **kwargs)

    torch.load = safe_load
    cwd = os.getcwd()
    try:
        os.chdir(root)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the foreign code's deprecation notices are not the user's to fix
            yield
    finally:
        os.chdir(cwd)
        torch.load = original_load
        sys.path[:] = saved_path
        for name in [k for k in sys.modules if k.split(".")[0] in FOREIGN_PACKAGES]:
            sys.modules.pop(name)  # the team modules stay referenced by their models; the names go back
        sys.modules.update(saved_modules)


def team_ids(root: str | os.PathLike) -> tuple[int, ...]:
    """The team ids ``root/test_demo.py``'s select_model dispatches on, read without running anything."""
    return _team_ids(_parse(Path(root).expanduser().resolve() / SCRIPT))


def _parse(path: Path) -> ast.Module:
    if not path.is_file():
        raise NtireRepoError(f"{path}: not found; --ntire-repo takes the folder of an NTIRE ESR repository "
                             "(the one holding test_demo.py, models/ and model_zoo/)")
    text = path.read_text(encoding="utf-8")
    try:
        return ast.parse(text, filename=str(path))
    except SyntaxError as exc:
        raise NtireRepoError(f"{path}: cannot be parsed ({exc.msg}, line {exc.lineno})") from None


def _holds_foreign_package(entry: str) -> bool:
    return any(os.path.isfile(os.path.join(entry or ".", name, "__init__.py")) for name in FOREIGN_PACKAGES)


@functools.lru_cache(maxsize=8)
def open_repo(root: str) -> NtireRepo:
    """Read ``root/test_demo.py``: its imports, ``select_model`` and ``forward*`` helpers (nothing else runs)."""
    path = Path(root).expanduser().resolve() / SCRIPT
    tree = _parse(path)
    wanted = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
              or (isinstance(n, ast.FunctionDef) and (n.name == "select_model" or n.name.startswith("forward")))]
    if not any(isinstance(n, ast.FunctionDef) and n.name == "select_model" for n in wanted):
        raise NtireRepoError(f"{path}: has no select_model(args, device); is it an NTIRE ESR test_demo.py?")
    namespace = {"__name__": "ntire_test_demo", "__file__": str(path)}
    skipped = []
    with _inside(path.parent, "cpu"):
        for node in wanted:
            code = compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec")
            try:
                exec(code, namespace)  # noqa: S102  (the organizers' script, read from the folder the user named)
            except ImportError as exc:  # a utility the harness does not use (cv2, torchvision): noted
                skipped.append(f"line {node.lineno}: {exc}")
    return NtireRepo(path.parent, sha256_file(path), namespace, _team_ids(tree), skipped, _flop_counter(tree))


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:240]}"


def build_team(root: str | os.PathLike, team: int, device: str = "cpu", *,
               trust_repo: bool = False) -> tuple[NtireTeamModel, dict]:
    """Team ``team``'s model as ``select_model`` builds it on ``device``, and what the record keeps about it;
    ``trust_repo`` lets a whole pickled module inside the repository load (--trust-repo)."""
    repo = open_repo(str(Path(root).expanduser().resolve()))
    if team not in repo.team_ids:
        raise TeamUnbuildable(f"select_model has no branch for team {team} (ids: "
                              f"{', '.join(map(str, repo.team_ids))})")
    args = types.SimpleNamespace(model_id=team)
    weights: list[Path] = []
    redirects = Redirects(device)
    try:
        with _inside(repo.root, device, weights, trust_repo), redirected(device, redirects), torch.no_grad():
            net, name, data_range, tile = repo.namespace["select_model"](args, torch.device(device))
            source = _source_of(net, repo.root)
    except Exception as exc:  # noqa: BLE001  (foreign code: any failure is this team's reason, the run goes on)
        pickled = "Weights only load failed" in str(exc) and not trust_repo
        raise TeamUnbuildable(("a file stores a whole pickled module, which loads only with --trust-repo (unpickling "
                               "runs code from it): " if pickled else "") + _reason(exc)) from None
    helper = f"forward_team{team:02}"
    forward = repo.namespace.get(helper) or repo.namespace["forward"]
    model = NtireTeamModel(net, forward, name=str(name), data_range=data_range, tile=tile, repo=repo,
                           redirect=device if redirects.calls else None)
    info = {"ntire_repo": str(repo.root), "script_sha256": repo.script_sha256, "team": team, "class":
            type(net).__name__, "source": source, "data_range": float(data_range),
            "tile": tile, "forward": helper if helper in repo.namespace else "forward",
            "skipped_imports": repo.skipped_imports,
            "weights": [_shown(w, repo.root) for w in weights],
            "weights_sha256": [sha256_file(w) for w in weights], "flop_counter": repo.flop_counter,
            "cuda_redirected": redirects.calls, "trusted": trust_repo}
    info["fusion_audit"] = fusion_audit(net, data_range=float(data_range))
    if source is not None:
        info["source_sha256"] = sha256_file(Path(repo.root, source))
    return model, info


def _shown(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def _source_of(net: nn.Module, root: Path) -> str | None:
    try:
        return _shown(Path(inspect.getsourcefile(type(net))).resolve(), root)
    except (TypeError, OSError):
        return None
