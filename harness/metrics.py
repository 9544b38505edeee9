"""The one registry of measurements: what each metric is, how it is checked, shown and compared.

Used by the runner (which row fields are metrics), records (validation), compare (tolerances), the report
(columns, labels, formats) and the published-vs-measured verdicts. Adding a quality metric is one entry here
plus its computation in ``protocols.quality.image_metrics``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
    extra: bool = False  # asked for by name (--metric, protocol.extra_metrics; protocols.quality.OPTIONAL_METRICS)

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
        return math.isfinite(value) or self.may_be_infinite


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("psnr_y", "PSNR-Y", "dB", "quality", tolerance=0.005, may_be_infinite=True),
    Metric("psnr_rgb", "PSNR-RGB", "dB", "quality", tolerance=0.005, may_be_infinite=True),
    Metric("ssim_y", "SSIM-Y", "", "quality", tolerance=0.0005),
    Metric("ssim_rgb", "SSIM-RGB", "", "quality", tolerance=0.0005, optional=True, extra=True),  # NTIRE's --ssim
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


QUALITY = tuple(m.name for m in of_kind("quality"))
REQUIRED_QUALITY = tuple(m.name for m in of_kind("quality") if not m.optional)
COMPLEXITY = tuple(m.name for m in of_kind("complexity"))
EXTRA = tuple(m.name for m in METRICS.values() if m.extra)


def get(name: str) -> Metric:
    try:
        return METRICS[name]
    except KeyError:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def label(name: str) -> str:
    return METRICS[name].label if name in METRICS else name
