"""Regression check of a run against a baseline record: accuracy with tolerances, speed noise-aware.

Accuracy: PSNR may drift at most 0.005 dB and SSIM 0.0005; complexity counts must match exactly.
Speed: absolute times differ between runs on shared machines, so each model's time is a ratio to a reference
architecture timed in the same run, interleaved. A slowdown is a regression only when the ratio grew by more
than the threshold AND the baseline ratio lies outside the run's own confidence interval. Absolute medians are
compared (informational unless asked) only when the environment fingerprints match.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from . import metrics
from .env import timing_mismatch
from .records import result_key

GATED_QUALITY = tuple(m for m in metrics.of_kind("quality") if m.tolerance is not None)
DEFAULT_SPEED_THRESHOLD = 0.10  # 10 %: above the within-run noise of interleaved CPU timing, below a real 20 % slowdown

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


def speed_verdict(base: dict, cur: dict, threshold: float) -> str:
    """regressed / improved / ok for two speed entries (ratio, low, high), using both sides' uncertainty.

    A slowdown is a regression only when the ratio grew by more than ``threshold`` and the two 95% intervals
    do not overlap (the run's lower bound above the baseline's upper bound), as asv and pyperf judge it.
    """
    change = cur["ratio"] / base["ratio"] - 1.0
    base_low, base_high = base.get("low", base["ratio"]), base.get("high", base["ratio"])
    if change > threshold and cur["low"] > base_high:
        return "regressed"
    if change < -threshold and cur["high"] < base_low:
        return "improved"
    return "ok"


def _speed(key, cur: dict, base: dict, threshold: float) -> list[Delta]:
    bs, cs = base.get("speed"), cur.get("speed")
    if not bs or not cs:
        return []
    if bs["reference"] != cs["reference"] or bs.get("input_hw") != cs.get("input_hw"):
        return [Delta(*key, "time_ratio", bs["ratio"], cs["ratio"], "not_comparable",
                      "different speed reference or timing input size")]
    change = cs["ratio"] / bs["ratio"] - 1.0
    ci = f"run CI [{cs['low']:.3f}, {cs['high']:.3f}], baseline CI [{bs.get('low', bs['ratio']):.3f}, " \
         f"{bs.get('high', bs['ratio']):.3f}]"
    return [Delta(*key, "time_ratio", bs["ratio"], cs["ratio"], speed_verdict(bs, cs, threshold),
                  f"{change:+.1%} vs threshold {threshold:.0%}, {ci}; time / {cs['reference']} time, same run")]


def too_noisy(self_speed: dict, threshold: float) -> bool:
    """The reference timed against its own copy should give 1: its 95% interval excludes 1 and the ratio is off
    by more than a quarter of the threshold (an offset that could decide a verdict)."""
    off = not self_speed["low"] <= 1.0 <= self_speed["high"]
    return off and abs(self_speed["ratio"] - 1.0) > threshold / 4


def self_check(run: dict, threshold: float = DEFAULT_SPEED_THRESHOLD) -> dict[str, str]:
    """Datasets whose timing is inconclusive: the machine's noise would decide there, not the code."""
    reference = (run.get("speed_reference") or {}).get("model")
    bad = {}
    for row in run["results"]:
        sp = row.get("speed")
        if row.get("arch") == reference and sp and sp.get("n_pairs", 0) > 1 and too_noisy(sp, threshold):
            bad[row["dataset"]] = (f"{reference} timed against its own copy gave {sp['ratio']:.3f} "
                                   f"[{sp['low']:.3f}, {sp['high']:.3f}], off 1 by more than a quarter of "
                                   "the threshold")
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
    noisy = self_check(run, speed_threshold)
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
