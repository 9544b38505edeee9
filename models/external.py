"""Networks that are not in the registry: a user's class from a source file (``FILE.py:Class``), loaded as it is.

The file is imported without editing: its folder and the folder above go on ``sys.path``, and when that folder is
usable as a package the file is imported as ``<folder>.<stem>``, so ``from model import block`` inside
``model/rlfn.py`` works; otherwise it is imported under a private name. Weights load with
``torch.load(weights_only=True, map_location="cpu")`` and ``strict=True``; ``state_key`` picks a nested state dict
(``params``, ``params_ema``, ``state_dict``). Every error is one line (``CheckpointError``).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from .checkpoints import CheckpointError, sha256_file
from .fusion_audit import fusion_audit

DATA_RANGES = (1.0, 255.0)


@dataclass(frozen=True)
class ExternalSpec:
    source: str  # "path/to/file.py:ClassName"
    weights: str | None = None
    data_range: float = 1.0  # the input range the network expects: 1 (most zoo entries) or 255 (RLFN family)
    scale: int = 4
    args: dict = field(default_factory=dict)  # constructor keyword arguments
    state_key: str | None = None

    def split(self) -> tuple[Path | str, str]:
        """(source file, class) for FILE.py:Class; (module, class) for package.module:Class and entry:NAME."""
        source = self.source
        if source.startswith(ENTRY_PREFIX):
            source = _entry_point(source.removeprefix(ENTRY_PREFIX))
        path, sep, cls = source.rpartition(":")
        if sep and cls.isidentifier() and path.endswith(".py"):
            return Path(path).expanduser().resolve(), cls
        if sep and cls.isidentifier() and all(part.isidentifier() for part in path.split(".")):
            return path, cls
        raise CheckpointError(f"{self.source}: --model must be FILE.py:ClassName (e.g. my_net.py:MyNet), "
                              f"package.module:ClassName, or {ENTRY_PREFIX}NAME (an installed entry point)")

    def check_files(self) -> tuple[Path | str, str]:
        """What can be checked without running the user's code: the spec's form, the files it names, the range.
        Returns ``split()``."""
        path, cls = self.split()
        if isinstance(path, Path) and not path.is_file():
            raise CheckpointError(f"{path}: no such source file (--model FILE.py:Class)")
        if self.weights is not None and not Path(self.weights).is_file():
            raise CheckpointError(f"{self.weights}: no such weights file (--weights)")
        if self.data_range not in DATA_RANGES:
            raise CheckpointError(f"{self.source}: --data-range must be 1 or 255, got {self.data_range:g}")
        return path, cls


ENTRY_PREFIX = "entry:"
ENTRY_GROUP = "sr_harness.models"  # [project.entry-points."sr_harness.models"] name = "package.module:Class"


def _entry_point(name: str) -> str:
    from importlib.metadata import entry_points  # noqa: PLC0415

    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_GROUP)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none installed"
        raise CheckpointError(f"{ENTRY_PREFIX}{name}: no entry point {name!r} in group {ENTRY_GROUP!r} "
                              f"(installed: {known})")
    return found[name]


class ExternalModel(nn.Module):
    """The user's network with what the harness needs to know about it; ``forward`` is the network's own."""

    def __init__(self, net: nn.Module, *, data_range: float, scale: int, name: str):
        super().__init__()
        self.net, self.data_range, self.scale, self.model_name = net, float(data_range), scale, name
        self.min_input_size = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _import_file(path: Path):
    folder = path.parent
    for entry in (str(folder.parent), str(folder)):  # package-style and flat sibling imports
        if entry not in sys.path:
            sys.path.insert(0, entry)
    package = folder.name
    loaded = sys.modules.get(package)
    if package.isidentifier() and (loaded is None or str(folder) in list(getattr(loaded, "__path__", []))):
        try:
            return importlib.import_module(f"{package}.{path.stem}")
        except ModuleNotFoundError as exc:
            if exc.name not in (package, f"{package}.{path.stem}"):
                raise
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(f"_sr_external_{digest}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_external(spec: ExternalSpec) -> tuple[ExternalModel, dict]:
    """Build and load ``spec``'s network; returns the model and what the record keeps about it."""
    path, cls_name = spec.check_files()
    try:
        module = _import_file(path) if isinstance(path, Path) else importlib.import_module(path)
    except ImportError as exc:
        raise CheckpointError(f"{path}: cannot import it: {exc} (install the package it needs)") from None
    except Exception as exc:  # noqa: BLE001  (foreign code: any error while importing it is the user's file)
        raise CheckpointError(f"{path}: importing it raised {type(exc).__name__}: {exc}") from None
    cls = getattr(module, cls_name, None)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise CheckpointError(f"{path}: has no nn.Module class {cls_name!r}")
    try:
        net = cls(**spec.args)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{spec.source}: {cls_name}(**{json.dumps(spec.args)}) raised "
                              f"{type(exc).__name__}: {exc}; check --model-args") from None
    file = path if isinstance(path, Path) else Path(inspect.getsourcefile(cls))
    info = {"source": str(file), "source_sha256": sha256_file(file), "class": cls_name, "args": spec.args,
            "module": None if isinstance(path, Path) else path,
            "data_range": spec.data_range, "scale": spec.scale, "state_key": spec.state_key, "weights": None,
            "weights_sha256": None}
    if spec.weights is not None:
        _load_strict(net, spec)
        info |= {"weights": str(Path(spec.weights).resolve()), "weights_sha256": sha256_file(spec.weights)}
    info["fusion_audit"] = fusion_audit(net, data_range=spec.data_range)
    return ExternalModel(net.eval(), data_range=spec.data_range, scale=spec.scale, name=cls_name), info


def _state_dict(spec: ExternalSpec) -> dict:
    weights = Path(spec.weights)  # its presence: spec.check_files(), in load_external
    try:
        state = torch.load(weights, weights_only=True, map_location="cpu")
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"{weights}: not a loadable state dict ({type(exc).__name__}); pass the .pth of the "
                              "model's state_dict") from None
    if spec.state_key is not None:
        if not isinstance(state, dict) or spec.state_key not in state:
            keys = ", ".join(map(str, list(state)[:8])) if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(f"{weights}: no key {spec.state_key!r} (--state-key); top-level keys: {keys}")
        state = state[spec.state_key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        hint = [k for k in ("params_ema", "params", "state_dict") if isinstance(state, dict) and k in state]
        raise CheckpointError(f"{weights}: not a flat state dict" + (f"; try --state-key {hint[0]}" if hint else ""))
    return state


def _load_strict(net: nn.Module, spec: ExternalSpec) -> None:
    try:
        net.load_state_dict(_state_dict(spec), strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(f"{spec.weights}: does not fit {spec.source}: {' '.join(first[:2])[:300]}") from None
