"""A re-parameterizable 3x3 convolution: several parallel branches in training, one Conv2d after ``to_conv2d()``.

Branch set (the project's choice; SlimRLFN's published code has only the fused result):

* 3x3 conv with bias: the deploy kernel itself.
* 1x1 conv with bias, acting on the centre tap of every 3x3 window: a cheap, well-conditioned path.
* 1x1 (C_in -> E) then 3x3 (E -> C_out) "expand" branch (ECBSR-style): an over-parameterized 3x3 whose
  product structure speeds up and stabilises optimisation of a 30-channel net. The 1x1 output is padded
  with its own bias, not zeros, so the fold into one 3x3 is exact at the borders too.
* identity with a learnable per-channel scale, only when C_in == C_out (impossible at pruned widths).
  Between the LeakyReLUs it gives each conv a residual path; the scale lets it start at zero.

No BatchNorm: SR nets train better without it (EDSR removed it; RepSR reports BN train/eval mismatch
artefacts), and inputs here are raw [0, 255] pixels, so BN statistics would be badly scaled.

``online = True`` (see ``set_online_fusion``) makes ``forward`` compose the fused kernel from the branch
parameters differentiably and run one conv: the same function of input and parameters, hence the same
gradients, at about the cost of the deploy conv (online re-parameterization, as in OREPA).

Works for stride 1 / padding 1 (block convs, ESA conv3) and stride 2 / padding 0 (ESA conv2): the 1x1
and identity branches read the centre pixel of each 3x3 window, which folds into the centre tap.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RepConv3x3(nn.Module):
    """Training form of a 3x3 Conv2d (with bias); ``to_conv2d()`` returns the equivalent plain Conv2d."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int = 1, padding: int = 1,
                 expand_channels: int | None = None):
        super().__init__()
        if padding not in (0, 1):
            raise ValueError(f"padding must be 0 or 1 for a 3x3 conv, got {padding}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.stride, self.padding = stride, padding
        expand = expand_channels if expand_channels is not None else 2 * out_channels
        self.conv3x3 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=padding)
        self.conv1x1 = nn.Conv2d(in_channels, out_channels, 1, stride=stride)
        self.expand_in = nn.Conv2d(in_channels, expand, 1)
        self.expand_out = nn.Conv2d(expand, out_channels, 3, stride=stride)
        self.identity_scale = nn.Parameter(torch.ones(out_channels)) if in_channels == out_channels else None
        self.online = False

    @property
    def expand_channels(self) -> int:
        return self.expand_in.out_channels

    def _centre(self, x: torch.Tensor) -> torch.Tensor:
        """Input cropped so that a stride-s 1x1 conv samples the centre of each 3x3 window."""
        off = 1 - self.padding
        return x[..., off:, off:] if off else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.online:
            return F.conv2d(x, *self._compose(), stride=self.stride, padding=self.padding)
        return self.forward_branches(x)

    def forward_branches(self, x: torch.Tensor) -> torch.Tensor:
        """Every branch run separately and summed: the definition that ``fuse`` must reproduce."""
        y = self.conv3x3(x)
        ho, wo = y.shape[-2:]
        xc = self._centre(x)
        y = y + self.conv1x1(xc)[..., :ho, :wo]
        e = F.conv2d(x, self.expand_in.weight)
        if self.padding:
            e = F.pad(e, [self.padding] * 4)  # zero pad, then add the bias everywhere = pad with the bias
        y = y + self.expand_out(e + self.expand_in.bias.view(1, -1, 1, 1))
        if self.identity_scale is not None:
            s = self.stride
            y = y + self.identity_scale.view(1, -1, 1, 1) * xc[..., ::s, ::s][..., :ho, :wo]
        return y

    def _compose(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum of the branches as one 3x3 kernel (C_out x C_in x 3 x 3) and bias; differentiable."""
        kernel = self.conv3x3.weight + F.pad(self.conv1x1.weight, [1, 1, 1, 1])
        bias = self.conv3x3.bias + self.conv1x1.bias
        a, a_bias = self.expand_in.weight[:, :, 0, 0], self.expand_in.bias
        b, b_bias = self.expand_out.weight, self.expand_out.bias
        kernel = kernel + torch.einsum("omhw,mi->oihw", b, a)
        bias = bias + b_bias + b.sum(dim=(2, 3)) @ a_bias
        if self.identity_scale is not None:
            eye = torch.zeros_like(kernel)
            idx = torch.arange(self.out_channels, device=kernel.device)
            eye[idx, idx, 1, 1] = 1.0
            kernel = kernel + eye * self.identity_scale.view(-1, 1, 1, 1)
        return kernel, bias

    @torch.no_grad()
    def fused_kernel_bias(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The single 3x3 kernel and bias equal to the sum of the branches (detached)."""
        kernel, bias = self._compose()
        return kernel.detach().clone(), bias.detach().clone()

    def to_conv2d(self) -> nn.Conv2d:
        kernel, bias = self.fused_kernel_bias()
        conv = nn.Conv2d(self.in_channels, self.out_channels, 3, stride=self.stride, padding=self.padding)
        conv.weight.data.copy_(kernel)
        conv.bias.data.copy_(bias)
        return conv.to(kernel.device)

    @torch.no_grad()
    def load_deploy(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        """Start from a plain 3x3 conv: the 3x3 branch takes it, every other branch outputs zero.

        Only ``expand_out`` is zeroed in the expand branch: zeroing both of its factors would leave
        them with zero gradients forever.
        """
        self.conv3x3.weight.copy_(weight)
        self.conv3x3.bias.copy_(bias)
        for param in (self.conv1x1.weight, self.conv1x1.bias, self.expand_out.weight, self.expand_out.bias):
            param.zero_()
        if self.identity_scale is not None:
            self.identity_scale.zero_()

    @torch.no_grad()
    def load_subset(self, src: RepConv3x3, out_keep: torch.Tensor, in_keep: torch.Tensor) -> None:
        """Take ``src``'s branches restricted to output channels ``out_keep`` and inputs ``in_keep``.

        ``src``'s identity no longer maps channel c to c once channels are removed, so it is folded
        into the 1x1 branch (exact) and this module's own identity, if any, starts at zero.
        """
        if self.expand_channels != src.expand_channels:
            raise ValueError(f"expand width differs: {self.expand_channels} vs {src.expand_channels}")
        w1 = src.conv1x1.weight[:, :, 0, 0].clone()
        if src.identity_scale is not None:
            w1 += torch.diag(src.identity_scale)
        self.conv3x3.weight.copy_(src.conv3x3.weight[out_keep][:, in_keep])
        self.conv3x3.bias.copy_(src.conv3x3.bias[out_keep])
        self.conv1x1.weight.copy_(w1[out_keep][:, in_keep, None, None])
        self.conv1x1.bias.copy_(src.conv1x1.bias[out_keep])
        self.expand_in.weight.copy_(src.expand_in.weight[:, in_keep])
        self.expand_in.bias.copy_(src.expand_in.bias)
        self.expand_out.weight.copy_(src.expand_out.weight[out_keep])
        self.expand_out.bias.copy_(src.expand_out.bias[out_keep])
        if self.identity_scale is not None:
            self.identity_scale.zero_()

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, stride={self.stride}, padding={self.padding}, "
                f"expand={self.expand_channels}, identity={self.identity_scale is not None}")


def set_online_fusion(model: nn.Module, online: bool = True) -> nn.Module:
    """Switch every RepConv3x3 in ``model`` between branch-wise and online-fused forward; returns ``model``."""
    for module in model.modules():
        if isinstance(module, RepConv3x3):
            module.online = online
    return model
