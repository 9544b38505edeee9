"""One cache-friendly pass over an image pair that yields every sum the quality metrics need.

The pair is walked in strips of rows, so each strip's intermediates stay in the CPU cache. Per strip: the
RGB difference, the model output's Y as HR Y plus the Y row applied to that difference, the squared-error sums
for PSNR-RGB, PSNR-Y and PSNR on MATLAB-rounded Y, and the SSIM map summed over the pixels whose 11 x 11 window
lies inside the image (scikit-image's ``structural_similarity`` with ``gaussian_weights=True, sigma=1.5,
use_sample_covariance=False`` averages exactly those, so its border mode never matters).

SSIM needs the Gaussian means of x (model output Y), y (HR Y), x^2, y^2 and xy. Everything that depends on
the HR image alone (its Y, rounded Y, y^2 + C1 + C2, mu_y, mu_y^2 + C1) is computed once by
``prepare_reference`` and reused for every model scored against that image; per model only x, x^2 + y^2 + C1 + C2
and xy + C2 / 2 are filtered (constants folded in before filtering: the window sums to one). Everything
stays float64. The separable filter is done as small banded matrix products (BLAS via numpy), blocks of rows
first, then of columns. (Not torch: its multi-threaded small products stall badly on a busy machine.)
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


@dataclass(frozen=True, eq=False)
class Reference:
    """What the metrics need from one HR image alone, computed once by ``prepare_reference`` for all models."""

    hr: np.ndarray  # the uint8 H x W x 3 image itself (a private copy)
    y: np.ndarray  # float Y, H x W
    y_rounded: np.ndarray  # MATLAB-rounded Y as uint8 (16..235)
    y2_c: np.ndarray  # y^2 + C1 + C2, H x W (added to the model's x^2 before filtering)
    strips: tuple  # per strip of output rows: mu_y and mu_y^2 + C1 in the filter's block layout

    @property
    def nbytes(self) -> int:
        arrays = (self.hr, self.y, self.y_rounded, self.y2_c, *(a for s in self.strips for a in s))
        return sum(a.nbytes for a in arrays)


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


def y_into(rgb: np.ndarray, out: np.ndarray, coeffs: np.ndarray) -> None:
    """``out = R c0 + G c1 + B c2 + 16`` for a float64 ... x 3 array (``quality.rgb_to_y`` calls it too).

    One small matrix-vector product per image row: three times faster than three strided channel passes, and
    each product is far below the size at which BLAS would start threads.
    """
    np.matmul(rgb, coeffs, out=out)
    out += 16.0


class _Geometry:
    """Output size, column blocking and strip partition of an H x W pair (H, W >= 11)."""

    def __init__(self, height: int, width: int):
        self.height, self.width = height, width
        self.out_h, self.out_w = height - SSIM_TAPS + 1, width - SSIM_TAPS + 1
        if self.out_h < 1 or self.out_w < 1:
            raise ValueError(f"SSIM needs at least {SSIM_TAPS} x {SSIM_TAPS} pixels after cropping, got {width} x {height}")
        self.col_blocks = -(-self.out_w // _COL_BLOCK)
        self.padded_w = self.col_blocks * _COL_BLOCK + SSIM_TAPS - 1  # padding only feeds outputs never summed
        self.strip = min(_STRIP_ROWS, self.out_h)
        self.tops = range(0, self.out_h, self.strip)


def prepare_reference(b: np.ndarray, *, y_coeffs: np.ndarray) -> Reference:
    """The HR side of ``metric_sums`` for a uint8 H x W x 3 image (H, W >= 11)."""
    geo = _Geometry(*b.shape[:2])
    padded = np.zeros((1, geo.height, geo.padded_w))  # Y with the filter's zero padding columns
    y = padded[0, :, : geo.width]
    y_rounded, y2_c = np.empty(y.shape, np.uint8), np.empty(y.shape)
    rgb, scratch = np.empty((_STRIP_ROWS, geo.width, 3)), np.empty((_STRIP_ROWS, geo.width))
    for top in range(0, geo.height, _STRIP_ROWS):  # in strips of rows, which stay in the CPU cache
        rows = slice(top, min(top + _STRIP_ROWS, geo.height))
        n = rows.stop - top
        np.copyto(rgb[:n], b[rows])
        y_into(rgb[:n], y[rows], y_coeffs)
        np.floor(np.add(y[rows], ROUND_OFFSET, out=scratch[:n]), out=scratch[:n])
        np.copyto(y_rounded[rows], scratch[:n], casting="unsafe")  # whole numbers in 16..235
        np.multiply(y[rows], y[rows], out=y2_c[rows])
        y2_c[rows] += SSIM_C1 + SSIM_C2
    strips, work = [], _StripBuffers(geo.strip, geo.col_blocks, geo.padded_w, 1)
    for top in geo.tops:
        rows_out = min(geo.strip, geo.out_h - top)
        if rows_out != geo.strip:
            work = _StripBuffers(rows_out, geo.col_blocks, geo.padded_w, 1)
        (mean_y,) = _filtered(padded[:, top : top + rows_out + SSIM_TAPS - 1], rows_out, work)
        lum = np.multiply(mean_y, mean_y)
        lum += SSIM_C1
        strips.append((mean_y.copy(), lum))  # a copy: mean_y is a view of the reused work buffers
    return Reference(hr=b.copy(), y=y, y_rounded=y_rounded, y2_c=y2_c, strips=tuple(strips))


def metric_sums(a: np.ndarray, b: np.ndarray, *, y_coeffs: np.ndarray, rounded_y: bool,
                reference: Reference | None = None) -> MetricSums:
    """All metric sums of two equal-shape uint8 H x W x 3 images (H, W >= 11), in one strip-wise pass.

    ``reference`` is ``prepare_reference(b)`` when the caller has it (it must be of this very ``b``).
    """
    geo = _Geometry(*a.shape[:2])
    ref = reference if reference is not None else prepare_reference(b, y_coeffs=y_coeffs)
    halo, strip, width = SSIM_TAPS - 1, geo.strip, geo.width
    # Moment maps x, x^2 + y^2 + C1 + C2, xy + C2 / 2 (constants folded in before filtering: the window sums
    # to one; the padding columns of the second keep the ignored padded outputs' denominators non-zero).
    maps = np.zeros((3, strip + halo, geo.padded_w))
    maps[1, :, width:] = SSIM_C1 + SSIM_C2
    diff16, rgb_diff = np.empty((strip + halo, width, 3), np.int16), np.empty((strip + halo, width, 3))
    scratch = np.empty((strip + halo, width))
    work = _StripBuffers(strip, geo.col_blocks, geo.padded_w, 3)
    sums = (0.0, 0.0, 0.0)
    ssim_sum = 0.0
    row = 0  # next input row to convert
    for top, hr_strip in zip(geo.tops, ref.strips):
        rows_out = min(strip, geo.out_h - top)
        if top:  # carry the previous strip's last 10 input rows over as this strip's halo
            maps[:, :halo] = maps[:, strip : strip + halo]
        first = halo if top else 0
        new = rows_out + halo - first
        sums = _convert_rows(a, ref, slice(row, row + new), maps[:, first : first + new, :width], diff16[:new],
                             rgb_diff[:new], scratch[:new], y_coeffs, rounded_y, sums)
        row += new
        if rows_out != strip:  # the last, shorter strip gets buffers of its own size
            work = _StripBuffers(rows_out, geo.col_blocks, geo.padded_w, 3)
        ssim_sum += _ssim_strip(maps[:, : rows_out + halo], rows_out, geo.out_w, work, hr_strip)
    sse_rgb, sse_y, sse_rounded = sums
    return MetricSums(
        sse_rgb=sse_rgb,
        sse_y=sse_y,
        sse_y_rounded=sse_rounded if rounded_y else None,
        ssim_sum=ssim_sum,
        pixels=geo.height * width,
        ssim_pixels=geo.out_h * geo.out_w,
    )


def _convert_rows(a, ref, rows, maps, diff16, rgb_diff, scratch, y_coeffs, rounded_y, sums):
    sse_rgb, sse_y, sse_rounded = sums
    # Everything per model starts from the RGB difference to the HR image (int16, then float64: exact).
    np.copyto(diff16, a[rows])
    diff16 -= ref.hr[rows]
    np.copyto(rgb_diff, diff16)
    # Squared 8-bit differences are integers: their float64 sum is exact in any order. (einsum: numpy's own
    # summed products, twice as fast as square-then-sum, and never a multi-threaded BLAS call.)
    sse_rgb += float(np.einsum("ijk,ijk->", rgb_diff, rgb_diff))
    # Y is linear: Y(sr) - Y(hr) = the Y row applied to the RGB difference (within 1e-13 of Y(sr) - Y(hr)
    # computed apart, and closer to the exact value, having no offset of 16 to cancel).
    diff = np.matmul(rgb_diff, y_coeffs, out=scratch)
    sse_y += float(np.einsum("ij,ij->", diff, diff))
    x, xx, xy = maps
    y = ref.y[rows]
    np.add(y, diff, out=x)
    np.multiply(x, x, out=xx)
    xx += ref.y2_c[rows]
    np.multiply(x, y, out=xy)
    xy += 0.5 * SSIM_C2
    if rounded_y:
        diff = np.add(x, ROUND_OFFSET, out=scratch)
        np.floor(diff, out=diff)
        diff -= ref.y_rounded[rows]
        sse_rounded += float(np.einsum("ij,ij->", diff, diff))
    return sse_rgb, sse_y, sse_rounded


class _StripBuffers:
    """Work arrays of one strip, reused from strip to strip (fresh large allocations cost page faults)."""

    def __init__(self, rows_out: int, col_blocks: int, padded_w: int, n_maps: int):
        self.filtered = np.empty((n_maps, rows_out, padded_w))
        self.moments = np.empty((col_blocks, n_maps * rows_out, _COL_BLOCK))
        self.scratch = np.empty((col_blocks, rows_out, _COL_BLOCK))


def _filtered(maps: np.ndarray, rows_out: int, work: _StripBuffers) -> list[np.ndarray]:
    """Gaussian means of each map (n x (rows_out + 10) x padded_w), each as col_blocks x rows_out x _COL_BLOCK."""
    filtered = work.filtered
    n_maps, padded_w = filtered.shape[0], filtered.shape[2]
    # Vertical pass, per map: blocks of _ROW_BLOCK output rows, each a banded product with its 18 input rows.
    full, rest = divmod(rows_out, _ROW_BLOCK)
    for m in range(n_maps):
        src = maps[m]
        if full:
            blocks = as_strided(src, (full, _ROW_BLOCK + SSIM_TAPS - 1, padded_w),
                                (_ROW_BLOCK * src.strides[0], src.strides[0], src.strides[1]), writeable=False)
            np.matmul(_band(_ROW_BLOCK), blocks, out=filtered[m, : full * _ROW_BLOCK].reshape(full, _ROW_BLOCK, -1))
        if rest:
            np.matmul(_band(rest), src[full * _ROW_BLOCK : rows_out + SSIM_TAPS - 1], out=filtered[m, full * _ROW_BLOCK :])
    # Horizontal pass, all maps at once: blocks of _COL_BLOCK output columns.
    rows = filtered.reshape(n_maps * rows_out, padded_w)
    col_blocks = work.moments.shape[0]
    blocks = as_strided(rows, (col_blocks, n_maps * rows_out, _COL_BLOCK + SSIM_TAPS - 1),
                        (_COL_BLOCK * rows.strides[1], rows.strides[0], rows.strides[1]), writeable=False)
    np.matmul(blocks, _band(_COL_BLOCK).T, out=work.moments)
    moments = work.moments.reshape(col_blocks, n_maps, rows_out, _COL_BLOCK)
    return [moments[:, m] for m in range(n_maps)]


def _ssim_strip(maps: np.ndarray, rows_out: int, out_w: int, work: _StripBuffers, hr_strip: tuple) -> float:
    """Sum of the SSIM map over one strip's output rows (maps as ``metric_sums`` fills them)."""
    mean_x, mean_sq, mean_xy = _filtered(maps, rows_out, work)
    mean_y, lum_y = hr_strip
    # SSIM = 4 (mu_x mu_y + C1/2) (E[xy] + C2/2 - mu_x mu_y) / (L (E[x^2 + y^2] + C1 + C2 - L)), where
    # L = mu_x^2 + mu_y^2 + C1: the second denominator factor is var_x + var_y + C2.
    cross = np.multiply(mean_x, mean_y, out=work.scratch)
    num_cs = np.subtract(mean_xy, cross, out=mean_xy)
    cross += 0.5 * SSIM_C1
    cross *= num_cs
    lum = np.multiply(mean_x, mean_x, out=mean_x)
    lum += lum_y
    den_cs = np.subtract(mean_sq, lum, out=mean_sq)
    lum *= den_cs
    ssim = np.divide(cross, lum, out=cross)
    last_cols = out_w - (work.scratch.shape[0] - 1) * _COL_BLOCK  # valid columns of the last block
    return 4.0 * (float(ssim[:-1].sum()) + float(ssim[-1, :, :last_cols].sum()))
