"""RLFN-family super-resolution networks: RLFN, RLFN-S, RLFN_ntire and SlimRLFN (deploy, unfused, pruned).

The registry loads without torch (``sr-harness list`` answers at once); everything else loads on first use.
"""

import importlib

from . import rlfn, slimrlfn  # noqa: F401  (registers the variants)
from .registry import ModelSpec, UnknownModelError, build_model, build_overrides, get_spec, list_models

_LAZY = {
    "checkpoints": ("CheckpointError", "CheckpointInfo", "load_model", "load_state", "read_checkpoint", "save_model",
                    "sha256_file"),
    "network": ("InputError", "RLFNNet", "check_input"),
    "reparam": ("RepConv3x3", "set_online_fusion"),
    "transforms": ("fuse", "is_unfused", "prune", "unfused_from_deploy"),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}

__all__ = ["ModelSpec", "UnknownModelError", "build_model", "build_overrides", "get_spec",  # noqa: PLE0604, PLE0605
           "list_models", *sorted(_HOME)]


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
