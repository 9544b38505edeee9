"""The MATLAB-exact bicubic x1/s as it was before the strided fast path (a gather per tap over the whole image):
the reference the benchmark times against. Kernel weights and indices come from protocols.imresize itself."""

import numpy as np

from sr_harness.protocols.imresize import _contributions, to_uint8_matlab


def _resize_axis(img: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    indices, weights = _contributions(img.shape[axis], out_len, scale)
    moved = np.moveaxis(img, axis, 0)
    out = np.zeros((out_len,) + moved.shape[1:], dtype=np.float64)
    extra = (slice(None),) + (None,) * (moved.ndim - 1)
    for tap in range(indices.shape[1]):
        out += weights[:, tap][extra] * moved[indices[:, tap]]
    return np.moveaxis(out, 0, axis)


def bicubic_downscale(hr_uint8: np.ndarray, scale: int) -> np.ndarray:
    out = np.asarray(hr_uint8, dtype=np.float64)
    for axis in (0, 1):  # equal factors: height first, as MATLAB
        out = _resize_axis(out, axis, out.shape[axis] // scale, 1.0 / scale)
    return to_uint8_matlab(out)
