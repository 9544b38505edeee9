"""HTML report: one self-contained file (inline CSS and SVG, no scripts), jinja2 with autoescape on."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import jinja2
from markupsafe import Markup
from sr_harness.protocols.complexity import FLOPS_LABEL

from sr_harness import metrics
from sr_harness.gate.compare import compare, verdict
from sr_harness.gate.speed_ab import recorded_deltas
from sr_harness.run.env import timing_mismatch
from sr_harness.outputs import Destination
from sr_harness.records.schema import Record
from sr_harness.report.columns import fmt, main_columns, provenance
from sr_harness.report.plots import pareto_svg, pruning_svg
from sr_harness.report.published import verdicts
from sr_harness.report.trained import comparison, learning_curves

TEMPLATES = Path(__file__).with_name("templates")
METRIC_LABELS = {m.name: m.label for m in metrics.METRICS.values()}


def _dataset_view(record: Record, dataset) -> dict:
    rows = [r for r in record.rows if r.dataset == dataset["name"]]
    headline = record.headline
    present = {name for r in rows for name in r.metrics}
    quality = [m for m in metrics.of_kind("quality") if not m.optional or m.name in present]
    timed = [r for r in rows if r.runtime and r.complexity and r.ok]
    plots = []
    if timed:
        ylabel = f"{METRIC_LABELS.get(headline, headline)} (dB)"
        unit = "CPU" if timed[0].runtime.device == "cpu" else "GPU"
        plots.append(Markup(pareto_svg(
            [{"label": r.model, "x": r.runtime.median_ms, "y": r.metrics[headline]} for r in timed],
            xlabel=f"{unit} runtime, median ms ({timed[0].runtime.mode})", ylabel=ylabel,
            title=f"{dataset['name']}: quality vs runtime")))
        plots.append(Markup(pareto_svg(
            [{"label": r.model, "x": r.complexity["flops_g"], "y": r.metrics[headline]} for r in timed],
            xlabel="FLOPs (G), fvcore, multiply-add counted once, 256x256 LR", ylabel=ylabel,
            title=f"{dataset['name']}: quality vs FLOPs")))
        plots.append(Markup(pareto_svg(
            [{"label": r.model, "x": r.complexity["params"] / 1e6, "y": r.metrics[headline]} for r in timed],
            xlabel="parameters (M)", ylabel=ylabel, title=f"{dataset['name']}: quality vs parameters")))
    columns = [c for c in main_columns(rows) if not c.flat]
    return {"info": dataset, "rows": rows, "plots": plots, "quality": quality, "columns": columns}


def widths_label(inner_widths: list[list[int]]) -> str:
    """Run-length form of per-block inner widths: [[28, 28]] * 5 + [[30, 30]] -> "(28, 28)×5 · (30, 30)"."""
    groups: list[list] = []
    for w in inner_widths:
        if groups and groups[-1][0] == w:
            groups[-1][1] += 1
        else:
            groups.append([w, 1])
    return " · ".join(f"({', '.join(map(str, w))})" + (f"×{n}" if n > 1 else "") for w, n in groups)


def _pruning_views(record: Record) -> list[dict]:
    """One entry per model whose training record carries a pruning curve (rows repeat per dataset: first wins)."""
    views, seen = [], set()
    for r in record.rows:
        training = r.training
        if not training or not training.get("pruning") or r.model in seen:
            continue
        seen.add(r.model)
        curves = [{**p, "steps": [{**s, "widths": widths_label(s["inner_widths"])} for s in p["curve"]],
                   "svg": Markup(pruning_svg(p["curve"], title="Pruning: validation PSNR-Y vs params per step",
                                             floor_db=p["floor_db"]))}
                  for p in training["pruning"]]
        views.append({"row": r, "training": training, "curves": curves})
    return views


def build_context(records: list, *, baseline=None, speed_ab: dict | None = None) -> dict:
    """The template's input; records and baseline are Records or record dicts (validated into Records)."""
    records = [Record.of(r) for r in records]
    runs = []
    for record in records:
        runs.append({"record": record, "datasets": [_dataset_view(record, d) for d in record.dataset_info],
                     "pruning": _pruning_views(record), "published": verdicts(record)})
    diff = None
    if baseline is not None:
        baseline = Record.of(baseline, "baseline")
        deltas = compare(records[0], baseline)
        judged = deltas + (recorded_deltas(speed_ab) if speed_ab else [])
        diff = {"baseline": baseline, "deltas": deltas, "verdict": verdict(judged),
                "mismatch": timing_mismatch(records[0].env, baseline.env),
                "moved": [d for d in deltas if d.status not in ("ok", "info")]}
    return {"runs": runs, "diff": diff, "speed_ab": speed_ab, "trained": comparison(records), "curves": learning_curves(records),
            "flops_label": FLOPS_LABEL, "metric_labels": METRIC_LABELS,
            "tolerances": [m for m in metrics.of_kind("quality") if m.tolerance and not m.optional],
            "generated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}


def render(records: list, *, baseline=None, speed_ab: dict | None = None) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    env.filters["provenance"] = provenance
    return env.get_template("report.html.j2").render(**build_context(records, baseline=baseline, speed_ab=speed_ab))


def report_destination(path: str | Path, flag: str = "--report") -> Destination:
    """Checked before any work: absent or an earlier HTML report (replaced); never a record or checkpoint."""
    return Destination(Path(path), "report", flag=flag, replace=True).check()


def write_report(records: list, path: str | Path | Destination, *, baseline=None,
                 speed_ab: dict | None = None) -> Path:
    dest = path if isinstance(path, Destination) else report_destination(path)
    return dest.write_text(render(records, baseline=baseline, speed_ab=speed_ab))
