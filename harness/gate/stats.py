"""The speed gate's statistics: the A/B verdict (head/base time ratios per fresh process, ``ab_verdict``) and
the informational change of a run's time ratio against the baseline's (``speed_change``, shown by ``compare``).
"""

from __future__ import annotations

import math
import statistics

from sr_harness.records.schema import Speed

# Smallest slowdown that may fail; its error rates are measured by `calibrate` (results/calibration.json).
DEFAULT_SPEED_THRESHOLD = 0.03
# The A/B against the base revision: rounds split over fresh processes, both sides timed in each.
DEFAULT_AB_ROUNDS = 36
DEFAULT_AB_PROCESSES = 6
# Each fresh process lands an unchanged model's ratio at an offset of its own (SD about 2.6 % per process,
# results/calibration.json history); a run of k processes averages it to 2.6 % / sqrt(k). Used for the
# informational change of entries without per-process ratios.
RUN_OFFSET_SD = 0.026
Z_ONE_SIDED_1PCT = 2.326  # significance of a speed change: a 1 % false-alarm rate from sampling noise alone
MAD_TO_SD = 1.4826  # median absolute deviation -> standard deviation (normal)
MEDIAN_SE_FACTOR = 1.2533  # standard error of a median / that of a mean (normal, large samples)
# Least per-process SD the process test assumes: six processes agreeing by chance must not make every step
# significant (the least measured: 0.8 %).
MIN_PROCESS_SD = 0.005


def log_se(speed: Speed) -> float:
    """Standard error of ln(ratio), read off the entry's 95% interval (zero when it has none)."""
    low, high = speed.low or speed.ratio, speed.high or speed.ratio
    return (math.log(high) - math.log(low)) / 3.92


def offset_sd(speed: Speed) -> float:
    """The run-to-run offset left in an entry's ratio: RUN_OFFSET_SD per fresh process it was timed in, averaged
    over its processes (records before timing processes: one)."""
    return RUN_OFFSET_SD / math.sqrt(speed.processes)


def speed_z(base: Speed, cur: Speed) -> float:
    """The change of ln(ratio) in units of its standard error: both sides' intervals and run-to-run offsets."""
    se = math.hypot(log_se(base), log_se(cur), offset_sd(base), offset_sd(cur))
    step = math.log(cur.ratio / base.ratio)
    return step / se if se > 0 else math.copysign(math.inf, step) if step else 0.0


def process_ln_ratios(speed: Speed) -> list[float] | None:
    """ln of each fresh process's ratio (``per_process``), or None for an entry timed in one process."""
    ratios = speed.per_process
    return [math.log(r) for r in ratios] if ratios and len(ratios) > 1 else None


def process_step(base: Speed, cur: Speed) -> tuple[float, float]:
    """(step, z) between two entries timed in several fresh processes each. The step is the difference of the
    medians of their processes' ln ratios; its standard error comes from the processes' own spread (1.4826 x the
    median absolute deviation from each side's median, both sides pooled, at least MIN_PROCESS_SD), x 1.2533 for
    medians.

    Medians and the MAD, not means and the SD: now and then one process lands far off (-35 % against -22 %
    typical), and it would decide a mean. The spread is measured on the machine at hand (per-process SD 0.8 % on
    one host, 3.8 % with such outliers on another), not assumed."""
    b, c = process_ln_ratios(base), process_ln_ratios(cur)
    mid_b, mid_c = statistics.median(b), statistics.median(c)
    deviations = [abs(x - mid_b) for x in b] + [abs(x - mid_c) for x in c]
    sigma = max(MAD_TO_SD * statistics.median(deviations), MIN_PROCESS_SD)
    step = mid_c - mid_b
    return step, step / (MEDIAN_SE_FACTOR * sigma * math.sqrt(1 / len(b) + 1 / len(c)))


def speed_change(base: Speed, cur: Speed) -> tuple[float, float, str]:
    """(relative change, z, how it was judged) of ``cur`` against ``base``: by their processes when both were timed
    in several, else by the pooled ratios' intervals and the fixed run-to-run offset (``speed_z``)."""
    if process_ln_ratios(base) and process_ln_ratios(cur):
        step, z = process_step(base, cur)
        return math.exp(step) - 1.0, z, "medians of per-process ratios"
    return cur.ratio / base.ratio - 1.0, speed_z(base, cur), "pooled ratios"


def ab_change(entry: dict) -> tuple[float, float]:
    """(relative change, z) of an A/B entry: head/base time ratios, one per fresh process. The change is the
    median of the processes' ln ratios; its standard error comes from their spread about it (1.4826 x MAD, at
    least MIN_PROCESS_SD) x 1.2533 for a median, over sqrt(processes)."""
    logs = [math.log(r) for r in entry["per_process"]]
    mid = statistics.median(logs)
    sigma = max(MAD_TO_SD * statistics.median(abs(x - mid) for x in logs), MIN_PROCESS_SD)
    return math.exp(mid) - 1.0, mid / (MEDIAN_SE_FACTOR * sigma / math.sqrt(len(logs)))


def ab_verdict(entry: dict, threshold: float) -> str:
    """regressed / improved / ok: the head is slower (faster) than the base by more than ``threshold`` and the
    change is significant, z beyond 2.326 (one-sided 1 %)."""
    change, z = ab_change(entry)
    if change > threshold and z > Z_ONE_SIDED_1PCT:
        return "regressed"
    if change < -threshold and z < -Z_ONE_SIDED_1PCT:
        return "improved"
    return "ok"
