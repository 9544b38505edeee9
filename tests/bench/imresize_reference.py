"""The MATLAB-exact imresize as it was before the strided fast path: the reference the benchmark times against."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bicubic_downscale", "bicubic_upscale", "cubic", "imresize", "to_uint8_matlab"]


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


def _contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Per output pixel: 0-based source indices (out x taps) and their weights."""
    width = 4.0
    if scale < 1:
        width = width / scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    distance = u[:, None] - indices
    weights = scale * cubic(scale * distance) if scale < 1 else cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    # Symmetric padding: 1-based index i maps through the mirrored sequence 1..n, n..1.
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_len)]
    used = np.any(weights != 0, axis=0)
    return indices[:, used], weights[:, used]


def _resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    indices, weights = _contributions(img.shape[axis], out_len, scale)
    moved = np.moveaxis(img, axis, 0)
    out = np.zeros((out_len,) + moved.shape[1:], dtype=np.float64)
    extra = (slice(None),) + (None,) * (moved.ndim - 1)
    for tap in range(indices.shape[1]):
        out += weights[:, tap][extra] * moved[indices[:, tap]]
    return np.moveaxis(out, 0, axis)


def imresize(
    img: np.ndarray,
    *,
    scale: float | None = None,
    output_shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Resize an H x W or H x W x C image like MATLAB ``imresize(img, scale, 'bicubic')``; returns float64.

    Give ``scale`` (output size ``ceil(in * scale)``), or ``output_shape`` (H, W) (per-axis scale
    ``out / in``), or both (``scale`` drives the kernel, ``output_shape`` the size, as MATLAB does when
    a known integer factor divides the size). Values keep the input's range (uint8 input -> 0..255 floats).
    """
    if img.ndim not in (2, 3):
        raise ValueError(f"imresize expects H x W or H x W x C, got shape {img.shape}")
    in_hw = img.shape[:2]
    if scale is None and output_shape is None:
        raise ValueError("imresize needs scale or output_shape")
    if scale is not None and not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    if output_shape is None:
        output_shape = tuple(int(math.ceil(n * scale)) for n in in_hw)
    if len(output_shape) != 2 or min(output_shape) < 1:
        raise ValueError(f"output_shape must be (H, W) with positive sizes, got {output_shape}")
    scales = (scale, scale) if scale is not None else tuple(o / i for o, i in zip(output_shape, in_hw))
    out = np.asarray(img, dtype=np.float64)
    # MATLAB resizes the dimension with the smallest scale first; sorted() is stable, so height first on ties.
    for axis in sorted((0, 1), key=lambda a: scales[a]):
        if output_shape[axis] != in_hw[axis] or scales[axis] != 1:
            out = _resize_axis(out, axis, output_shape[axis], scales[axis])
    return out


def to_uint8_matlab(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 255] -> uint8 as MATLAB converts: clip, then round half away from zero."""
    return np.floor(np.clip(img, 0.0, 255.0) + 0.5).astype(np.uint8)


def bicubic_downscale(hr_uint8: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB ``imresize(hr, 1/scale, 'bicubic')`` saved as uint8; HR sides must be multiples of ``scale``."""
    h, w = hr_uint8.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f"HR size {w} x {h} is not a multiple of the scale {scale}; mod-crop it first")
    return to_uint8_matlab(imresize(hr_uint8, scale=1.0 / scale, output_shape=(h // scale, w // scale)))


def bicubic_upscale(lr_uint8: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB ``imresize(lr, scale, 'bicubic')`` as uint8 (the bicubic baseline of SR tables)."""
    h, w = lr_uint8.shape[:2]
    return to_uint8_matlab(imresize(lr_uint8, scale=float(scale), output_shape=(h * scale, w * scale)))
