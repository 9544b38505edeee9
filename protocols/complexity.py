"""Model complexity as the NTIRE 2024 ESR challenge reports it, at a 1 x 3 x 256 x 256 LR input.

- ``flops_g``: fvcore ``FlopCountAnalysis(...).total() / 1e9``. fvcore counts one multiply-add as one flop,
  so this is really GMACs; label it "FLOPs, fvcore, multiply-add counted once". Bias, activations,
  element-wise ops and pixel shuffle are not counted (fvcore skips them); ``uncounted_ops`` lists every operator
  of the trace that fvcore has no rule for, with its call count, so nothing is dropped silently.
- ``params``: ``sum(p.numel() for p in model.parameters())``, buffers excluded.
- ``activations_m``: total elements of every Conv2d / ConvTranspose2d output, / 1e6 (NTIRE definition).
- ``convs``: number of Conv2d / ConvTranspose2d modules that ran.
- ``memory_mib``: on CUDA only, ``max_memory_allocated`` of one forward at this input after a reset
  (the official number is the peak over a whole data set and is not comparable).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

__all__ = ["FLOPS_LABEL", "Complexity", "measure_complexity"]

FLOPS_LABEL = "FLOPs, fvcore, multiply-add counted once"
_CONV_TYPES = (nn.Conv2d, nn.ConvTranspose2d)


@dataclass
class Complexity:
    flops_g: float
    params: int
    activations_m: float
    convs: int
    memory_mib: float | None
    input_hw: tuple[int, int]
    flops_by_operator: dict[str, int] = field(default_factory=dict)
    flops_label: str = FLOPS_LABEL
    uncounted_ops: dict[str, int] = field(default_factory=dict)  # operator -> calls fvcore has no FLOP rule for

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    def to_dict(self) -> dict:
        data = asdict(self)
        data["input_hw"] = list(self.input_hw)
        data["params_m"] = self.params_m
        return data


def measure_complexity(model: nn.Module, *, input_hw: tuple[int, int] = (256, 256), device: str = "cpu") -> Complexity:
    """FLOPs, params, activations, conv count (and peak CUDA memory) of ``model`` at a 1 x 3 x H x W input.

    The model must already be on ``device``; it is put in eval mode.
    """
    model.eval()
    h, w = input_hw
    x = torch.rand(1, 3, h, w, device=device) * getattr(model, "data_range", 1.0)
    params = sum(p.numel() for p in model.parameters())

    outputs: list[int] = []
    hooks = [m.register_forward_hook(_count_output(outputs)) for m in model.modules() if isinstance(m, _CONV_TYPES)]
    memory_mib = None
    try:
        if torch.device(device).type == "cuda":  # peak memory needs a forward of its own
            with torch.inference_mode():
                torch.cuda.synchronize(device)
                torch.cuda.reset_peak_memory_stats(device)
                model(x)
                torch.cuda.synchronize(device)
                memory_mib = torch.cuda.max_memory_allocated(device) / 1024**2
            outputs.clear()
        # fvcore's trace is one real forward: the conv hooks count activations during it (a forward saved)
        flops, by_operator, uncounted = _fvcore_flops(model, x)
    finally:
        for hook in hooks:
            hook.remove()
    return Complexity(
        flops_g=flops / 1e9,
        params=params,
        activations_m=sum(outputs) / 1e6,
        convs=len(outputs),
        memory_mib=memory_mib,
        input_hw=(h, w),
        flops_by_operator=by_operator,
        uncounted_ops=uncounted,
    )


def _count_output(sink: list[int]):
    def hook(module, inputs, output):
        sink.append(int(output.numel()))  # under the trace numel() is a 0-d tensor

    return hook


def _fvcore_flops(model: nn.Module, x: torch.Tensor) -> tuple[int, dict[str, int], dict[str, int]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fvcore's import uses the deprecated torch.jit.script
        from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    jit_logger = logging.getLogger("fvcore.nn.jit_analysis")
    previous_level = jit_logger.level
    jit_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # jit tracer warnings about the trace itself, not about the model
            total = analysis.total()
            by_operator = dict(analysis.by_operator())
            uncounted = dict(analysis.unsupported_ops())
    finally:
        jit_logger.setLevel(previous_level)
    return (int(total), {k: int(v) for k, v in sorted(by_operator.items())},
            {k: int(v) for k, v in sorted(uncounted.items())})
