"""Image-quality metrics with the SR conventions: PSNR on Y and on RGB, SSIM on Y.

All metric functions take uint8 H x W x 3 RGB arrays of equal shape (SR already clamped and rounded, see
``to_uint8``; HR already mod-cropped, see ``modcrop``) and cut ``crop`` pixels from every side first.

- Y is ITU-R BT.601 luma as MATLAB ``rgb2ycbcr`` defines it: ``16 + (65.481 R + 128.553 G + 24.966 B) / 255``,
  in [16, 235]; the PSNR peak stays 255. Y is float by default; ``rounded_y=True`` rounds it to an integer the
  way MATLAB does on uint8 input (older MATLAB scripts, about 0.01-0.02 dB lower on Set5).
- PSNR = 10 log10(255^2 / MSE) with a float64 MSE; identical images give ``math.inf`` (no warning).
- SSIM: the standard SR setting of scikit-image's ``structural_similarity`` (Gaussian window sigma 1.5,
  11 x 11, data range 255, population covariance, mean over the window-interior pixels), on float Y, computed
  by ``metric_sums`` in one cache-friendly float64 pass (tests hold it to scikit-image within 1e-12); the HR
  side can be prepared once per image (``prepare_reference``) and reused for every model.
- SSIM-RGB (``extras={"ssim_rgb": ssim_rgb}``): the NTIRE script's ``--ssim``, the mean over R, G and B of the same
  SSIM on each channel (scikit-image's ``structural_similarity`` with the settings above, which the organizers'
  ``utils_image.ssim`` computes with OpenCV: 11 x 11 Gaussian sigma 1.5, valid window interior, border = crop).
- Set values are means of per-image values, never the PSNR of a pooled MSE.
- Greyscale: the data reader replicates a 1-channel image into three equal RGB channels, so its Y is
  ``16 + 219/255 g``, as in RCAN-style scripts (about +1.32 dB against scripts that use raw grey values).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch
from skimage.color.colorconv import ycbcr_from_rgb

from .metric_sums import Reference, metric_sums, y_into
from .metric_sums import prepare_reference as _prepare_cropped

PEAK = 255.0
# BT.601 coefficients scaled by 1000, so MATLAB's rounded Y can be computed in exact integer arithmetic.
_Y_COEFFS_MILLI = np.array([65481, 128553, 24966], dtype=np.int64)
# scikit-image's BT.601 Y row for 0..255 input; applied per channel (3x faster than converting all of YCbCr).
_Y_ROW = ycbcr_from_rgb[0] / 255.0

__all__ = [
    "PEAK",
    "ReferenceCache",
    "image_metrics",
    "mean_metrics",
    "modcrop",
    "prepare_reference",
    "psnr_from_mse",
    "psnr_rgb",
    "psnr_y",
    "rgb_to_y",
    "ssim_rgb",
    "ssim_y",
    "to_uint8",
]


def to_uint8(output: torch.Tensor, *, data_range: float = 255.0) -> np.ndarray:
    """Model output (1 x 3 x H x W or 3 x H x W, values in [0, data_range]) -> uint8 H x W x 3.

    Clamps to [0, data_range], scales to [0, 255] and rounds half to even (as numpy does in the official
    script). Done on the tensor's device so that only uint8 data is copied to the host.
    """
    if output.dim() == 4:
        if output.shape[0] != 1:
            raise ValueError(f"to_uint8 takes one image, got a batch of {output.shape[0]}")
        output = output[0]
    if output.dim() != 3 or output.shape[0] != 3:
        raise ValueError(f"to_uint8 expects 3 x H x W or 1 x 3 x H x W, got shape {tuple(output.shape)}")
    if output.device.type != "cpu":
        img = output.detach().float().clamp(0.0, data_range)  # a new tensor: the in-place steps below are safe
        if data_range != 255.0:
            img.mul_(255.0 / data_range)
        return img.round_().to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()
    # On the CPU the same steps in numpy: single-threaded, so they never wait on a busy machine's torch threads.
    img = np.clip(output.detach().float().numpy(), 0.0, data_range)
    if data_range != 255.0:
        img *= np.float32(255.0 / data_range)
    np.rint(img, out=img)
    return np.ascontiguousarray(img.transpose(1, 2, 0), dtype=np.uint8)


def modcrop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom and right edges so that height and width are multiples of ``scale``."""
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale, ...]


def rgb_to_y(img_uint8: np.ndarray, *, rounded: bool = False) -> np.ndarray:
    """BT.601 Y of a uint8 RGB image as float64 H x W in [16, 235].

    ``rounded=True`` gives MATLAB's uint8 ``rgb2ycbcr`` result (round half away from zero), computed exactly.
    """
    _check_rgb_uint8(img_uint8, "image")
    if rounded:
        # Y * 255000 = 16 * 255000 + sum(coeff_milli * channel); floor((n + half) / d) rounds half up exactly.
        numerator = sum(img_uint8[..., c] * _Y_COEFFS_MILLI[c] for c in range(3)) + (16 * 255000 + 127500)
        return (numerator // 255000).astype(np.float64)
    y = np.empty(img_uint8.shape[:2])
    y_into(img_uint8.astype(np.float64), y, _Y_ROW)  # the arithmetic of prepare_reference's HR Y, bit for bit
    return y


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for peak 255; ``math.inf`` when ``mse`` is zero."""
    if mse < 0:
        raise ValueError(f"MSE must be >= 0, got {mse}")
    return math.inf if mse == 0 else 10.0 * math.log10(PEAK * PEAK / mse)


def psnr_rgb(sr: np.ndarray, hr: np.ndarray, *, crop: int) -> float:
    """PSNR over all three RGB channels (the official NTIRE ranking metric)."""
    a, b = _cropped_pair(sr, hr, crop)
    return psnr_from_mse(_mse_uint8(a, b))


def psnr_y(sr: np.ndarray, hr: np.ndarray, *, crop: int, rounded_y: bool = False) -> float:
    """PSNR on BT.601 Y (float Y unless ``rounded_y``)."""
    a, b = _cropped_pair(sr, hr, crop)
    return _psnr_of(rgb_to_y(a, rounded=rounded_y), rgb_to_y(b, rounded=rounded_y))


def ssim_y(sr: np.ndarray, hr: np.ndarray, *, crop: int) -> float:
    """SSIM on float BT.601 Y (Gaussian sigma 1.5, data range 255)."""
    a, b = _cropped_pair(sr, hr, crop)
    sums = metric_sums(a, b, y_coeffs=_Y_ROW, rounded_y=False)
    return sums.ssim_sum / sums.ssim_pixels


def ssim_rgb(sr: np.ndarray, hr: np.ndarray, *, crop: int) -> float:
    """Mean over the R, G, B channels of SSIM (Gaussian sigma 1.5, data range 255): NTIRE's ``--ssim``."""
    from skimage.metrics import structural_similarity  # noqa: PLC0415

    a, b = _cropped_pair(sr, hr, crop)
    return float(structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=255))


def prepare_reference(hr: np.ndarray, *, crop: int) -> Reference:
    """The HR-only part of ``image_metrics`` (Y, rounded Y, SSIM means and variances), computed once per image
    and passed as ``reference=`` for every model scored against that image."""
    _, b = _cropped_pair(hr, hr, crop)
    return _prepare_cropped(b, y_coeffs=_Y_ROW)


class ReferenceCache:
    """``prepare_reference`` results of one dataset by image key, for scoring several models against it.

    References are kept while their total stays within ``max_bytes`` (about 36 bytes per pixel); images past
    that budget are prepared again on every use, so a large dataset costs time, never unbounded memory.
    """

    def __init__(self, *, crop: int, max_bytes: int = 1 << 30):
        self.crop, self.max_bytes, self.nbytes = crop, max_bytes, 0
        self._kept: dict = {}

    def get(self, key, hr: np.ndarray) -> Reference:
        reference = self._kept.get(key)
        if reference is None:
            reference = prepare_reference(hr, crop=self.crop)
            if self.nbytes + reference.nbytes <= self.max_bytes:
                self._kept[key] = reference
                self.nbytes += reference.nbytes
        return reference


def image_metrics(sr: np.ndarray, hr: np.ndarray, *, crop: int, rounded_y: bool = False,
                  reference: Reference | None = None, extras: Mapping[str, Callable] | None = None
                  ) -> dict[str, float]:
    """All metrics of one image: ``psnr_y`` (float Y), ``psnr_rgb``, ``ssim_y``.

    ``rounded_y=True`` adds ``psnr_y_rounded`` (MATLAB uint8 Y); ``psnr_y`` always stays float Y, so the two
    conventions never share a name. ``reference`` (optional) is ``prepare_reference(hr, crop=crop)``; it gives
    the same values and saves the HR half of the work when several models are scored against one image.
    ``extras`` maps further metric names to their computation ``(sr, hr, *, crop) -> float``.
    """
    a, b = _cropped_pair(sr, hr, crop)
    if reference is not None and not np.array_equal(reference.hr, b):  # a cheap byte compare against misuse
        raise ValueError("reference was prepared from another HR image or crop; use prepare_reference(hr, crop=crop)")
    sums = metric_sums(a, b, y_coeffs=_Y_ROW, rounded_y=rounded_y, reference=reference)
    metrics = {
        "psnr_y": psnr_from_mse(sums.sse_y / sums.pixels),
        "psnr_rgb": psnr_from_mse(sums.sse_rgb / (3 * sums.pixels)),
        "ssim_y": sums.ssim_sum / sums.ssim_pixels,
    }
    if rounded_y:
        metrics["psnr_y_rounded"] = psnr_from_mse(sums.sse_y_rounded / sums.pixels)
    for name, compute in (extras or {}).items():
        metrics[name] = float(compute(sr, hr, crop=crop))
    return metrics


def mean_metrics(per_image: list[dict]) -> dict[str, float]:
    """Mean of every numeric metric over the images (the SR convention).

    A metric that is ``inf`` on any image (an image reproduced exactly) has an ``inf`` mean: the set was
    reproduced perfectly on that image, and no finite stand-in value is invented.
    """
    if not per_image:
        raise ValueError("mean_metrics needs at least one image")
    keys = [k for k, v in per_image[0].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    means = {}
    for key in keys:
        values = [float(row[key]) for row in per_image if key in row]
        if len(values) != len(per_image):
            raise ValueError(f"metric {key!r} is missing on {len(per_image) - len(values)} image(s)")
        if any(math.isnan(v) for v in values):
            means[key] = math.nan
        elif any(math.isinf(v) for v in values):
            means[key] = math.inf if max(values) == math.inf else -math.inf
        else:
            means[key] = sum(values) / len(values)  # in order, as the official script averages
    return means


def _mse_uint8(a: np.ndarray, b: np.ndarray) -> float:
    """MSE of two uint8 arrays; float64 holds every partial sum of squared 8-bit differences exactly."""
    diff = (a.astype(np.float64) - b).ravel()
    return float(np.dot(diff, diff)) / diff.size


def _psnr_of(a: np.ndarray, b: np.ndarray) -> float:
    return psnr_from_mse(float(np.mean(np.square(a - b))))


def _check_rgb_uint8(img: np.ndarray, what: str) -> None:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        shape = getattr(img, "shape", None)
        dtype = getattr(img, "dtype", type(img).__name__)
        raise ValueError(f"{what} must be a uint8 H x W x 3 RGB array, got {dtype} with shape {shape}")


def _cropped_pair(sr: np.ndarray, hr: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    _check_rgb_uint8(sr, "SR image")
    _check_rgb_uint8(hr, "HR image")
    if sr.shape != hr.shape:
        raise ValueError(f"SR shape {sr.shape} differs from HR shape {hr.shape}; mod-crop the HR to the scale")
    h, w = sr.shape[:2]
    if crop < 0 or 2 * crop >= min(h, w):
        raise ValueError(f"crop {crop} must be >= 0 and leave pixels in a {w} x {h} image")
    # Explicit end indices: x[c:-c] would be empty for c = 0.
    return sr[crop : h - crop, crop : w - crop], hr[crop : h - crop, crop : w - crop]
