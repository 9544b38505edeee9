"""Measuring instruments of the NTIRE Efficient-SR protocol: quality, MATLAB bicubic, runtime, complexity, ranking.

Plain functions and small dataclasses with explicit keyword arguments; nothing here imports ``harness``.
"""

from protocols.imresize import bicubic_downscale, bicubic_upscale, imresize
from protocols.quality import (
    image_metrics,
    mean_metrics,
    modcrop,
    psnr_rgb,
    psnr_y,
    rgb_to_y,
    ssim_y,
    to_uint8,
)

__all__ = [
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
