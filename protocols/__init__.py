"""Measuring instruments of the NTIRE Efficient-SR protocol: quality, MATLAB bicubic, runtime, complexity, ranking.

Plain functions and small dataclasses with explicit keyword arguments; nothing here imports ``harness``.
"""

from .complexity import FLOPS_LABEL, Complexity, measure_complexity
from .imresize import bicubic_downscale, bicubic_upscale, imresize
from .quality import (
    image_metrics,
    mean_metrics,
    modcrop,
    psnr_rgb,
    psnr_y,
    rgb_to_y,
    ssim_y,
    to_uint8,
)
from .ranking import NTIRE2024_BASELINE, ScoreBaseline, ntire2024_score, passes_psnr_gate, set_averages
from .runtime import RuntimeResult, bootstrap_ci, measure_interleaved, measure_runtime, ratio_ci

__all__ = [
    "FLOPS_LABEL",
    "NTIRE2024_BASELINE",
    "Complexity",
    "RuntimeResult",
    "ScoreBaseline",
    "bootstrap_ci",
    "measure_complexity",
    "measure_interleaved",
    "measure_runtime",
    "ntire2024_score",
    "passes_psnr_gate",
    "ratio_ci",
    "set_averages",
    "bicubic_downscale",
    "bicubic_upscale",
    "image_metrics",
    "imresize",
    "mean_metrics",
    "modcrop",
    "psnr_rgb",
    "psnr_y",
    "rgb_to_y",
    "ssim_y",
    "to_uint8",
]
