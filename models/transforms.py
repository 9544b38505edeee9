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


def _kernel(conv: nn.Module) -> torch.Tensor:
    """The (fused) 3x3 kernel, out x in x 3 x 3."""
    return conv.fused_kernel_bias()[0] if isinstance(conv, RepConv3x3) else conv.weight.detach()


def _keep(conv: nn.Module, width: int, where: str) -> torch.Tensor:
    norms = _kernel(conv).flatten(1).norm(dim=1)  # L2 norm of each output filter
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
def prune(model: nn.Module, inner_widths: Sequence[Sequence[int]]) -> nn.Module:
    """A new model with each block's inner widths cut to ``inner_widths`` by filter L2 norm.

    Each block names the convs that may be cut (``prunable_chain()``, in data order; RLFB: c1_r, c2_r, c3_r).
    Along the chain, a conv keeps the output filters with the largest L2 norm of its fused kernel and the next
    conv keeps the matching inputs; the last conv keeps every output. Norms are those of ``model`` as given;
    kept channels stay in order. Works on deploy and unfused models; everything outside the chains is untouched.
    """
    widths = [tuple(int(w) for w in pair) for pair in inner_widths]
    blocks = model.blocks()
    if len(widths) != len(blocks):
        raise ValueError(f"{model.model_name} has {len(blocks)} blocks but {len(widths)} inner widths were given")
    name = _deploy_name(model, widths) if get_spec(model.model_name).form == "deploy" else model.model_name
    pruned = build_model(name, **{**build_overrides(model), "inner_widths": widths}).to(**_placement(model))
    chains = {id(c) for block in blocks for c in block.prunable_chain()}
    cut = tuple(f"{n}." for n, m in model.named_modules() if id(m) in chains)
    state = model.state_dict()
    pruned.load_state_dict({k: state[k] for k in pruned.state_dict() if not k.startswith(cut)}, strict=False)
    for i, (src, dst, block_widths) in enumerate(zip(blocks, pruned.blocks(), widths)):
        chain = src.prunable_chain()
        if len(block_widths) != len(chain) - 1:
            raise ValueError(f"block {i} has {len(chain) - 1} inner widths, {len(block_widths)} were given")
        keep_in = torch.arange(_kernel(chain[0]).shape[1])
        for k, (conv, target) in enumerate(zip(chain, dst.prunable_chain())):
            keep_out = _keep(conv, block_widths[k], f"block {i} conv {k}") if k < len(block_widths) \
                else torch.arange(_kernel(conv).shape[0])
            _copy_conv(target, conv, keep_out, keep_in)
            keep_in = keep_out
    return pruned.train(model.training)
