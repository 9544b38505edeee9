"""NTIRE 2024 Efficient-SR ranking: per-set averages, the PSNR gate and the exponential score.

Score (lower is better), each term relative to the RLFN baseline, which scores e^2 on every term:
``exp(2 * value / baseline)``; final = 0.7 runtime + 0.15 FLOPs + 0.15 params. The official runtime is the
mean of all per-image times of a set, first (cold) image included, then (valid + test) / 2, averaged over
5 process-level runs on one RTX 3090.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "NTIRE2024_BASELINE",
    "PSNR_GATE_TEST_DB",
    "PSNR_GATE_VALID_DB",
    "WEIGHTS",
    "ScoreBaseline",
    "ntire2024_score",
    "passes_psnr_gate",
    "set_averages",
]


@dataclass(frozen=True)
class ScoreBaseline:
    runtime_ms: float
    flops_g: float
    params_m: float


# RLFN_ntire on an RTX 3090: 13.54 ms = (16.18 valid + 10.89 test) / 2 over 5 runs; 19.67 G fvcore; 0.317 M.
NTIRE2024_BASELINE = ScoreBaseline(runtime_ms=13.54, flops_g=19.67, params_m=0.317)
WEIGHTS = {"runtime": 0.7, "flops": 0.15, "params": 0.15}
PSNR_GATE_VALID_DB = 26.90  # DIV2K_LSDIR_valid, RGB PSNR
PSNR_GATE_TEST_DB = 26.99  # DIV2K_LSDIR_test, RGB PSNR


def ntire2024_score(
    runtime_ms: float, flops_g: float, params_m: float, *, baseline: ScoreBaseline = NTIRE2024_BASELINE
) -> dict[str, float]:
    """The three score terms and the weighted final score (lower is better)."""
    for label, value in (("runtime_ms", runtime_ms), ("flops_g", flops_g), ("params_m", params_m)):
        if not value >= 0 or math.isinf(value):
            raise ValueError(f"{label} must be a finite value >= 0, got {value}")
    terms = {
        "score_runtime": math.exp(2.0 * runtime_ms / baseline.runtime_ms),
        "score_flops": math.exp(2.0 * flops_g / baseline.flops_g),
        "score_params": math.exp(2.0 * params_m / baseline.params_m),
    }
    terms["score_final"] = (
        WEIGHTS["runtime"] * terms["score_runtime"]
        + WEIGHTS["flops"] * terms["score_flops"]
        + WEIGHTS["params"] * terms["score_params"]
    )
    return terms


def passes_psnr_gate(valid_psnr_rgb: float, test_psnr_rgb: float | None = None) -> bool:
    """The 2024 PSNR gate (RGB PSNR); the test-set half applies only when a test value is given."""
    if valid_psnr_rgb < PSNR_GATE_VALID_DB:
        return False
    return test_psnr_rgb is None or test_psnr_rgb >= PSNR_GATE_TEST_DB


def set_averages(psnr_db: Sequence[float], runtime_ms: Sequence[float]) -> dict[str, float]:
    """Per-set figures as the official script computes them, plus the warm view without the first image.

    ``ave_psnr`` and ``ave_runtime_ms`` are ``sum / len`` over all images in order, as the official script sums
    (bit-identical to its results.json; ``math.fsum`` differs in the last digit); ``ave_runtime_ms_warm``
    drops the first image, which carries the CUDA/cuDNN cold start; ``median_runtime_ms`` is over all images.
    """
    if not psnr_db or len(psnr_db) != len(runtime_ms):
        raise ValueError(f"need one runtime per PSNR value, got {len(psnr_db)} PSNRs and {len(runtime_ms)} runtimes")
    ordered = sorted(runtime_ms)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0
    return {
        "ave_psnr": sum(psnr_db) / len(psnr_db),
        "ave_runtime_ms": sum(runtime_ms) / len(runtime_ms),
        "ave_runtime_ms_warm": sum(runtime_ms[1:]) / (len(runtime_ms) - 1) if len(runtime_ms) > 1 else math.nan,
        "median_runtime_ms": median,
    }
