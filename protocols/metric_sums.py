"""One cache-friendly pass over an image pair that yields every sum the quality metrics need.

The pair is walked in strips of rows, so each strip's intermediates stay in the CPU cache. Per strip:
BT.601 Y of both images (the same float arithmetic as ``quality.rgb_to_y``), the squared-error sums for
PSNR-RGB, PSNR-Y and PSNR on MATLAB-rounded Y, and the SSIM map summed over the pixels whose 11 x 11 window
lies inside the image (scikit-image's ``structural_similarity`` with ``gaussian_weights=True, sigma=1.5,
use_sample_covariance=False`` averages exactly those, so its border mode never matters).

SSIM needs the Gaussian means of x, y, x^2 + y^2 and xy only. With u = x + y and v = x - y (U, V, P, Q the
Gaussian means of u, v, u^2, v^2):
    2 mu_x mu_y = (U^2 - V^2) / 2            mu_x^2 + mu_y^2 = (U^2 + V^2) / 2
    2 cov_xy = (P - Q - U^2 + V^2) / 2       var_x + var_y = (P + Q - U^2 - V^2) / 2
so four filtered maps suffice, and the factors of 1/2 cancel in the SSIM ratio. Everything stays float64. The separable filter is done
in float64 as small banded matrix products (BLAS via numpy), blocks of rows first, then of columns. (Not
torch: its multi-threaded small products stall badly on a busy machine.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5  # scipy.ndimage.gaussian_filter's radius rule, as scikit-image uses it
SSIM_RADIUS = int(SSIM_TRUNCATE * SSIM_SIGMA + 0.5)  # 5: an 11 x 11 window
SSIM_TAPS = 2 * SSIM_RADIUS + 1
SSIM_C1 = (0.01 * 255.0) ** 2
SSIM_C2 = (0.03 * 255.0) ** 2
# Rounded Y from float Y: the exact Y is 16 + n / 255000 for an integer n, so away from a tie Y + 0.5 lies at
# least 1 / 255000 from an integer; float Y is within 1e-12 of exact, and the 1e-9 nudge sends ties upwards
# (half away from zero, as MATLAB rounds). Checked against the exact integer formula on all 2^24 colours.
ROUND_OFFSET = 0.5 + 1e-9
_U2_OFFSET = 2.0 * (SSIM_C1 + SSIM_C2)

_STRIP_ROWS = 64  # output rows per strip: a strip's buffers stay within a core's L2 cache
_ROW_BLOCK = 8  # rows per banded product in the vertical pass
_COL_BLOCK = 16  # columns per banded product in the horizontal pass


@dataclass(frozen=True)
class MetricSums:
    """Sums over one image pair; the metrics are these divided by the counts."""

    sse_rgb: float  # over all pixels and channels, exact (integer squared errors)
    sse_y: float  # float Y, over all pixels
    sse_y_rounded: float | None  # MATLAB-rounded Y; None unless asked for
    ssim_sum: float  # SSIM map over the window-interior pixels
    pixels: int
    ssim_pixels: int


def gaussian_window() -> np.ndarray:
    """The 1-D SSIM window: scipy.ndimage's normalised Gaussian, sigma 1.5, radius 5."""
    offsets = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1)
    phi = np.exp(-0.5 / (SSIM_SIGMA * SSIM_SIGMA) * offsets**2)
    return phi / phi.sum()


@functools.lru_cache(maxsize=64)
def _band(rows: int) -> np.ndarray:
    """rows x (rows + 10) matrix whose row i holds the window at columns i .. i + 10 (read-only, cached)."""
    band = np.zeros((rows, rows + SSIM_TAPS - 1))
    window = gaussian_window()
    for i in range(rows):
        band[i, i : i + SSIM_TAPS] = window
    band.flags.writeable = False
    return band


def y_into(rgb: np.ndarray, out: np.ndarray, scratch: np.ndarray, coeffs: np.ndarray) -> None:
    """``out = 16 + R c0 + G c1 + B c2`` evaluated left to right (``quality.rgb_to_y`` calls it too)."""
    np.multiply(rgb[..., 0], coeffs[0], out=out)
    out += 16.0
    out += np.multiply(rgb[..., 1], coeffs[1], out=scratch)
    out += np.multiply(rgb[..., 2], coeffs[2], out=scratch)


def metric_sums(a: np.ndarray, b: np.ndarray, *, y_coeffs: np.ndarray, rounded_y: bool) -> MetricSums:
    """All metric sums of two equal-shape uint8 H x W x 3 images (H, W >= 11), in one strip-wise pass."""
    height, width = a.shape[:2]
    out_h, out_w = height - SSIM_TAPS + 1, width - SSIM_TAPS + 1
    if out_h < 1 or out_w < 1:
        raise ValueError(f"SSIM needs at least {SSIM_TAPS} x {SSIM_TAPS} pixels after cropping, got {width} x {height}")
    halo = SSIM_TAPS - 1
    col_blocks = -(-out_w // _COL_BLOCK)
    padded_w = col_blocks * _COL_BLOCK + halo  # padding columns only feed outputs that are not summed
    strip = min(_STRIP_ROWS, out_h)

    # Moment maps u, v, u^2 + 2 (C1 + C2), v^2 (constants folded in before filtering: the window sums to one).
    maps = np.zeros((4, strip + halo, padded_w))
    maps[2, :, width:] = _U2_OFFSET  # keeps the (ignored) padded outputs finite
    ya, yb, scratch = (np.empty((strip + halo, width)) for _ in range(3))
    rgb_a, rgb_b = np.empty((strip + halo, width, 3)), np.empty((strip + halo, width, 3))
    work = _StripBuffers(strip, col_blocks, padded_w)
    sse_rgb = sse_y = sse_rounded = ssim_sum = 0.0

    row = 0  # next input row to convert
    for top in range(0, out_h, strip):
        rows_out = min(strip, out_h - top)
        if top:  # carry the previous strip's last 10 input rows over as this strip's halo
            maps[:, :halo] = maps[:, strip : strip + halo]
        first = halo if top else 0
        new = rows_out + halo - first
        sl = slice(row, row + new)
        sse_rgb, sse_y, sse_rounded = _convert_rows(
            a[sl], b[sl], maps[:, first : first + new, :width], rgb_a[:new], rgb_b[:new], ya[:new], yb[:new],
            scratch[:new], y_coeffs, rounded_y, (sse_rgb, sse_y, sse_rounded),
        )
        row += new
        if rows_out != strip:  # the last, shorter strip gets buffers of its own size
            work = _StripBuffers(rows_out, col_blocks, padded_w)
        ssim_sum += _ssim_strip(maps[:, : rows_out + halo], rows_out, out_w, work)
    return MetricSums(
        sse_rgb=sse_rgb,
        sse_y=sse_y,
        sse_y_rounded=sse_rounded if rounded_y else None,
        ssim_sum=ssim_sum,
        pixels=height * width,
        ssim_pixels=out_h * out_w,
    )


def _convert_rows(a, b, maps, rgb_a, rgb_b, ya, yb, scratch, y_coeffs, rounded_y, sums):
    sse_rgb, sse_y, sse_rounded = sums
    np.copyto(rgb_a, a)  # one contiguous uint8 -> float64 pass; every later read is float64
    np.copyto(rgb_b, b)
    y_into(rgb_a, ya, scratch, y_coeffs)
    y_into(rgb_b, yb, scratch, y_coeffs)
    # Squared 8-bit differences are integers: their float64 sum is exact in any order. (Not np.dot: a large
    # BLAS dot goes multi-threaded and stalls on a busy machine.)
    diff = np.subtract(rgb_a, rgb_b, out=rgb_a)
    sse_rgb += float(np.multiply(diff, diff, out=diff).sum())
    u, v, u2, v2 = maps
    np.add(ya, yb, out=u)
    np.subtract(ya, yb, out=v)
    np.multiply(u, u, out=u2)
    u2 += _U2_OFFSET
    np.multiply(v, v, out=v2)
    sse_y += float(v2.sum())
    if rounded_y:
        for y in (ya, yb):
            y += ROUND_OFFSET
            np.floor(y, out=y)
        diff = np.subtract(ya, yb, out=ya)
        sse_rounded += float(np.multiply(diff, diff, out=diff).sum())
    return sse_rgb, sse_y, sse_rounded


class _StripBuffers:
    """Work arrays of one strip, reused from strip to strip (fresh large allocations cost page faults)."""

    def __init__(self, rows_out: int, col_blocks: int, padded_w: int):
        self.filtered = np.empty((4, rows_out, padded_w))
        self.moments = np.empty((col_blocks, 4 * rows_out, _COL_BLOCK))
        self.scratch = np.empty((col_blocks, rows_out, _COL_BLOCK))


def _ssim_strip(maps: np.ndarray, rows_out: int, out_w: int, work: _StripBuffers) -> float:
    """Sum of the SSIM map over one strip's output rows (maps: 4 x (rows_out + 10) x padded_w)."""
    filtered = work.filtered
    col_blocks, padded_w = work.moments.shape[0], filtered.shape[2]
    # Vertical pass, per map: blocks of _ROW_BLOCK output rows, each a banded product with its 18 input rows.
    full, rest = divmod(rows_out, _ROW_BLOCK)
    for m in range(4):
        src = maps[m]
        if full:
            blocks = as_strided(src, (full, _ROW_BLOCK + SSIM_TAPS - 1, padded_w),
                                (_ROW_BLOCK * src.strides[0], src.strides[0], src.strides[1]), writeable=False)
            np.matmul(_band(_ROW_BLOCK), blocks, out=filtered[m, : full * _ROW_BLOCK].reshape(full, _ROW_BLOCK, -1))
        if rest:
            np.matmul(_band(rest), src[full * _ROW_BLOCK : rows_out + SSIM_TAPS - 1], out=filtered[m, full * _ROW_BLOCK :])
    # Horizontal pass, all maps at once: blocks of _COL_BLOCK output columns.
    rows = filtered.reshape(4 * rows_out, padded_w)
    blocks = as_strided(rows, (col_blocks, 4 * rows_out, _COL_BLOCK + SSIM_TAPS - 1),
                        (_COL_BLOCK * rows.strides[1], rows.strides[0], rows.strides[1]), writeable=False)
    np.matmul(blocks, _band(_COL_BLOCK).T, out=work.moments)
    moments = work.moments.reshape(col_blocks, 4, rows_out, _COL_BLOCK)
    mean_u, mean_v, mean_u2, mean_v2 = (moments[:, m] for m in range(4))

    # With A = U^2 + 2 C1 and B = V^2: SSIM = (A - B) (P - Q - (A - B)) / ((A + B) (P + Q - (A + B))), where P
    # carries 2 (C1 + C2): numerator 4 (2 mu_x mu_y + C1) (2 cov_xy + C2), denominator the same factor of 4.
    lum_a = np.multiply(mean_u, mean_u, out=mean_u)
    lum_a += 2.0 * SSIM_C1
    lum_b = np.multiply(mean_v, mean_v, out=mean_v)
    num_lum = np.subtract(lum_a, lum_b, out=work.scratch)
    den_lum = np.add(lum_a, lum_b, out=lum_a)
    num_cs = np.subtract(mean_u2, mean_v2, out=lum_b)
    num_cs -= num_lum
    den_cs = np.add(mean_u2, mean_v2, out=mean_u2)
    den_cs -= den_lum
    num_lum *= num_cs
    den_lum *= den_cs
    ssim = np.divide(num_lum, den_lum, out=num_lum)
    last_cols = out_w - (col_blocks - 1) * _COL_BLOCK  # valid columns of the last block
    return float(ssim[:-1].sum()) + float(ssim[-1, :, :last_cols].sum())
