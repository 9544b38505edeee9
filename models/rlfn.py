"""RLFN variants (bytedance/RLFN@bccfde9:model/{rlfn,rlfn_s,rlfn_ntire}.py) as registered factories."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .registry import ModelSpec, register

if TYPE_CHECKING:  # the network (and torch) load on first build, so `list` starts without them
    from .network import RLFNNet


def _rlfn_factory(channels: int, mid: int, blocks: int, scale: int):
    def factory(*, channels: int = channels, mid_channels: int = mid, blocks: int = blocks,
                inner_widths: Sequence[tuple[int, int]] | None = None) -> RLFNNet:
        from .network import RLFNNet  # noqa: PLC0415

        widths = inner_widths if inner_widths is not None else [(mid_channels, mid_channels)] * blocks
        return RLFNNet(channels=channels, inner_widths=widths, scale=scale, key_style="rlfn")
    return factory


_VARIANTS = [
    # name, C, M, B, scale, official, description
    ("rlfn_ntire_x4", 46, 48, 4, 4, True, "RLFN_ntire: NTIRE 2022 ByteESR winner, NTIRE 2024 baseline (C46, inner 48, 4 blocks)"),
    ("rlfn_s_x2", 48, 48, 6, 2, True, "RLFN-S x2 (C48, 6 blocks)"),
    ("rlfn_s_x4", 48, 48, 6, 4, True, "RLFN-S x4 (C48, 6 blocks)"),
    ("rlfn_x2", 52, 52, 6, 2, True, "RLFN x2 (C52, 6 blocks)"),
    ("rlfn_x4", 52, 52, 6, 4, True, "RLFN x4 (C52, 6 blocks)"),
    ("rlfn_teacher_x4", 196, 196, 6, 4, False,
     "RLFN with 6 blocks x 196 channels: the distillation teacher named in the SlimRLFN factsheet"),
]

for _name, _c, _m, _b, _s, _official, _desc in _VARIANTS:
    register(ModelSpec(name=_name, family="rlfn", scale=_s, form="deploy", description=_desc,
                       factory=_rlfn_factory(_c, _m, _b, _s), official=_official))
