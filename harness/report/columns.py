"""The main results table, defined once: each column says how to read a row as a plain value (CSV, Markdown) and
as an HTML cell (the report). A new column is one entry here; a new quality metric is a registry entry and
appears by itself.

``flat`` columns (dataset, architecture) appear only in the CSV and Markdown exports: the report groups its rows
by dataset and shows the architecture inside the model cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

from sr_harness import metrics
from sr_harness.protocols.complexity import FLOPS_LABEL
from sr_harness.records.schema import Record, Row, Runtime


@dataclass(frozen=True)
class Column:
    header: str  # CSV/Markdown header and, unless ``heading`` says otherwise, the report's
    value: Callable[[Row, Record], object]  # (row, record) -> plain value for the exports
    cell: Callable[[Row, Record], str] | None = None  # (row, record) -> report cell (escaped); None: fmt(value)
    heading: Callable[[Record], str] | None = None  # (record) -> the report's header cell (escaped)
    flat: bool = False  # exports only
    numeric: bool = True
    css: Callable[[Row], str] | None = None  # (row) -> extra class of the report cell

    def html_cell(self, row: Row, record: Record) -> Markup:
        return escape(self.cell(row, record) if self.cell else fmt(self.value(row, record)))

    def html_class(self, row: Row) -> str:
        return " ".join(c for c in ("num" if self.numeric else "small", self.css(row) if self.css else "") if c)

    def html_heading(self, record: Record) -> Markup:
        return escape(self.heading(record)) if self.heading else escape(self.header)


def fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "−∞"
        if math.isnan(value):
            return "n/a"
        return f"{value:.{digits}f}"
    return str(value)


def _thousands(value) -> str:
    return "–" if value is None else f"{value:,}"


def _round(value, digits: int):
    return None if value is None else round(float(value), digits)


def device_label(runtime: Runtime | None, env) -> str:
    if not runtime:
        return "–"
    if runtime.device == "cuda":
        return f"GPU ({env.get('gpu_name') or runtime.flags.get('gpu_name') or 'CUDA'})"
    return f"CPU ({runtime.threads if runtime.threads is not None else env.get('threads')} threads)"


def ntire_score(row: Row) -> dict | None:
    """NTIRE 2024 score with the runtime term from this run's time ratio to RLFN_ntire (same run, interleaved)."""
    from sr_harness.protocols.ranking import NTIRE2024_BASELINE, ntire2024_score  # noqa: PLC0415

    comp = row.complexity
    if not row.speed or not comp or row.speed.reference != "rlfn_ntire_x4":
        return None
    return ntire2024_score(row.speed.ratio * NTIRE2024_BASELINE.runtime_ms, comp["flops_g"], comp["params"] / 1e6)


def provenance(checkpoint) -> str:
    """What identifies a row's weights in one short line: a checkpoint's sha256, an --model source file, or an
    NTIRE team's script and weights."""
    if "team" in checkpoint:
        weights = ", ".join(f"{w} ({h[:12]}…)" for w, h in zip(checkpoint.get("weights") or [],
                                                               checkpoint.get("weights_sha256") or []))
        return f"{checkpoint.get('source') or checkpoint.get('class')}; weights {weights or 'none loaded'}"
    if "source" in checkpoint:
        weights = checkpoint.get("weights_sha256")
        return (f"{Path(checkpoint['source']).name}:{checkpoint.get('class')} (source sha256 "
                f"{checkpoint['source_sha256'][:12]}…); weights " + (f"sha256 {weights[:12]}…" if weights else "none"))
    return f"sha256 {checkpoint['sha256'][:12]}…"


def _model_cell(row: Row, record) -> Markup:
    arch = Markup("<br><span class=\"small\">{}</span>").format(row.arch) if row.arch != row.model else ""
    return Markup("<strong>{}</strong>{}").format(row.model, arch)


def _variant_cell(row: Row, record) -> Markup:
    where = Markup("<br>{}").format(provenance(row.checkpoint)) if row.checkpoint else ""
    return Markup("{}{}").format(row.variant, where)


def _runtime_value(row: Row, record):
    return f"{row.runtime.mode}, {row.runtime.device}" if row.runtime else None


def _runtime_cell(row: Row, record: Record) -> str:
    rt = row.runtime
    if not rt:
        return "not timed (numpy reference)"
    precision = f", {rt.precision} (not NTIRE-comparable)" if rt.precision != "fp32" else ""
    return f"{rt.mode}, {device_label(rt, record.env)}{precision}, n={rt.n}"


def _runtime_ms(name: str):
    return lambda row: getattr(row.runtime, name) if row.runtime else None


def _median_cell(row: Row, record) -> str:
    rt = row.runtime
    if rt is None or rt.ci_low_ms is None:
        return fmt(rt.median_ms if rt else None, 2)
    return f"{fmt(rt.median_ms, 2)} [{fmt(rt.ci_low_ms, 2)}, {fmt(rt.ci_high_ms, 2)}]"


def _ratio_cell(row: Row, record) -> str:
    sp = row.speed
    return f"{fmt(sp.ratio, 3)} [{fmt(sp.low, 3)}, {fmt(sp.high, 3)}]" if sp else "–"


def _memory_cell(row: Row, record) -> str:
    cx = row.complexity
    if not cx:
        return "–"
    return fmt(cx.get("memory_mib"), 1) if cx.get("memory_mib") is not None else "n/a (CPU)"


def _status_cell(row: Row, record) -> str:
    return "ok" if row.ok else f"FAILED: {row.error or 'the model failed'}"


def _score(row, record):
    score = ntire_score(row)
    return _round(score["score_final"], 4) if score else None


def _quality_column(metric: metrics.Metric) -> Column:
    unit = f" ({metric.unit})" if metric.unit else ""
    return Column(metric.label, lambda r, rec: _round(r.metrics.get(metric.name), 4),
                  cell=lambda r, rec: metric.fmt(r.metrics.get(metric.name)), heading=lambda rec: metric.label + unit)


def _complexity(name: str, digits: int | None):
    def value(row: Row, record):
        v = row.complexity.get(name)
        return v if digits is None else _round(v, digits)
    return value


def _reference_heading(record: Record) -> str:
    return f"time ratio to {(record.speed_reference or {}).get('model', 'the speed reference')} [95% CI]"


def main_columns(rows: list[Row]) -> list[Column]:
    """The table's columns for these rows: quality metrics in the registry's order, an optional one only where a
    row holds it."""
    present = {name for r in rows for name in r.metrics}
    quality = [_quality_column(m) for m in metrics.of_kind("quality") if not m.optional or m.name in present]
    median, mean = _runtime_ms("median_ms"), _runtime_ms("mean_ms")
    return [
        Column("dataset", lambda r, rec: r.dataset, flat=True, numeric=False),
        Column("model", lambda r, rec: r.model, cell=_model_cell, numeric=False),
        Column("architecture", lambda r, rec: r.arch, flat=True, numeric=False),
        Column("variant", lambda r, rec: r.variant, cell=_variant_cell, numeric=False),
        *quality,
        Column("runtime protocol", _runtime_value, cell=_runtime_cell, heading=lambda rec: "runtime mode, device",
               numeric=False),
        Column("runtime median (ms)", lambda r, rec: _round(median(r), 3), cell=_median_cell,
               heading=lambda rec: "median ms [95% CI]"),
        Column("runtime mean (ms)", lambda r, rec: _round(mean(r), 3), cell=lambda r, rec: fmt(mean(r), 2),
               heading=lambda rec: "mean ms"),
        Column("time ratio", lambda r, rec: _round(r.speed.ratio if r.speed else None, 4), cell=_ratio_cell,
               heading=_reference_heading),
        Column("FLOPs (G)", _complexity("flops_g", 4), heading=lambda rec: f"FLOPs (G), {FLOPS_LABEL}"),
        Column("params", _complexity("params", None), cell=lambda r, rec: _thousands(r.complexity.get("params"))),
        Column("activations (M)", _complexity("activations_m", 4),
               cell=lambda r, rec: fmt(r.complexity.get("activations_m"), 2)),
        Column("convs", _complexity("convs", None)),
        Column("peak memory (MiB)", _complexity("memory_mib", 1), cell=_memory_cell),
        Column("NTIRE 2024 score", _score, cell=lambda r, rec: fmt(_score(r, rec), 3),
               heading=lambda rec: "NTIRE 2024 score rel. RLFN_ntire"),
        Column("status", lambda r, rec: r.status, cell=_status_cell, numeric=False,
               css=lambda r: "" if r.ok else "regressed"),
    ]
