"""The one RLFN-family network; every registered variant is a configuration of it.

RLFN: Kong et al., "Residual Local Feature Network for Efficient Super-Resolution", arXiv 2205.07514,
ported from bytedance/RLFN@bccfde9:model/{rlfn,rlfn_s,rlfn_ntire}.py.
SlimRLFN: NTIRE 2024 ESR team 21, arXiv 2404.10343, ported from Blcony/SlimRLFN@bacd457:models/team21_SlimRLFN.py.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .blocks import ESA, RLFB, SlimUpsampler, conv, rlfn_upsampler

MIN_INPUT_SIZE = 15  # ESA's stride-2 conv followed by the 7x7/3 max pool needs at least 15 LR pixels
DATA_RANGE = 255.0  # every network here takes and returns RGB in [0, 255] (no clamping inside)

# Builds a 3x3 conv: (in_channels, out_channels, stride, padding) -> module.
Conv3x3Factory = Callable[[int, int, int, int], nn.Module]


def plain_conv3x3(in_ch: int, out_ch: int, stride: int = 1, padding: int = 1) -> nn.Conv2d:
    return conv(in_ch, out_ch, 3, stride=stride, padding=padding)


class RLFNNet(nn.Module):
    """Head conv, B residual local feature blocks, conv + global residual, pixel-shuffle upsampler.

    Args:
        channels: residual width C.
        inner_widths: per block (M1, M2), the output widths of ``c1_r`` and ``c2_r``.
        scale: upscaling factor.
        key_style: ``"rlfn"`` (``block_{i}``, ``upsampler.0``, ESA with ``conv_f``) or ``"slimrlfn"``
            (``block_list.{i}``, ``upsampler.upsample_conv``, light ESA without ``conv_f``).
        block_conv: factory for the blocks' three 3x3 convs (re-parameterizable in training form).
        esa_conv: factory for ESA's two 3x3 convs (the strided ``conv2`` and ``conv3``).
        esa_channels: ESA width f (16 in every published model).

    Input and output are float RGB N x 3 x H x W in [0, 255]; the output is not clamped.
    """

    def __init__(self, *, channels: int, inner_widths: Sequence[tuple[int, int]], scale: int,
                 key_style: str = "rlfn", block_conv: Conv3x3Factory = plain_conv3x3,
                 esa_conv: Conv3x3Factory = plain_conv3x3, esa_channels: int = 16):
        super().__init__()
        if key_style not in ("rlfn", "slimrlfn"):
            raise ValueError(f"key_style must be 'rlfn' or 'slimrlfn', got {key_style!r}")
        self.scale = scale
        self.data_range = DATA_RANGE
        self.min_input_size = MIN_INPUT_SIZE
        self.channels = channels
        self.inner_widths = [tuple(int(w) for w in pair) for pair in inner_widths]
        self.key_style = key_style
        self.esa_channels = esa_channels

        def make_block(mid1: int, mid2: int) -> RLFB:
            esa = ESA(channels, esa_channels, use_conv_f=key_style == "rlfn",
                      conv2=esa_conv(esa_channels, esa_channels, 2, 0),
                      conv3=esa_conv(esa_channels, esa_channels, 1, 1))
            return RLFB(channels, mid1, mid2, esa, conv3x3=lambda i, o: block_conv(i, o, 1, 1))

        self.conv_1 = conv(3, channels, 3)
        blocks = [make_block(m1, m2) for m1, m2 in self.inner_widths]
        if key_style == "rlfn":
            for i, block in enumerate(blocks, start=1):
                self.add_module(f"block_{i}", block)
        else:
            self.block_list = nn.ModuleList(blocks)
        self.conv_2 = conv(channels, channels, 3)
        self.upsampler = rlfn_upsampler(channels, scale) if key_style == "rlfn" else SlimUpsampler(channels, scale)

    def build_overrides(self) -> dict:
        """The shapes that rebuild this network through the registry (widths, and the re-param expand ratio)."""
        overrides = {"channels": int(self.channels), "inner_widths": [[int(a), int(b)] for a, b in self.inner_widths]}
        if hasattr(self, "expand_ratio"):
            overrides["expand_ratio"] = int(self.expand_ratio)
        return overrides

    @property
    def deploy(self) -> bool:
        """No re-parameterizable conv left (the RepVGG convention the fusion audit reads)."""
        from .transforms import is_unfused  # noqa: PLC0415

        return not is_unfused(self)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold in place: every re-parameterizable conv becomes its equivalent plain 3x3 conv, so the state dict
        gets the deploy form's key names (``models.fuse`` does the same on a copy, through the registry)."""
        from .reparam import RepConv3x3  # noqa: PLC0415

        for parent in list(self.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, RepConv3x3):
                    setattr(parent, name, child.to_conv2d())

    def blocks(self) -> list[RLFB]:
        if self.key_style == "rlfn":
            return [getattr(self, f"block_{i}") for i in range(1, len(self.inner_widths) + 1)]
        return list(self.block_list)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f0 = self.conv_1(x)
        h = f0
        for block in self.blocks():
            h = block(h)
        return self.upsampler(self.conv_2(h) + f0)


class InputError(ValueError):
    """An input tensor the network cannot take (wrong channel count or smaller than 15 x 15)."""


def check_input(model: nn.Module, shape: Sequence[int]) -> None:
    """Raise InputError unless ``shape`` (N x C x H x W or H x W x C is not accepted) suits ``model``."""
    if len(shape) != 4:
        raise InputError(f"expected an N x 3 x H x W tensor, got shape {tuple(shape)}")
    _, c, h, w = shape
    if c != 3:
        raise InputError(f"expected 3 RGB channels, got {c}; convert the image to RGB")
    smallest = getattr(model, "min_input_size", MIN_INPUT_SIZE)
    if h < smallest or w < smallest:
        raise InputError(f"input is {h}x{w} pixels; these networks need at least {smallest}x{smallest} "
                         "(ESA's strided conv and 7x7 max pool)")
