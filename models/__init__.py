"""RLFN-family super-resolution networks: RLFN, RLFN-S, RLFN_ntire and SlimRLFN (deploy, unfused, pruned)."""

from . import rlfn, slimrlfn  # noqa: F401  (registers the variants)
from .network import InputError, RLFNNet, check_input
from .registry import ModelSpec, UnknownModelError, build_model, get_spec, list_models

__all__ = ["InputError", "ModelSpec", "RLFNNet", "UnknownModelError", "build_model", "check_input", "get_spec",
           "list_models"]
