"""Building blocks shared by RLFN and SlimRLFN.

Attribute names match the upstream checkpoints (bytedance/RLFN@bccfde9:model/block.py,
Blcony/SlimRLFN@bacd457:models/team21_SlimRLFN.py) so that official weights load with strict=True.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int | None = None) -> nn.Conv2d:
    """Conv2d with bias and "same" zero padding unless told otherwise."""
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=(kernel - 1) // 2 if padding is None else padding)


class ESA(nn.Module):
    """Enhanced spatial attention as trimmed by RLFN; ``use_conv_f=False`` is SlimRLFN's light ESA.

    ``conv2`` and ``conv3`` are injectable so the training-time form can swap in re-parameterizable convs.
    """

    def __init__(self, channels: int, esa_channels: int = 16, use_conv_f: bool = True,
                 conv2: nn.Module | None = None, conv3: nn.Module | None = None):
        super().__init__()
        f = esa_channels
        self.conv1 = conv(channels, f, 1)
        if use_conv_f:
            self.conv_f = conv(f, f, 1)
        self.conv2 = conv2 if conv2 is not None else conv(f, f, 3, stride=2, padding=0)
        self.conv3 = conv3 if conv3 is not None else conv(f, f, 3)
        self.conv4 = conv(f, channels, 1)
        self.use_conv_f = use_conv_f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        v = F.max_pool2d(c1, kernel_size=7, stride=3)
        c3 = self.conv3(v)
        c3 = F.interpolate(c3, (x.size(2), x.size(3)), mode="bilinear", align_corners=False)
        skip = self.conv_f(c1_) if self.use_conv_f else c1_
        m = torch.sigmoid(self.conv4(c3 + skip))
        return x * m


class RLFB(nn.Module):
    """Residual local feature block: three 3x3 convs with LeakyReLU(0.05), local residual, 1x1, ESA.

    ``mid1``/``mid2`` are the inner widths (pruning changes only these). ``conv3x3`` builds the
    three 3x3 convs and ``esa`` is given ready-made, so one class serves deploy and training forms.
    """

    def __init__(self, channels: int, mid1: int, mid2: int, esa: nn.Module, conv3x3=None):
        super().__init__()
        make = conv3x3 if conv3x3 is not None else (lambda i, o: conv(i, o, 3))
        self.c1_r = make(channels, mid1)
        self.c2_r = make(mid1, mid2)
        self.c3_r = make(mid2, channels)
        self.c5 = conv(channels, channels, 1)
        self.esa = esa
        self.act = nn.LeakyReLU(0.05, inplace=True)

    def prunable_chain(self) -> list[nn.Module]:
        """The convs pruning cuts, in data order: each output but the last may shrink (with the next one's inputs)."""
        return [self.c1_r, self.c2_r, self.c3_r]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.act(self.c1_r(x))
        t = self.act(self.c2_r(t))
        t = self.act(self.c3_r(t))
        return self.esa(self.c5(t + x))


class SlimUpsampler(nn.Module):
    """SlimRLFN's upsampler: a 3x3 conv then pixel shuffle (keys ``upsampler.upsample_conv.*``)."""

    def __init__(self, channels: int, scale: int):
        super().__init__()
        self.upsample_conv = conv(channels, 3 * scale * scale, 3)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.upsample_conv(x), self.scale)


def rlfn_upsampler(channels: int, scale: int) -> nn.Sequential:
    """RLFN's upsampler: Sequential(conv, PixelShuffle) (keys ``upsampler.0.*``)."""
    return nn.Sequential(conv(channels, 3 * scale * scale, 3), nn.PixelShuffle(scale))
