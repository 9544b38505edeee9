"""Fusion audit for any network: fold its re-parameterizable parts the way its own code does and measure the change.

Modules of foreign networks expose their fold under one of a few names used in the field; every module that has
one (callable without arguments) is folded, innermost first, in a deep copy, and both forms run on the same input.
The audit reports which method ran, on how many modules, the max |difference| of the outputs (in the model's data
range) and the parameter counts before and after; modules built folded already (``deploy = True``, the RepVGG
convention) are not folded again. The evaluated model itself is never changed.
"""

from __future__ import annotations

import copy
import inspect

import torch
from torch import nn

FUSE_METHODS = ("switch_to_deploy", "reparameterize", "fuse", "fuse_model")


def _fold_method(module: nn.Module) -> str | None:
    for name in FUSE_METHODS:
        method = getattr(module, name, None)
        if callable(method) and not isinstance(method, nn.Module) and _no_required_args(method):
            return name
    return None


def _no_required_args(method) -> bool:
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def _to_fold(net: nn.Module) -> list[tuple[nn.Module, str]]:
    """(module, fold method) for every module still to fold, innermost first (a parent's fold may rely on its
    children's folded weights); modules built folded (``deploy = True``, the RepVGG convention) are left out."""
    found = [(m, _fold_method(m)) for m in net.modules()]
    return [(m, name) for m, name in reversed(found) if name and getattr(m, "deploy", False) is not True]


def folded_copy(net: nn.Module) -> nn.Module:
    """A deep copy of ``net`` with every fold applied, innermost first (``net`` itself is never changed)."""
    folded = copy.deepcopy(net).eval()
    with torch.no_grad():
        for module, method in _to_fold(folded):
            getattr(module, method)()
    return folded


def fusion_audit(net: nn.Module, *, data_range: float = 1.0, size: int = 48, seed: int = 0) -> dict | None:
    """None when no module of ``net`` has a fold method; else what folding changed (see the module docstring)."""
    found = [name for name in map(_fold_method, net.modules()) if name]
    if not found:
        return None
    names = sorted(set(found))
    if not _to_fold(net):
        return {"methods": names, "modules": len(found), "already_folded": True}
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(1, 3, size, size, generator=generator) * data_range).to(device)
    try:
        folded = folded_copy(net)
        with torch.no_grad():
            reference = net.eval()(x)
            out = folded(x)
    except Exception as exc:  # noqa: BLE001  (foreign code: a fold that fails is the audit's finding)
        return {"methods": names, "modules": len(found), "error": f"{type(exc).__name__}: {exc}"[:240]}
    return {"methods": names, "modules": len(found), "input": [1, 3, size, size],
            "max_abs_diff": float((out.float() - reference.float()).abs().max()),
            "params_before": sum(p.numel() for p in net.parameters()),
            "params_after": sum(p.numel() for p in folded.parameters())}
