"""The report's main table as CSV or Markdown, for papers and READMEs: one line per model and dataset, with the
columns of ``columns.main_columns`` (the report's own)."""

from __future__ import annotations

import csv
import io

from sr_harness.records.schema import Record
from sr_harness.report.columns import main_columns

SIGNATURES = (b"dataset,model,architecture,", b"| dataset | model | architecture |")


def is_table(head: bytes) -> bool:
    """Whether a file's first bytes are a table this module wrote (so ``report -o`` may replace it)."""
    return head.startswith(SIGNATURES)


def main_table(records: list) -> tuple[list[str], list[list], list[bool]]:
    """Header, rows over every record (Records or record dicts), and which columns are numeric."""
    pairs = [(r, record) for record in map(Record.of, records) for r in record.rows]
    columns = main_columns([r for r, _ in pairs])
    return ([c.header for c in columns], [[c.value(r, record) for c in columns] for r, record in pairs],
            [c.numeric for c in columns])


def to_csv(records: list) -> str:
    header, body, _ = main_table(records)
    return csv_text(header, body)


def csv_text(header: list[str], body: list[list]) -> str:
    """A table as CSV whose text cells a spreadsheet will not run (``_csv_cell``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([_csv_cell(h) for h in header])
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


def to_markdown(records: list) -> str:
    return markdown_text(*main_table(records))


def markdown_text(header: list[str], body: list[list], numeric: list[bool]) -> str:
    """A table as Markdown whose cells stay text (``_md_cell``)."""
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in body]
    return "\n".join(lines) + "\n"
