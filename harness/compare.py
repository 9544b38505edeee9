"""Regression check of a run against a baseline record: accuracy with tolerances, speed noise-aware.

Accuracy: PSNR may drift at most 0.005 dB and SSIM 0.0005; complexity counts must match exactly.
Speed: absolute times differ between runs on shared machines, so each model's time is a ratio to a reference
architecture timed in the same run, interleaved (on one CPU thread: of thread CPU time; ratios taken on different
clocks, pages or CPUs are not compared). A slowdown is a regression only when the ratio grew by more than the
threshold AND the growth is significant (one-sided, 1 % level): for runs timed in several fresh processes, the
processes are the replicates (their ratios' medians and spread, robust to one process landing far off); for a
single-process run, its interval plus a run-to-run offset measured by `calibrate`. Absolute medians are compared
(informational unless asked) only when the environment fingerprints match.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from . import metrics
from .env import timing_mismatch
from .records import result_key, speed_clock, speed_pages
from .speed_stats import (
    COPY_OFFSET_SD,
    DEFAULT_SPEED_THRESHOLD,
    Z_TWO_SIDED_1PCT,
    pooled_processes,
    speed_change,
    speed_verdict,
    too_noisy,
)

GATED_QUALITY = tuple(m for m in metrics.of_kind("quality") if m.tolerance is not None)
# Same machine, the reference's own thread CPU time stayed within ~1.2x between runs, quiet or loaded; two hosts
# that both read "AMD EPYC" timed it 1.87x apart, and the ratios of the same models 9-15 % apart.
OTHER_MACHINE_FACTOR = 1.5

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


def other_cpu(run_env: dict, base_env: dict) -> str | None:
    """Why two records' speed ratios cannot be compared: timed on other CPU designs (None: same, or unknown)."""
    a, b = run_env.get("cpu_identity"), base_env.get("cpu_identity")
    if not a or not b or a == b:
        return None
    return f"timed on another CPU ({', '.join(k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k))} differ)"


def other_speed(bs: dict, cs: dict) -> str | None:
    """Why two speed entries come from unlike machines though their CPUs read alike: the reference's own time on the
    ratio's clock moved by more than OTHER_MACHINE_FACTOR (None when alike, or an entry does not say)."""
    b, c = bs.get("reference_clock_ms"), cs.get("reference_clock_ms")
    if not b or not c or max(c / b, b / c) <= OTHER_MACHINE_FACTOR:
        return None
    return f"{cs['reference']} itself took {c:.1f} ms against {b:.1f} ms in the baseline: another machine"


def _speed(key, cur: dict, base: dict, threshold: float, first: dict | None = None) -> list[Delta]:
    bs, cs = base.get("speed"), cur.get("speed")
    if not bs and not cs:
        return []
    if not bs or not cs:  # a speed check that silently vanished would pass every slowdown
        side = "run" if not cs else "baseline"
        return [Delta(*key, "time_ratio", (bs or {}).get("ratio"), (cs or {}).get("ratio"), "missing",
                      f"speed entry absent from the {side}; time both, or update the baseline")]
    if first and first.get("speed"):
        cs = pooled_processes(first["speed"], cs)
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
    unlike = other_speed(bs, cs)
    if unlike:
        return [Delta(*key, "time_ratio", bs["ratio"], cs["ratio"], "not_comparable",
                      f"{unlike}; ratios between models differ between machines: re-measure the baseline here")]
    change, z, how = speed_change(bs, cs)
    ci = f"run CI [{cs['low']:.3f}, {cs['high']:.3f}], baseline CI [{bs.get('low', bs['ratio']):.3f}, " \
         f"{bs.get('high', bs['ratio']):.3f}]"
    return [Delta(*key, "time_ratio", bs["ratio"], cs["ratio"], speed_verdict(bs, cs, threshold),
                  f"{change:+.1%} vs threshold {threshold:.0%} ({how}), z {z:+.1f}, {ci}; "
                  f"time / {cs['reference']} time, same run")]


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
            absolute_gate: bool = False, first: dict | None = None) -> list[Delta]:
    """Every (model, dataset, metric) of the baseline checked against the run, plus rows new in the run. With
    ``first``, the run re-times that record's suspected speed regression: both runs' processes are judged together."""
    cur = {result_key(r): r for r in run["results"]}
    earlier = {result_key(r): r for r in first["results"]} if first else {}
    cpu = other_cpu(run["env"], baseline["env"])
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
        speed = _speed(key, c, b, speed_threshold, earlier.get(key))
        if cpu:  # ratios between models differ between CPU designs: no verdict either way
            speed = [dataclasses.replace(d, status="not_comparable", note=f"{cpu}: re-measure the baseline here; "
                                                                          f"{d.note}") for d in speed]
        elif key[1] in noisy:  # the machine's noise would decide this verdict: neither pass nor fail
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
