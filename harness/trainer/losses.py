"""Training losses on images in [0, 255]; every loss is computed on the [0, 1] scale so epsilons mean the same
thing for any data range."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def charbonnier(output: torch.Tensor, target: torch.Tensor, *, eps: float = 1e-3, data_range: float = 255.0):
    """mean(sqrt(d^2 + eps^2)) with d the difference on the [0, 1] scale."""
    diff = (output - target) / data_range
    return torch.sqrt(diff * diff + eps * eps).mean()


def l2(output: torch.Tensor, target: torch.Tensor, *, data_range: float = 255.0):
    return F.mse_loss(output / data_range, target / data_range)


class ShallowContrastiveLoss(nn.Module):
    """RLFN's contrastive loss: L1 distance to HR over L1 distance to the bicubic-upsampled LR (the negative),
    in the features of a randomly initialised, frozen conv-Tanh-conv extractor (arXiv 2205.07514, sec. 3.3).

    The extractor width (16) and the fixed init seed are the project's choices; the paper does not give them.
    """

    def __init__(self, *, width: int = 16, seed: int = 0, data_range: float = 255.0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.data_range = data_range
        self.conv1 = nn.Conv2d(3, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1)
        with torch.no_grad():
            for conv in (self.conv1, self.conv2):
                bound = 1.0 / (conv.in_channels * 9) ** 0.5
                conv.weight.copy_(torch.empty_like(conv.weight).uniform_(-bound, bound, generator=generator))
                conv.bias.zero_()
        self.requires_grad_(False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.tanh(self.conv1(x / self.data_range)))

    def forward(self, output: torch.Tensor, target: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        negative = F.interpolate(lr, size=output.shape[-2:], mode="bicubic", align_corners=False)
        f_out = self.features(output)
        positive = F.l1_loss(f_out, self.features(target))
        return positive / (F.l1_loss(f_out, self.features(negative)) + 1e-7)


class StageLoss(nn.Module):
    """Pixel loss to HR (+ weight x Charbonnier to a frozen teacher's output) (+ weight x contrastive)."""

    def __init__(self, *, pixel: str, eps: float, teacher: nn.Module | None = None, distill_weight: float = 0.0,
                 contrastive_weight: float = 0.0, seed: int = 0):
        super().__init__()
        self.pixel, self.eps = pixel, eps
        self.teacher = teacher
        if teacher is not None:
            teacher.eval().requires_grad_(False)
        self.distill_weight = distill_weight
        self.contrastive = ShallowContrastiveLoss(seed=seed) if contrastive_weight > 0 else None
        self.contrastive_weight = contrastive_weight

    def forward(self, output: torch.Tensor, hr: torch.Tensor, lr: torch.Tensor) -> tuple[torch.Tensor, dict]:
        pixel = charbonnier(output, hr, eps=self.eps) if self.pixel == "charbonnier" else l2(output, hr)
        total, parts = pixel, {"pixel": pixel.detach()}
        if self.teacher is not None:
            with torch.no_grad():
                target = self.teacher(lr)
            distill = charbonnier(output, target, eps=self.eps)
            total = total + self.distill_weight * distill
            parts["distill"] = distill.detach()
        if self.contrastive is not None:
            contrast = self.contrastive(output, hr, lr)
            total = total + self.contrastive_weight * contrast
            parts["contrastive"] = contrast.detach()
        return total, parts
