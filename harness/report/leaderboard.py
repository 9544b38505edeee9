"""One leaderboard over several runs: every NTIRE year's entries and any other model, one row per entry and
dataset, each year's own score against that year's baseline measured in the same run (protocols.years).

The table is defined once (``COLUMNS``) and rendered as a self-contained HTML page (sortable, filter by year,
Pareto plots), CSV and Markdown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from sr_harness.protocols.years import (PUBLISHED_COLUMNS, YearRule, eligible, load_published, load_years,
                                        published_differences, score, year_of)
from sr_harness.records.merge import machine_index
from sr_harness.records.schema import Record, Row
from sr_harness.report.columns import fmt
from sr_harness.report.plots import groups_svg
from sr_harness.report.tables import csv_text, markdown_text
from sr_harness.run.env import timing_mismatch

TEMPLATES = Path(__file__).with_name("templates")
OTHER = "other"  # the year column of rows that are not an NTIRE repository's entries
SIGNATURES = (b"year,entry,team,dataset,", b"| year | entry | team | dataset |")


def is_leaderboard_table(head: bytes) -> bool:
    return head.startswith(SIGNATURES)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict], object]
    digits: int | None = None  # None: shown as it is
    numeric: bool = True


def _c(name: str):
    return lambda e: e["complexity"].get(name)


COLUMNS = (
    Column("year", lambda e: e["year"], numeric=False),
    Column("entry", lambda e: e["entry"], numeric=False),
    Column("team", lambda e: e["team"], numeric=False),
    Column("dataset", lambda e: e["dataset"], numeric=False),
    Column("PSNR-Y (dB)", lambda e: e["metrics"].get("psnr_y"), 4),
    Column("PSNR-RGB (dB)", lambda e: e["metrics"].get("psnr_rgb"), 4),
    Column("SSIM-Y", lambda e: e["metrics"].get("ssim_y"), 4),
    Column("runtime (ms)", lambda e: e["runtime_ms"], 2),
    Column("params", _c("params")),
    Column("FLOPs (G), fvcore", _c("flops_g"), 4),
    Column("FLOPs (G), year's counter", lambda e: e["flops_own"], 4),
    Column("activations (M)", _c("activations_m"), 4),
    Column("convs", _c("convs")),
    Column("year's score", lambda e: e["score"], 4),
    Column("eligible", lambda e: e["eligible"], numeric=False),
    Column("machine", lambda e: e["machine"], numeric=False),
)


def _year(row: Row, years: dict[int, YearRule]) -> int | None:
    checkpoint = row.checkpoint or {}
    return year_of(checkpoint.get("script_sha256"), checkpoint.get("ntire_repo"), years) if "team" in checkpoint \
        else None


def _terms(row: Row) -> dict[str, float]:
    rt = row.runtime.median_ms if row.runtime and row.runtime.median_ms is not None else float("nan")
    return {"runtime": rt, "flops": row.complexity.get("flops_g", float("nan")),
            "params": row.complexity.get("params", float("nan")) / 1e6,
            "psnr_rgb": row.metrics.get("psnr_rgb", float("nan"))}


def _entry(row: Row, record: Record, year: int | None, rule: YearRule | None, base: Row | None, machine: str) -> dict:
    cx = row.complexity
    own = cx.get("flops_g_own")
    entry = {"year": str(year) if year else OTHER, "entry": row.model, "team": row.arch, "dataset": row.dataset,
             "metrics": dict(row.metrics), "complexity": dict(cx), "machine": machine,
             "runtime_ms": row.runtime.median_ms if row.runtime else None,
             "flops_own": own if own is not None else cx.get("flops_g"), "score": None, "eligible": None,
             "run_id": record.run_id, "redirected": (row.checkpoint or {}).get("cuda_redirected", 0),
             "team_id": (row.checkpoint or {}).get("team")}
    if rule is not None and base is not None and cx:
        base_terms = _terms(base)
        entry["score"] = score(rule, _terms(row), base_terms)
        ok = eligible(rule, row.dataset, row.metrics.get("psnr_rgb", float("nan")), cx.get("params", 0),
                      {"psnr_rgb": base_terms["psnr_rgb"], "params": base.complexity.get("params", 0)})
        entry["eligible"] = None if ok is None else ("yes" if ok else "no")
    return entry


def _machine(env, machines: list) -> str:
    """Short name of the machine that timed a row: M1, M2 ... in order of first appearance."""
    return f"M{machine_index(machines, env, lambda a, b: not timing_mismatch(a, b)) + 1}"


def entries(records: list, years: dict[int, YearRule] | None = None) -> tuple[list[dict], list[dict], list]:
    """(one entry per measured row, the unbuildable entries with their reason, the machines' fingerprints)."""
    years = years if years is not None else load_years()
    rows, missing, machines = [], [], []
    for record in map(Record.of, records):
        by_year = {}
        for row in record.rows:
            by_year.setdefault(_year(row, years), []).append(row)
        for year, year_rows in by_year.items():
            rule = years.get(year) if year else None
            for row in year_rows:
                if not row.ok:
                    missing.append({"year": str(year or OTHER), "entry": row.model, "reason": row.error or "failed"})
                    continue
                base = next((r for r in year_rows if rule and r.ok and r.dataset == row.dataset
                             and (r.checkpoint or {}).get("team") == rule.baseline_team), None)
                rows.append(_entry(row, record, year, rule, base, _machine(record.env_of(row), machines)))
        for m in record.missing:
            folder = str(m.get("checkpoint", "")).removesuffix("/test_demo.py select_model")
            year = year_of(None, folder, years) if "team" in m else None
            missing.append({"year": str(year or OTHER), "entry": m["model"], "reason": m["reason"]})
    return rows, missing, machines


def published_comparison(rows: list[dict], years: dict[int, YearRule]) -> list[dict]:
    """Per year with a published results table: each measured team beside its published complexity columns, the
    columns that differ named; with how many match in all four."""
    views = []
    for year in sorted({e["year"] for e in rows if e["year"] != OTHER}):
        published = load_published(years[int(year)]) if int(year) in years else {}
        if not published:
            continue
        lines = []
        for e in rows:
            if e["year"] != year or e["team_id"] not in published or e["entry"].endswith("_fused"):
                continue
            pub = published[e["team_id"]]
            if any(line["entry"] == e["entry"] for line in lines):
                continue  # one line per team, whatever the datasets
            lines.append({"entry": e["entry"], "name": pub["name"], "published": pub,
                          "measured": {c: e["complexity"].get(f) * scale if e["complexity"].get(f) is not None
                                       else None for c, (f, scale, _) in PUBLISHED_COLUMNS.items()},
                          "differs": published_differences(pub, e["complexity"])})
        views.append({"year": year, "source": next(iter(published.values()))["source"], "lines": lines,
                      "matching": sum(not line["differs"] for line in lines), "columns": list(PUBLISHED_COLUMNS)})
    return views


def table(rows: list[dict]) -> tuple[list[str], list[list]]:
    return [c.header for c in COLUMNS], [[c.value(e) for c in COLUMNS] for e in rows]


def to_csv(records: list) -> str:
    return csv_text(*table(entries(records)[0]))


def to_markdown(records: list) -> str:
    header, body = table(entries(records)[0])
    return markdown_text(header, body, [c.numeric for c in COLUMNS])


def _plots(rows: list[dict]) -> list[Markup]:
    plots = []
    for dataset in dict.fromkeys(e["dataset"] for e in rows):
        points = [e for e in rows if e["dataset"] == dataset and e["complexity"]]
        for axis, label, value in (("runtime", "runtime on this machine, median ms", lambda e: e["runtime_ms"]),
                                   ("FLOPs", "FLOPs (G), fvcore", lambda e: e["complexity"].get("flops_g")),
                                   ("params", "parameters (M)", lambda e: e["complexity"].get("params", 0) / 1e6)):
            drawn = [{"label": f"{e['year']}/{e['entry']}", "group": e["year"], "x": value(e),
                      "y": e["metrics"].get("psnr_rgb")} for e in points if value(e) is not None]
            if drawn:
                plots.append(Markup(groups_svg(drawn, xlabel=label, ylabel="PSNR-RGB (dB)",
                                               title=f"{dataset}: quality vs {axis}, all years")))
    return plots


def render(records: list, years: dict[int, YearRule] | None = None) -> str:
    years = years if years is not None else load_years()
    rows, missing, machines = entries(records, years)
    header, body = table(rows)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt"] = fmt
    shown = [[fmt(v, c.digits) if c.digits is not None and isinstance(v, float) else ("–" if v is None else v)
              for v, c in zip(line, COLUMNS)] for line in body]
    return env.get_template("leaderboard.html.j2").render(
        header=header, numeric=[c.numeric for c in COLUMNS], rows=list(zip(rows, body, shown)), missing=missing,
        machines=machines, years=sorted({e["year"] for e in rows} | {m["year"] for m in missing}),
        rules=[years[y] for y in sorted(years)], plots=_plots(rows), published=published_comparison(rows, years),
        generated=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
