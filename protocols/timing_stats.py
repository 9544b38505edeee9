"""Bootstrap intervals of timing samples: the median's, and a ratio of two models' medians."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

N_BOOTSTRAP = 2000


def bootstrap_ci(
    samples: Sequence[float], *, level: float = 0.95, seed: int = 0, n_boot: int = N_BOOTSTRAP
) -> tuple[float, float]:
    """Percentile bootstrap CI of the median."""
    values = as_array(samples, "samples")
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, len(values), size=(n_boot, len(values)))], axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(medians, [tail, 100.0 - tail])
    return float(low), float(high)


def ratio_ci(
    samples: Sequence[float],
    reference_samples: Sequence[float],
    *,
    level: float = 0.95,
    seed: int = 0,
    n_boot: int = N_BOOTSTRAP,
) -> tuple[float, float, float]:
    """median(samples) / median(reference_samples) and its percentile bootstrap CI (independent resampling)."""
    a, b = as_array(samples, "samples"), as_array(reference_samples, "reference_samples")
    rng = np.random.default_rng(seed)
    boot_a = np.median(a[rng.integers(0, len(a), size=(n_boot, len(a)))], axis=1)
    boot_b = np.median(b[rng.integers(0, len(b), size=(n_boot, len(b)))], axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(boot_a / boot_b, [tail, 100.0 - tail])
    return float(np.median(a) / np.median(b)), float(low), float(high)


def as_array(samples: Sequence[float], what: str) -> np.ndarray:
    values = np.asarray(samples, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"{what} must be a non-empty 1-D sequence of timings")
    return values
