"""Entries written for a GPU, run on another device: ``.cuda()`` on modules and tensors goes to the chosen device.

Challenge code often calls ``.cuda()`` while building (a warm-up forward, ``self.cuda()(torch.randn(...).cuda())``).
On a CPU-only torch that raises "Torch not compiled with CUDA enabled" and the entry cannot be built. Inside
``redirected(device)`` those calls become ``.to(device)`` and are counted, so the row can say it was redirected.
Nothing changes when the device is CUDA.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Redirects:
    """How many ``.cuda()`` calls went to ``device`` instead."""

    device: str
    calls: int = 0


@contextlib.contextmanager
def redirected(device: str | torch.device, counter: Redirects | None = None):
    """``nn.Module.cuda`` and ``torch.Tensor.cuda`` move to ``device`` while inside (only when it is not CUDA)."""
    device = torch.device(device)
    counter = counter if counter is not None else Redirects(str(device))
    if device.type == "cuda":
        yield counter
        return
    module_cuda, tensor_cuda = nn.Module.cuda, torch.Tensor.cuda

    def module_to(self, *args, **kwargs):
        counter.calls += 1
        return self.to(device)

    def tensor_to(self, *args, **kwargs):
        counter.calls += 1
        return self.to(device)

    nn.Module.cuda, torch.Tensor.cuda = module_to, tensor_to
    try:
        yield counter
    finally:
        nn.Module.cuda, torch.Tensor.cuda = module_cuda, tensor_cuda
