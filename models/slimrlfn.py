"""SlimRLFN deploy variants (Blcony/SlimRLFN@bacd457:models/team21_SlimRLFN.py) as registered factories.

The deploy form has plain 3x3 convs (re-parameterization already folded in) and a light ESA without
``conv_f``. Pruning changes only the inner widths (M1, M2) of each block.
"""

from __future__ import annotations

from collections.abc import Sequence

from .network import RLFNNet
from .registry import ModelSpec, register

CHANNELS = 30
BLOCKS = 6
FULL_WIDTHS = [(30, 30)] * BLOCKS
# Official pruned checkpoint: prune_channels = [28] * 10 + [30, 30].
PRUNED_WIDTHS = [(28, 28)] * 5 + [(30, 30)]


def slimrlfn_deploy(*, channels: int = CHANNELS, inner_widths: Sequence[tuple[int, int]] = FULL_WIDTHS,
                    scale: int = 4) -> RLFNNet:
    return RLFNNet(channels=channels, inner_widths=inner_widths, scale=scale, key_style="slimrlfn")


def _factory(default_widths):
    def factory(*, channels: int = CHANNELS, inner_widths: Sequence[tuple[int, int]] | None = None) -> RLFNNet:
        return slimrlfn_deploy(channels=channels, inner_widths=default_widths if inner_widths is None else inner_widths)
    return factory


register(ModelSpec(name="slimrlfn_x4", family="slimrlfn", scale=4, form="deploy", official=True,
                   description="SlimRLFN deploy (fused) model, NTIRE 2024 team 21 (C30, 6 blocks, light ESA)",
                   factory=_factory(FULL_WIDTHS)))
register(ModelSpec(name="slimrlfn_prune_x4", family="slimrlfn", scale=4, form="deploy", official=True,
                   description="SlimRLFN pruned deploy model (inner widths 28 in blocks 0-4, 30 in block 5)",
                   factory=_factory(PRUNED_WIDTHS)))
