"""The one registry of measurements: what each metric is, how it is computed, checked, shown and compared.

Used by the runner (which metrics to compute), records (validation), compare (direction and tolerance), the report
(columns, labels, formats) and the published-vs-measured verdicts. Every reader looks the registry up when it runs,
so a new metric is one ``Metric`` entry here (with ``compute`` when it is not one of the fused core metrics).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


def _ssim_rgb(sr, hr, *, crop: int) -> float:
    from sr_harness.protocols.quality import ssim_rgb  # noqa: PLC0415  (torch stays out of `list` and `--help`)

    return ssim_rgb(sr, hr, crop=crop)



@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str
    kind: str  # "quality" (row["metrics"]), "complexity" (row["complexity"]) or "speed"
    higher_is_better: bool = True
    tolerance: float | None = 0.0  # regression tolerance (absolute); 0 = must match exactly; None = not gated
    digits: int = 4
    may_be_infinite: bool = False  # +inf is a real value (PSNR of an exact reproduction)
    integer: bool = False
    optional: bool = False  # only present when asked for (e.g. rounded-Y PSNR)
    extra: bool = False  # computed only when a protocol names it in extra_metrics
    compute: Callable | None = None  # (sr, hr, *, crop) -> float for an extra metric; core ones come fused
    bounds: tuple[float, float] = (0.0, math.inf)  # the values it can take (PSNR of 8-bit images is >= 0 dB)

    def judge(self, baseline: float, current: float) -> str:
        """'ok' within tolerance, else 'improved' or 'regressed' in this metric's direction."""
        if baseline == current or (math.isfinite(baseline) and math.isfinite(current)
                                   and abs(current - baseline) <= (self.tolerance or 0.0) + 1e-12):
            return "ok"
        return "improved" if (current > baseline) == self.higher_is_better else "regressed"

    def fmt(self, value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float) and math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if self.integer:
            return f"{int(value):,}"
        return f"{value:.{self.digits}f}"

    def valid(self, value) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.integer and not float(value).is_integer():
            return False
        if math.isnan(value) or value == -math.inf:
            return False
        if not self.bounds[0] <= value <= self.bounds[1]:
            return False
        return math.isfinite(value) or self.may_be_infinite


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("psnr_y", "PSNR-Y", "dB", "quality", tolerance=0.005, may_be_infinite=True),
    Metric("psnr_rgb", "PSNR-RGB", "dB", "quality", tolerance=0.005, may_be_infinite=True),
    Metric("ssim_y", "SSIM-Y", "", "quality", tolerance=0.0005, bounds=(-1.0, 1.0)),
    Metric("ssim_rgb", "SSIM-RGB", "", "quality", tolerance=0.0005, optional=True, extra=True, bounds=(-1.0, 1.0),
           compute=_ssim_rgb),  # NTIRE's --ssim
    Metric("psnr_y_rounded", "PSNR-Y (rounded Y)", "dB", "quality", tolerance=0.005, may_be_infinite=True,
           optional=True),
    Metric("params", "Params", "", "complexity", higher_is_better=False, integer=True),
    Metric("convs", "#Conv", "", "complexity", higher_is_better=False, integer=True),
    Metric("flops_g", "FLOPs", "G", "complexity", higher_is_better=False, digits=3),
    Metric("activations_m", "Activations", "M", "complexity", higher_is_better=False, digits=3),
    Metric("time_ratio", "Time ratio", "x", "speed", higher_is_better=False, tolerance=None, digits=3),
    Metric("median_ms", "Median time", "ms", "speed", higher_is_better=False, tolerance=None, digits=2),
)}


def of_kind(kind: str) -> list[Metric]:
    return [m for m in METRICS.values() if m.kind == kind]


def quality_names() -> tuple[str, ...]:
    return tuple(m.name for m in of_kind("quality"))


def required_quality() -> tuple[str, ...]:
    return tuple(m.name for m in of_kind("quality") if not m.optional)


def complexity_names() -> tuple[str, ...]:
    return tuple(m.name for m in of_kind("complexity"))


def extra_computations(names) -> dict[str, Callable]:
    """name -> computation of the named extra metrics, for ``protocols.quality.image_metrics(extras=...)``."""
    return {name: METRICS[name].compute for name in names}


def extra_names() -> tuple[str, ...]:
    return tuple(m.name for m in METRICS.values() if m.extra)
