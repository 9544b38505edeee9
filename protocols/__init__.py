"""Measuring instruments of the NTIRE Efficient-SR protocol: quality, MATLAB bicubic, runtime, complexity, ranking.

Plain functions and small dataclasses with explicit keyword arguments; nothing here imports ``harness``. Each
module loads on first use, so a caller that needs only the bicubic kernel does not pay for torch.
"""

import importlib

_LAZY = {
    "complexity": ("FLOPS_LABEL", "Complexity", "measure_complexity"),
    "imresize": ("bicubic_downscale", "bicubic_upscale", "imresize"),
    "quality": ("image_metrics", "mean_metrics", "modcrop", "psnr_rgb", "psnr_y", "rgb_to_y", "ssim_y", "to_uint8"),
    "ranking": ("NTIRE2024_BASELINE", "ScoreBaseline", "ntire2024_score", "passes_psnr_gate", "set_averages"),
    "runtime": ("RuntimeResult", "bootstrap_ci", "measure_interleaved", "ntire_pass", "ntire_result", "ratio_ci"),
}
_HOME = {name: module for module, names in _LAZY.items() for name in names}

__all__ = sorted(_HOME)  # noqa: PLE0605


def __getattr__(name: str):
    if name in _HOME:
        value = getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
