"""The project's cited copy of published numbers (harness/published.toml) and measured-vs-published verdicts."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

from sr_harness import metrics
from sr_harness.config import toml
from sr_harness.records.schema import Record, Row

PUBLISHED_FILE = Path(__file__).with_name("published.toml")
# A published value is reproduced when the measurement agrees to the published precision (half a unit of the last
# digit) or to the metric's own regression tolerance, whichever is wider.
METRIC_TOLERANCE = {m.name: m.tolerance for m in metrics.of_kind("quality") if m.tolerance is not None}


def load_published(path: str | Path = PUBLISHED_FILE) -> dict:
    with open(path, "rb") as fh:
        data = toml.load(fh)
    return {"entries": data.get("published", []), "checkpoints": {c["sha256"]: c for c in data.get("checkpoint", [])},
            "methods": data.get("method", [])}


def official_sha(row: Row) -> str | None:
    """The sha256 of a row's project-checkpoint weights (the key of the official releases), if it has one."""
    return (row.checkpoint or {}).get("sha256")


def tolerance(metric: str, value: float) -> float:
    exponent = Decimal(repr(value)).as_tuple().exponent
    unit = 10.0 ** exponent if isinstance(exponent, int) and exponent < 0 else 1.0
    # Parameter counts are published truncated as often as rounded ("543K" for 543,740): allow one unit.
    last_digit = unit if metric == "params" else 0.5 * unit
    return max(last_digit, METRIC_TOLERANCE.get(metric, 0.0))


def _measured(row: Row, metric: str) -> float | None:
    if metric in METRIC_TOLERANCE:
        return row.metrics.get(metric)
    comp = row.complexity
    if metric == "params":
        return comp["params"] / 1e6 if comp.get("params") is not None else None
    if metric == "flops_g":
        return comp.get("flops_g")
    return None  # runtime_ms, memory_mb: published on a GPU; handled as "no data" below


def verdicts(record, published: dict | None = None) -> list[dict]:
    """One row per (run row, published entry) that applies, plus a "no data" row for models with none; ``record`` is
    a Record or a record dict."""
    published = published or load_published()
    rows = []
    for row in Record.of(record).rows:
        if not row.ok:
            continue
        official = published["checkpoints"].get(official_sha(row))
        base = {"model": row.model, "variant": row.arch}
        if official is None:
            note = "bicubic reference" if row.arch == "bicubic" else "checkpoint is not an official release"
            rows.append({**base, "dataset": row.dataset, "metric": "-", "published": None, "measured": None, "diff": None,
                         "verdict": "no data", "source": "", "note": note})
            continue
        matched = False
        for entry in published["entries"]:
            if entry["variant"] != official["variant"]:
                continue
            if entry.get("dataset") is not None and entry["dataset"] != row.dataset:
                continue
            matched = True
            base["dataset"] = entry.get("dataset") or "(any)"
            measured = _measured(row, entry["metric"])
            value = entry["value"]
            if entry["metric"] == "flops_g" and "legacy" in (entry.get("conditions") or ""):
                rows.append({**base, "metric": "flops_g", "published": value, "measured": measured, "diff": None,
                             "verdict": "no data", "source": entry["source"], "confidence": entry["confidence"],
                             "note": "legacy NTIRE counter (adds activations); this harness counts with fvcore"})
                continue
            if measured is None:
                hw = entry.get("hardware") or "another machine"
                rows.append({**base, "metric": entry["metric"], "published": value, "measured": None, "diff": None,
                             "verdict": "no data", "source": entry["source"], "confidence": entry["confidence"],
                             "note": f"published on {hw}; not comparable with this run's {Record.of(record).env['device']} "
                                     "timing"})
                continue
            diff = measured - value
            tol = tolerance(entry["metric"], value)
            ok = math.isfinite(diff) and abs(diff) <= tol + 1e-12
            rows.append({**base, "metric": entry["metric"], "published": value, "measured": measured, "diff": diff,
                         "verdict": "reproduced" if ok else "not reproduced", "tolerance": tol,
                         "source": entry["source"], "confidence": entry["confidence"],
                         "note": entry.get("conditions") or ""})
        if not matched:
            rows.append({**base, "dataset": row.dataset, "metric": "-", "published": None, "measured": None, "diff": None,
                         "verdict": "no data", "source": official["source"],
                         "note": f"no published number for {official['variant']} on {row.dataset}"})
    return rows
