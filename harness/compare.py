"""Regression check of a run against a baseline record: accuracy with tolerances, speed noise-aware.

Accuracy: PSNR may drift at most 0.005 dB and SSIM 0.0005; complexity counts must match exactly.
Speed: absolute times differ between runs on shared machines, so each model's time is a ratio to a reference
architecture timed in the same run, interleaved (on one CPU thread: of thread CPU time; ratios taken on different
clocks are not compared). A slowdown is a regression only when the ratio grew by more
than the threshold AND the growth is significant given both sides' uncertainty and a run-to-run offset
(one-sided z-test on the log ratio, 1 % level). Absolute medians are compared (informational unless asked) only when the environment
fingerprints match.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from . import metrics
from .env import timing_mismatch
from .records import result_key, speed_clock, speed_pages

GATED_QUALITY = tuple(m for m in metrics.of_kind("quality") if m.tolerance is not None)
# Smallest slowdown that may fail; its error rates are measured by `calibrate` (results/calibration.json).
DEFAULT_SPEED_THRESHOLD = 0.03
# A run's interval covers its own sampling noise only. Each fresh process also lands the ratio of an unchanged
# model at an offset of its own, specific to each distinct module: SD per process 1.2-3.3 % over four calibrations
# on 4 KiB pages (5.4 % on a noisier day); on huge pages most processes sit within ~2 %, with one now and then far
# off (3.8-4.0 % SD with those). Runs split over k fresh processes (protocol.timing_processes) average it: each
# side's error gets 2.6 % / sqrt(k) on top (a baseline timed with eval --for-baseline: k = 18).
RUN_OFFSET_SD = 0.026
# The reference against its own copy (one module, timed half a rotation away) moved 0.2-0.4 % between runs of 6
# processes (0.4-1.6 % in single-process runs; calibrate: reference_copy).
COPY_OFFSET_SD = 0.01
Z_ONE_SIDED_1PCT = 2.326  # significance of a speed change: a 1 % false-alarm rate from sampling noise alone
Z_TWO_SIDED_1PCT = 2.576  # how far the reference may sit off its own copy before a run is inconclusive

FAILING = ("regressed", "missing", "changed", "failed")
INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Delta:
    model: str
    dataset: str
    metric: str
    baseline: float | None
    current: float | None
    status: str  # ok | improved | regressed | changed | missing | failed | inconclusive | new | not_comparable | info
    note: str = ""

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return self.current - self.baseline

    @property
    def failing(self) -> bool:
        return self.status in FAILING


def _accuracy(key, cur: dict, base: dict) -> list[Delta]:
    """Every gated quality metric present on either side; a metric present on one side only is failing."""
    out = []
    for metric in GATED_QUALITY:
        b, c = base["metrics"].get(metric.name), cur["metrics"].get(metric.name)
        if b is None and c is None:
            if metric.optional:
                continue
            out.append(Delta(*key, metric.name, None, None, "missing", "absent from both run and baseline"))
            continue
        if b is None or c is None:
            out.append(Delta(*key, metric.name, b, c, "missing",
                             f"absent from the {'baseline' if b is None else 'run'}; a metric is never skipped"))
            continue
        tol = metric.tolerance
        if math.isinf(b) or math.isinf(c):
            status = "ok" if b == c else ("improved" if c > b else "regressed")
        else:
            d = c - b
            status = "ok" if abs(d) <= tol + 1e-12 else ("improved" if d > 0 else "regressed")
        out.append(Delta(*key, metric.name, b, c, status, f"tolerance {tol:g}"))
    if cur.get("n_images") != base.get("n_images"):
        out.append(Delta(*key, "n_images", base.get("n_images"), cur.get("n_images"), "changed", "must match exactly"))
    bc, cc = base.get("complexity") or {}, cur.get("complexity") or {}
    for name in metrics.COMPLEXITY:
        if name in bc or name in cc:
            same = bc.get(name) == cc.get(name)
            out.append(Delta(*key, name, bc.get(name), cc.get(name), "ok" if same else "changed", "must match exactly"))
    return out


def log_se(speed: dict) -> float:
    """Standard error of ln(ratio), read off the entry's 95% interval (zero when it has none)."""
    low, high = speed.get("low", speed["ratio"]), speed.get("high", speed["ratio"])
    return (math.log(high) - math.log(low)) / 3.92


def offset_sd(speed: dict) -> float:
    """The run-to-run offset left in an entry's ratio: RUN_OFFSET_SD per fresh process it was timed in, averaged
    over its processes (records before timing processes: one)."""
    return RUN_OFFSET_SD / math.sqrt(speed.get("processes", 1))


def speed_z(base: dict, cur: dict) -> float:
    """The change of ln(ratio) in units of its standard error: both sides' intervals and run-to-run offsets."""
    se = math.hypot(log_se(base), log_se(cur), offset_sd(base), offset_sd(cur))
    step = math.log(cur["ratio"] / base["ratio"])
    return step / se if se > 0 else math.copysign(math.inf, step) if step else 0.0


def speed_verdict(base: dict, cur: dict, threshold: float) -> str:
    """regressed / improved / ok for two speed entries (ratio, low, high).

    A change is called only when it is larger than ``threshold`` and significant: ln(ratio) moved by more than
    2.326 standard errors of the difference (one-sided 1 %), both sides' uncertainty and the run-to-run offset
    combined, as pyperf judges it. Non-overlapping intervals, the rule before, missed most 10 % slowdowns.
    """
    change = cur["ratio"] / base["ratio"] - 1.0
    z = speed_z(base, cur)
    if change > threshold and z > Z_ONE_SIDED_1PCT:
        return "regressed"
    if change < -threshold and z < -Z_ONE_SIDED_1PCT:
        return "improved"
    return "ok"


def _speed(key, cur: dict, base: dict, threshold: float) -> list[Delta]:
    bs, cs = base.get("speed"), cur.get("speed")
    if not bs or not cs:
        return []
    if bs["reference"] != cs["reference"] or bs.get("input_hw") != cs.get("input_hw"):
        return [Delta(*key, "time_ratio", bs["ratio"], cs["ratio"], "not_comparable",
                      "different speed reference or timing input size")]
    if speed_clock(bs) != speed_clock(cs):
        return [Delta(*key, "time_ratio", bs["ratio"], cs["ratio"], "not_comparable",
                      f"ratio taken on the {speed_clock(bs)} clock in the baseline and the "
                      f"{speed_clock(cs)} clock in the run: re-measure the baseline")]
    if speed_pages(bs) != speed_pages(cs):
        return [Delta(*key, "time_ratio", bs["ratio"], cs["ratio"], "not_comparable",
                      f"ratio timed on {speed_pages(bs)} memory pages in the baseline and on {speed_pages(cs)} pages "
                      "in the run: re-measure the baseline")]
    change = cs["ratio"] / bs["ratio"] - 1.0
    ci = f"run CI [{cs['low']:.3f}, {cs['high']:.3f}], baseline CI [{bs.get('low', bs['ratio']):.3f}, " \
         f"{bs.get('high', bs['ratio']):.3f}]"
    return [Delta(*key, "time_ratio", bs["ratio"], cs["ratio"], speed_verdict(bs, cs, threshold),
                  f"{change:+.1%} vs threshold {threshold:.0%}, z {speed_z(bs, cs):+.1f}, {ci}; "
                  f"time / {cs['reference']} time, same run")]



def too_noisy(self_speed: dict) -> bool:
    """The reference timed against its own copy should give 1. Inconclusive when its 95% interval excludes 1 and
    it is off by more than its own run-to-run offset allows for (2.576 x COPY_OFFSET_SD = 2.6 %): the machine
    was noisier than the verdict's noise model."""
    off = not self_speed["low"] <= 1.0 <= self_speed["high"]
    return off and abs(math.log(self_speed["ratio"])) > Z_TWO_SIDED_1PCT * COPY_OFFSET_SD


def self_check(run: dict) -> dict[str, str]:
    """Datasets whose timing is inconclusive: the machine's noise would decide there, not the code."""
    reference = (run.get("speed_reference") or {}).get("model")
    bad = {}
    for row in run["results"]:
        sp = row.get("speed")
        if row.get("arch") == reference and sp and sp.get("n_pairs", 0) > 1 and too_noisy(sp):
            bad[row["dataset"]] = (f"{reference} timed against its own copy gave {sp['ratio']:.3f} "
                                   f"[{sp['low']:.3f}, {sp['high']:.3f}], off 1 by more than the "
                                   f"{Z_TWO_SIDED_1PCT * COPY_OFFSET_SD:.1%} run-to-run offset allowed for")
    return bad


def _absolute(key, cur: dict, base: dict, threshold: float, gate: bool) -> list[Delta]:
    br, cr = base.get("runtime"), cur.get("runtime")
    if not br or not cr or br.get("mode") != cr.get("mode") or br.get("median_ms") is None:
        return []
    change = cr["median_ms"] / br["median_ms"] - 1.0
    low = cr.get("ci_low_ms")
    significant = low is not None and br["median_ms"] < low
    status = "info"
    if change > threshold and significant:
        status = "regressed" if gate else "info"
    return [Delta(*key, "median_ms", br["median_ms"], cr["median_ms"], status,
                  f"{change:+.1%} absolute ({'gated' if gate else 'informational'}; fingerprints match)")]


def compare(run: dict, baseline: dict, *, speed_threshold: float = DEFAULT_SPEED_THRESHOLD,
            absolute_gate: bool = False) -> list[Delta]:
    """Every (model, dataset, metric) of the baseline checked against the run, plus rows new in the run."""
    cur = {result_key(r): r for r in run["results"]}
    base = {result_key(r): r for r in baseline["results"]}
    same_env = not timing_mismatch(run["env"], baseline["env"])
    noisy = self_check(run)
    deltas = []
    for key, b in base.items():
        c = cur.get(key)
        if c is None:
            deltas.append(Delta(*key, "result", None, None, "missing", "in the baseline but not in this run"))
            continue
        if c.get("status", "ok") != "ok":
            deltas.append(Delta(*key, "result", None, None, "failed", c.get("error") or "the model failed"))
            continue
        deltas += _accuracy(key, c, b)
        speed = _speed(key, c, b, speed_threshold)
        if key[1] in noisy:  # the machine's noise would decide this verdict: neither pass nor fail
            speed = [dataclasses.replace(d, status=INCONCLUSIVE, note=f"{noisy[key[1]]}; {d.note}") for d in speed]
        deltas += speed
        if same_env:
            deltas += _absolute(key, c, b, speed_threshold, absolute_gate)
    for key in cur.keys() - base.keys():
        deltas.append(Delta(*key, "result", None, None, "new", "not in the baseline (update it to track this row)"))
    return deltas


def is_inconclusive(deltas: list[Delta]) -> bool:
    return any(d.status == INCONCLUSIVE for d in deltas)


def has_regression(deltas: list[Delta]) -> bool:
    return any(d.failing for d in deltas)


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 1e4 else f"{v:.4g}"
    return str(v)


def format_table(deltas: list[Delta], *, only_moved: bool = True) -> str:
    """Plain-text table of what moved (status not ok), for the terminal and CI logs."""
    rows = [d for d in deltas if not only_moved or d.status not in ("ok", "info")]
    if not rows:
        return "no changes beyond tolerance"
    header = ("status", "model", "dataset", "metric", "baseline", "current", "delta", "note")
    cells = [header] + [(d.status.upper() if d.failing else d.status, d.model, d.dataset, d.metric, _fmt(d.baseline),
                         _fmt(d.current), _fmt(d.delta), d.note) for d in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row[:-1], widths)) + "  " + row[-1] for row in cells]
    return "\n".join(lines)
