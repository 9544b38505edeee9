"""Tiny recipes, images and models shared by the trainer tests (kept small: each run takes a second or two)."""

from __future__ import annotations

import pathlib

import imageio.v3 as iio
import numpy as np

TINY_MODELS = """
[models.student]
name = "slimrlfn_unfused_x4"
overrides = { channels = 8, inner_widths = [[8, 8], [8, 8]] }
init_scheme = "interpolation"

[models.teacher]
name = "rlfn_teacher_x4"
overrides = { channels = 8, mid_channels = 8, blocks = 1 }

[models.rlfn]
name = "rlfn_ntire_x4"
overrides = { channels = 8, mid_channels = 8, blocks = 1 }
"""


def write_images(folder: pathlib.Path, n: int = 3, size: int = 128, seed: int = 0) -> pathlib.Path:
    """Smooth random RGB images (learnable, unlike white noise)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    for i in range(n):
        channels = [np.sin(rng.uniform(2, 9) * xx + rng.uniform(0, 6)) * np.cos(rng.uniform(2, 9) * yy)
                    for _ in range(3)]
        img = (np.stack(channels, -1) * 100 + 128 + rng.normal(0, 4, (size, size, 3))).clip(0, 255)
        iio.imwrite(folder / f"img{i}.png", img.astype(np.uint8))
    return folder


def write_recipe(path: pathlib.Path, data: pathlib.Path, stages: str, *, extra_top: str = "",
                 exports: str = "") -> pathlib.Path:
    path.write_text(f"""
[recipe]
name = "tiny"
seed = 3
{extra_top}
[data]
train = "{data}"
val = "{data}"
val_hr_crop = 64
patches_per_image = 8
num_workers = 0
{TINY_MODELS}
[defaults]
hr_patch = 64
batch_size = 4
lr = 2e-3
eta_min = 1e-5
log_every = 2
checkpoint_every = 3
{stages}
{exports}
""", encoding="utf-8")
    return path
