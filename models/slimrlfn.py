"""SlimRLFN variants (Blcony/SlimRLFN@bacd457:models/team21_SlimRLFN.py) as registered factories.

The deploy form has plain 3x3 convs (re-parameterization already folded in) and a light ESA without
``conv_f``. Pruning changes only the inner widths (M1, M2) of each block. The unfused (training) form
swaps every block 3x3 conv and both ESA 3x3 convs for ``RepConv3x3``; ``models.fuse`` folds it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .registry import ModelSpec, register

if TYPE_CHECKING:  # the network (and torch) load on first build, so `list` starts without them
    from .network import RLFNNet
    from .reparam import RepConv3x3

CHANNELS = 30
BLOCKS = 6
FULL_WIDTHS = [(30, 30)] * BLOCKS
# Official pruned checkpoint: prune_channels = [28] * 10 + [30, 30].
PRUNED_WIDTHS = [(28, 28)] * 5 + [(30, 30)]
# Expand-branch width = EXPAND_RATIO x the residual width (blocks) or the ESA width (ESA convs). It is
# tied to those fixed widths, not to the pruned inner widths, so pruning never changes it.
EXPAND_RATIO = 2


def deploy_name(inner_widths) -> str:
    """Registry name of a deploy SlimRLFN: the full widths are ``slimrlfn_x4``, any other is a pruned model."""
    widths = [tuple(int(w) for w in pair) for pair in inner_widths]
    return "slimrlfn_x4" if widths == FULL_WIDTHS else "slimrlfn_prune_x4"


def slimrlfn_deploy(*, channels: int = CHANNELS, inner_widths: Sequence[tuple[int, int]] = FULL_WIDTHS,
                    scale: int = 4) -> RLFNNet:
    from .network import RLFNNet  # noqa: PLC0415

    return RLFNNet(channels=channels, inner_widths=inner_widths, scale=scale, key_style="slimrlfn")


def slimrlfn_unfused(*, channels: int = CHANNELS, inner_widths: Sequence[tuple[int, int]] = FULL_WIDTHS,
                     scale: int = 4, expand_ratio: int = EXPAND_RATIO, esa_channels: int = 16) -> RLFNNet:
    """Training form: c1_r, c2_r, c3_r of every block and ESA's conv2 (strided) and conv3 re-parameterized."""
    from .network import RLFNNet  # noqa: PLC0415
    from .reparam import RepConv3x3  # noqa: PLC0415

    def block_conv(i: int, o: int, stride: int, padding: int) -> RepConv3x3:
        return RepConv3x3(i, o, stride=stride, padding=padding, expand_channels=expand_ratio * channels)

    def esa_conv(i: int, o: int, stride: int, padding: int) -> RepConv3x3:
        return RepConv3x3(i, o, stride=stride, padding=padding, expand_channels=expand_ratio * esa_channels)

    model = RLFNNet(channels=channels, inner_widths=inner_widths, scale=scale, key_style="slimrlfn",
                    block_conv=block_conv, esa_conv=esa_conv, esa_channels=esa_channels)
    model.expand_ratio = expand_ratio
    return model


def _factory(default_widths):
    def factory(*, channels: int = CHANNELS, inner_widths: Sequence[tuple[int, int]] | None = None) -> RLFNNet:
        return slimrlfn_deploy(channels=channels, inner_widths=default_widths if inner_widths is None else inner_widths)
    return factory


def _unfused_factory(*, channels: int = CHANNELS, inner_widths: Sequence[tuple[int, int]] | None = None,
                     expand_ratio: int = EXPAND_RATIO) -> RLFNNet:
    return slimrlfn_unfused(channels=channels, inner_widths=FULL_WIDTHS if inner_widths is None else inner_widths,
                            expand_ratio=expand_ratio)


register(ModelSpec(name="slimrlfn_x4", family="slimrlfn", scale=4, form="deploy", official=True,
                   description="SlimRLFN deploy (fused) model, NTIRE 2024 team 21 (C30, 6 blocks, light ESA)",
                   factory=_factory(FULL_WIDTHS), deploy_name=deploy_name, training_form="slimrlfn_unfused_x4"))
register(ModelSpec(name="slimrlfn_prune_x4", family="slimrlfn", scale=4, form="deploy", official=True,
                   description="SlimRLFN pruned deploy model (inner widths 28 in blocks 0-4, 30 in block 5)",
                   factory=_factory(PRUNED_WIDTHS), deploy_name=deploy_name, training_form="slimrlfn_unfused_x4"))
register(ModelSpec(name="slimrlfn_unfused_x4", family="slimrlfn", scale=4, form="unfused",
                   description="SlimRLFN training form: re-parameterizable 3x3 convs (3x3 + 1x1 + 1x1->3x3 expand "
                               "+ scaled identity) in every block and in ESA; fuses into slimrlfn_x4",
                   factory=_unfused_factory, deploy_name=deploy_name))
