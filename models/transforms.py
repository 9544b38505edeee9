"""Model transforms: fuse the training form, start the training form from deploy weights, prune inner widths.

Every transform returns a new model (the input is never modified) built through the registry, so the
result knows its ``model_name`` and rebuilds from ``build_overrides``.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

from .registry import build_model, build_overrides, get_spec
from .reparam import RepConv3x3


def _deploy_name(model: nn.Module, inner_widths=None) -> str:
    """Registry name of the deploy form with ``inner_widths`` (default: ``model``'s), by the family's own rule."""
    spec = get_spec(model.model_name)
    widths = model.inner_widths if inner_widths is None else inner_widths
    if spec.deploy_name is None:
        if spec.form != "deploy":
            raise ValueError(f"{spec.name}: its family registers no deploy form for its training form")
        return spec.name
    return spec.deploy_name(widths)


def _placement(model: nn.Module) -> dict:
    param = next(model.parameters())
    return {"device": param.device, "dtype": param.dtype}


def _rep_modules(model: nn.Module) -> dict[str, RepConv3x3]:
    return {name: m for name, m in model.named_modules() if isinstance(m, RepConv3x3)}


def _plain_state(model: nn.Module, rep: dict[str, RepConv3x3]) -> dict[str, torch.Tensor]:
    """Tensors of ``model`` that live outside its re-parameterizable convs."""
    return {k: v for k, v in model.state_dict().items() if not any(k.startswith(name + ".") for name in rep)}


def is_unfused(model: nn.Module) -> bool:
    return any(isinstance(m, RepConv3x3) for m in model.modules())


def fuse(model: nn.Module) -> nn.Module:
    """A new deploy model computing the same function; its state_dict has exactly the official key names.

    A model that is already in deploy form comes back as a deep copy.
    """
    if not is_unfused(model):
        return copy.deepcopy(model)
    rep = _rep_modules(model)
    state = _plain_state(model, rep)
    for name, module in rep.items():
        state[f"{name}.weight"], state[f"{name}.bias"] = module.fused_kernel_bias()
    name = _deploy_name(model)
    deploy = build_model(name, channels=model.channels, inner_widths=model.inner_widths)
    deploy.to(**_placement(model)).load_state_dict(state, strict=True)
    return deploy.train(model.training)


deploy_from = fuse


def unfused_from_deploy(deploy: nn.Module) -> nn.Module:
    """The training form whose 3x3 branches hold ``deploy``'s kernels and whose other branches output zero.

    Its output equals ``deploy``'s, so fine-tuning starts exactly at the deploy (e.g. official) model.
    """
    if is_unfused(deploy):
        return copy.deepcopy(deploy)
    training_form = get_spec(deploy.model_name).training_form
    if training_form is None:
        raise ValueError(f"{deploy.model_name} has no re-parameterizable training form (its family registers none)")
    unfused = build_model(training_form, channels=deploy.channels, inner_widths=deploy.inner_widths)
    unfused.to(**_placement(deploy))
    rep = _rep_modules(unfused)
    src = deploy.state_dict()
    unfused.load_state_dict({k: src[k] for k in _plain_state(unfused, rep)}, strict=False)
    for name, module in rep.items():
        module.load_deploy(src[f"{name}.weight"], src[f"{name}.bias"])
    return unfused


def _filter_norms(conv: nn.Module) -> torch.Tensor:
    """L2 norm of each output filter of the (fused) 3x3 kernel."""
    kernel = conv.fused_kernel_bias()[0] if isinstance(conv, RepConv3x3) else conv.weight.detach()
    return kernel.flatten(1).norm(dim=1)


def _keep(conv: nn.Module, width: int, where: str) -> torch.Tensor:
    norms = _filter_norms(conv)
    if not 1 <= width <= norms.numel():
        raise ValueError(f"{where}: cannot prune {norms.numel()} filters to {width}; widths only shrink")
    return torch.sort(torch.topk(norms, width).indices).values  # largest norms, original order


def _copy_conv(dst: nn.Module, src: nn.Module, out_keep: torch.Tensor, in_keep: torch.Tensor) -> None:
    if isinstance(src, RepConv3x3):
        dst.load_subset(src, out_keep, in_keep)
    else:
        with torch.no_grad():
            dst.weight.copy_(src.weight[out_keep][:, in_keep])
            dst.bias.copy_(src.bias[out_keep])


@torch.no_grad()
def prune(model: nn.Module, inner_widths: Sequence[tuple[int, int]]) -> nn.Module:
    """A new model with each block's inner widths cut to ``inner_widths`` by filter L2 norm.

    Per block, ``c1_r`` keeps the M1 output filters with the largest L2 norm of the fused kernel (the
    matching input channels of ``c2_r`` go too), then ``c2_r`` keeps its M2 largest filters (and
    ``c3_r`` their inputs). Norms are those of ``model`` as given; kept channels stay in order. Works on
    deploy and unfused models; the residual width, ``c5``, ESA, head and tail are untouched.
    """
    widths = [tuple(int(w) for w in pair) for pair in inner_widths]
    blocks = model.blocks()
    if len(widths) != len(blocks):
        raise ValueError(f"{model.model_name} has {len(blocks)} blocks but {len(widths)} inner widths were given")
    name = _deploy_name(model, widths) if get_spec(model.model_name).form == "deploy" else model.model_name
    pruned = build_model(name, **{**build_overrides(model), "inner_widths": widths}).to(**_placement(model))
    # Everything outside c1_r/c2_r/c3_r keeps its shape and is copied as is.
    state = model.state_dict()
    inner = (".c1_r.", ".c2_r.", ".c3_r.")
    pruned.load_state_dict({k: state[k] for k in pruned.state_dict() if not any(p in k for p in inner)},
                           strict=False)
    for i, (src, dst, (m1, m2)) in enumerate(zip(blocks, pruned.blocks(), widths)):
        keep1 = _keep(src.c1_r, m1, f"block {i} c1_r")
        keep2 = _keep(src.c2_r, m2, f"block {i} c2_r")
        all_in = torch.arange(model.channels)
        _copy_conv(dst.c1_r, src.c1_r, keep1, all_in)
        _copy_conv(dst.c2_r, src.c2_r, keep2, keep1)
        _copy_conv(dst.c3_r, src.c3_r, all_in, keep2)
    return pruned.train(model.training)
