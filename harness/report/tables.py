"""The report's main table as CSV or Markdown, for papers and READMEs: one line per model and dataset."""

from __future__ import annotations

import csv
import io

from sr_harness import metrics

# (header, how to read it from a row); quality columns follow the metrics the records hold
_FIXED = [("dataset", lambda r: r["dataset"]), ("model", lambda r: r["model"]), ("architecture", lambda r: r["arch"])]
_AFTER = [
    ("params", lambda r: (r.get("complexity") or {}).get("params")),
    ("FLOPs (G)", lambda r: _round((r.get("complexity") or {}).get("flops_g"), 4)),
    ("activations (M)", lambda r: _round((r.get("complexity") or {}).get("activations_m"), 4)),
    ("convs", lambda r: (r.get("complexity") or {}).get("convs")),
    ("runtime median (ms)", lambda r: _round((r.get("runtime") or {}).get("median_ms"), 3)),
    ("runtime protocol", lambda r: _runtime_label(r.get("runtime"))),
    ("status", lambda r: r.get("status", "ok")),
]
TABLE_FORMATS = ("html", "csv", "md")


def _round(value, digits: int):
    return None if value is None else round(float(value), digits)


def _runtime_label(runtime: dict | None) -> str | None:
    if not runtime:
        return None
    return f"{runtime.get('mode')}, {runtime.get('device')}"


def main_table(records: list[dict]) -> tuple[list[str], list[list]]:
    """Header and rows over every record, quality metrics in the registry's order (4 decimals)."""
    rows = [r for record in records for r in record["results"]]
    present = {name for r in rows for name in r["metrics"]}
    quality = [m for m in metrics.of_kind("quality") if m.name in present]
    header = [h for h, _ in _FIXED] + [m.label for m in quality] + [h for h, _ in _AFTER]
    body = []
    for r in rows:
        values = [get(r) for _, get in _FIXED]
        values += [_round(r["metrics"].get(m.name), 4) for m in quality]
        body.append(values + [get(r) for _, get in _AFTER])
    return header, body


def to_csv(records: list[dict]) -> str:
    header, body = main_table(records)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_cell(v) for v in row] for row in body])
    return out.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet evaluates a text cell starting with these


def _csv_cell(value):
    """Text that a spreadsheet would run as a formula (labels come from other people's code) gets a leading
    apostrophe, as OWASP's CSV-injection advice says; numbers, negative ones included, stay numbers."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _md_cell(value) -> str:
    text = "–" if value is None else str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # raw HTML in a cell stays text
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(records: list[dict]) -> str:
    header, body = main_table(records)
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in body) for i in range(len(header))]
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in body]
    return "\n".join(lines) + "\n"
