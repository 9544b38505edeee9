"""The report's view of the project's own models: project-trained vs official checkpoint vs a published method
trained on the same images, and each shipped model's learning curve (validation PSNR-Y vs step)."""

from __future__ import annotations

from markupsafe import Markup

from sr_harness.report.plots import learning_svg
from sr_harness.records.schema import Record, Row
from sr_harness.report.published import load_published, official_sha

CHECKPOINTS_DIR = "results/checkpoints/"


def _official_variant(row: Row, published: dict) -> str | None:
    entry = published["checkpoints"].get(official_sha(row))
    return entry["variant"] if entry else None


def comparison(records: list[Record], published: dict | None = None) -> list[dict]:
    """One table per dataset that holds both project-trained and official rows of one architecture."""
    published = published or load_published()
    tables = []
    for record in records:
        for dataset in sorted({r.dataset for r in record.rows}):
            rows = [r for r in record.rows if r.dataset == dataset and r.ok]
            official = {_official_variant(r, published): r for r in rows if _official_variant(r, published)}
            project = [r for r in rows if (r.checkpoint or {}).get("path", "").startswith(CHECKPOINTS_DIR)]
            pairs = [(p, official.get(p.arch)) for p in project]
            if not any(o is not None for _, o in pairs):
                continue
            methods = [m for m in published["methods"] if m["dataset"] == dataset and m["metric"] == "psnr_y"]
            entries = []
            for proj, off in pairs:
                value = proj.metrics["psnr_y"]
                entries.append({"model": proj.model, "arch": proj.arch, "project": value,
                                "official": off.metrics["psnr_y"] if off else None,
                                "gap_official": value - off.metrics["psnr_y"] if off else None,
                                "methods": [{"name": m["name"], "value": m["value"], "gap": value - m["value"]}
                                            for m in methods]})
            tables.append({"dataset": dataset, "run_id": record.run_id, "rows": entries, "methods": methods})
    return tables


def learning_curves(records: list[Record]) -> list[dict]:
    """Each project model's validation curves (first row per model wins; rows repeat per dataset)."""
    views, seen = [], set()
    for record in records:
        for row in record.rows:
            training = row.training or {}
            curves = {s["name"]: s["curve"] for s in training.get("stages", []) if s.get("curve")}
            if not curves or row.model in seen:
                continue
            seen.add(row.model)
            views.append({"model": row.model, "training": training, "curves": curves,
                          "svg": Markup(learning_svg(curves, title=f"{row.model}: validation PSNR-Y per step"))})
    return views
