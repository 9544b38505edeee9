"""RLFN-family super-resolution networks: RLFN, RLFN-S, RLFN_ntire and SlimRLFN (deploy, unfused, pruned)."""

from . import rlfn, slimrlfn  # noqa: F401  (registers the variants)
from .checkpoints import (
    CheckpointError,
    CheckpointInfo,
    load_model,
    load_state,
    read_checkpoint,
    save_model,
    sha256_file,
)
from .network import InputError, RLFNNet, check_input
from .registry import ModelSpec, UnknownModelError, build_model, build_overrides, get_spec, list_models
from .reparam import RepConv3x3, set_online_fusion
from .transforms import deploy_from, fuse, is_unfused, prune, unfused_from_deploy

__all__ = ["CheckpointError", "CheckpointInfo", "InputError", "ModelSpec", "RLFNNet", "RepConv3x3", "UnknownModelError",
           "build_model", "build_overrides", "check_input", "deploy_from", "fuse", "get_spec", "is_unfused",
           "list_models", "load_model", "load_state", "prune", "read_checkpoint", "save_model", "set_online_fusion", "sha256_file",
           "unfused_from_deploy"]
