"""Regression check of a run against a baseline record: what travels between machines.

Accuracy: PSNR may drift at most 0.005 dB and SSIM 0.0005; complexity counts must match exactly, on any machine.
Speed against a baseline is informational: each model's time ratio to the reference architecture, and absolute
medians where the environment fingerprints match, are listed with their change (``--absolute-gate`` gates the
latter on the machine that made the baseline). Speed is judged by the A/B against a base revision (``speed_ab``),
timed on this machine in the same job; a speed entry present on one side only still fails here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from sr_harness import metrics
from sr_harness.run.env import timing_mismatch
from sr_harness.records.schema import Record, Row, Speed
from sr_harness.gate.stats import DEFAULT_SPEED_THRESHOLD, speed_change

# Same machine, the reference's own thread CPU time stayed within ~1.2x between runs, quiet or loaded; two hosts
# that both read "AMD EPYC" timed it 1.87x apart, and the ratios of the same models 9-15 % apart.
OTHER_MACHINE_FACTOR = 1.5

FAILING = ("regressed", "missing", "changed", "failed", "new")  # a row on one side only is never "ok"
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


def _accuracy(cur: Row, base: Row) -> list[Delta]:
    """Every gated quality metric present on either side, judged in its own direction; a metric present on one side
    only is failing."""
    key, out = base.key, []
    for metric in (m for m in metrics.of_kind("quality") if m.tolerance is not None):
        b, c = base.metrics.get(metric.name), cur.metrics.get(metric.name)
        if b is None and c is None:  # an optional metric neither computed (a required one is refused by Record.of)
            continue
        if b is None or c is None:
            out.append(Delta(*key, metric.name, b, c, "missing",
                             f"absent from the {'baseline' if b is None else 'run'}; a metric is never skipped"))
            continue
        direction = "higher" if metric.higher_is_better else "lower"
        out.append(Delta(*key, metric.name, b, c, metric.judge(b, c),
                         f"tolerance {metric.tolerance:g}, {direction} is better"))
    if cur.n_images != base.n_images:
        out.append(Delta(*key, "n_images", base.n_images, cur.n_images, "changed", "must match exactly"))
    bc, cc = base.complexity, cur.complexity
    for name in metrics.complexity_names():
        if name in bc or name in cc:
            same = bc.get(name) == cc.get(name)
            out.append(Delta(*key, name, bc.get(name), cc.get(name), "ok" if same else "changed", "must match exactly"))
    return out


def other_cpu(run_env: Mapping, base_env: Mapping) -> str | None:
    """Why two records' speed ratios cannot be compared: timed on other CPU designs (None: same, or unknown)."""
    a, b = run_env.get("cpu_identity"), base_env.get("cpu_identity")
    if not a or not b or a == b:
        return None
    return f"timed on another CPU ({', '.join(k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k))} differ)"


def other_speed(bs: Speed, cs: Speed) -> str | None:
    """Why two speed entries come from unlike machines though their CPUs read alike: the reference's own time on the
    ratio's clock moved by more than OTHER_MACHINE_FACTOR (None when alike, or an entry does not say)."""
    b, c = bs.reference_clock_ms, cs.reference_clock_ms
    if not b or not c or max(c / b, b / c) <= OTHER_MACHINE_FACTOR:
        return None
    return f"{cs.reference} itself took {c:.1f} ms against {b:.1f} ms in the baseline: another machine"


def _speed(cur: Row, base: Row) -> list[Delta]:
    bs, cs = base.speed, cur.speed
    if not bs and not cs:
        return []
    if not bs or not cs:  # a speed check that silently vanished would pass every slowdown
        side = "run" if not cs else "baseline"
        return [Delta(*base.key, "time_ratio", bs and bs.ratio, cs and cs.ratio, "missing",
                      f"speed entry absent from the {side}; time both, or update the baseline")]
    return [Delta(*base.key, "time_ratio", bs.ratio, cs.ratio, "info", f"informational: {_ratio_note(bs, cs)}")]


def _ratio_note(bs: Speed, cs: Speed) -> str:
    """How the run's time ratio to the reference moved against the baseline's, or why the two do not compare."""
    if bs.reference != cs.reference or bs.input_hw != cs.input_hw:
        return "different speed reference or timing input size"
    if bs.clock != cs.clock:
        return f"ratio taken on the {bs.clock} clock in the baseline and the {cs.clock} clock in the run"
    if bs.pages != cs.pages:
        return f"timed on {bs.pages} memory pages in the baseline and on {cs.pages} pages in the run"
    unlike = other_speed(bs, cs)
    if unlike:
        return f"{unlike}; ratios between models differ between machines"
    change, z, how = speed_change(bs, cs)
    return f"{change:+.1%} against the baseline's ratio ({how}, z {z:+.1f}); time / {cs.reference} time, same run"


def _absolute(cur: Row, base: Row, threshold: float, gate: bool) -> list[Delta]:
    br, cr = base.runtime, cur.runtime
    if not br or not cr or br.mode != cr.mode or br.median_ms is None or cr.median_ms is None:
        return []
    change = cr.median_ms / br.median_ms - 1.0
    significant = cr.ci_low_ms is not None and br.median_ms < cr.ci_low_ms
    status = "regressed" if gate and change > threshold and significant else "info"
    return [Delta(*base.key, "median_ms", br.median_ms, cr.median_ms, status,
                  f"{change:+.1%} absolute ({'gated' if gate else 'informational'}; fingerprints match)")]


def compare(run: Record | dict, baseline: Record | dict, *, speed_threshold: float = DEFAULT_SPEED_THRESHOLD,
            absolute_gate: bool = False) -> list[Delta]:
    """Every (model, dataset, metric) of the baseline checked against the run, plus rows new in the run. Records
    given as dicts are validated first (records.schema.Record.of)."""
    run, baseline = Record.of(run, "run"), Record.of(baseline, "baseline")
    cur, base = run.by_key(), baseline.by_key()
    cpu = other_cpu(run.env, baseline.env)
    same_env = not timing_mismatch(run.env, baseline.env)
    deltas = []
    for key, b in base.items():
        c = cur.get(key)
        if c is None:
            deltas.append(Delta(*key, "result", None, None, "missing", "in the baseline but not in this run"))
            continue
        if not c.ok:
            deltas.append(Delta(*key, "result", None, None, "failed", c.error or "the model failed"))
            continue
        deltas += _accuracy(c, b)
        speed = _speed(c, b)
        if cpu:  # ratios between models differ between CPU designs
            speed = [d if d.failing else dataclasses.replace(d, note=f"informational: {cpu}") for d in speed]
        deltas += speed
        if same_env:
            deltas += _absolute(c, b, speed_threshold, absolute_gate)
    for key in cur.keys() - base.keys():
        deltas.append(Delta(*key, "result", None, None, "new", "in this run but not in the baseline (add it with `baseline update`)"))
    return deltas


def is_inconclusive(deltas: list[Delta]) -> bool:
    return any(d.status == INCONCLUSIVE for d in deltas)


def has_regression(deltas: list[Delta]) -> bool:
    return any(d.failing for d in deltas)


def verdict(deltas: list[Delta]) -> str:
    """The gate's verdict on all its checks, as compare exits and the report says it: regression (exit 1), else
    inconclusive (a flagged slowdown the re-timing could not settle, exit 5), else ok."""
    return "regression" if has_regression(deltas) else INCONCLUSIVE if is_inconclusive(deltas) else "ok"


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
