"""report --format csv|md: the main table for papers and READMEs, read back and checked against the record."""

import csv
import io
import json

from sr_harness.cli.main import main
from sr_harness.report.tables import to_csv, to_markdown
from test_report import record


def test_csv_holds_every_row_with_the_records_numbers():
    run = record()
    table = list(csv.DictReader(io.StringIO(to_csv([run]))))
    assert [t["model"] for t in table] == [r["model"] for r in run["results"]]
    slim = next(t for t in table if t["model"] == "slimrlfn_x4")
    assert float(slim["PSNR-Y"]) == 31.9774 and int(slim["params"]) == 207774
    assert float(slim["FLOPs (G)"]) == 11.9912 and slim["runtime protocol"] == "steady, cpu"
    bicubic = next(t for t in table if t["model"] == "bicubic")
    assert bicubic["params"] == "" and float(bicubic["PSNR-RGB"]) == 26.7


def test_markdown_escapes_pipes_and_aligns_numbers():
    run = record()
    run["results"][2]["model"] = "a|b"
    lines = to_markdown([run]).splitlines()
    assert lines[0].startswith("| dataset | model | architecture | variant | PSNR-Y |")
    assert "---:" in lines[1] and len(lines) == 2 + len(run["results"])
    assert "a\\|b" in lines[4]
    assert all(line.count(" | ") == lines[0].count(" | ") for line in lines[2:3])


def test_csv_cells_a_spreadsheet_would_run_are_neutralised_and_numbers_kept():
    run = record()
    run["results"][2]["model"] = "=1+2"
    run["results"][1]["model"] = "@SUM(A1)"
    run["results"][2]["metrics"]["ssim_y"] = -0.125  # SSIM can be negative
    table = list(csv.reader(io.StringIO(to_csv([run]))))
    models = [line[1] for line in table[1:]]
    assert "'=1+2" in models and "'@SUM(A1)" in models and "=1+2" not in models
    slowed = next(line for line in table[1:] if line[1] == "'=1+2")
    assert "-0.125" in slowed  # a negative number is a number, not a formula


def test_markdown_cells_show_raw_html_as_text():
    run = record()
    run["results"][2]["model"] = "<img src=x onerror=alert(1)>"
    text = to_markdown([run])
    assert "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text


def test_cli_takes_the_format_from_the_suffix_and_never_replaces_a_record(tmp_path, capsys):
    source = tmp_path / "run.json"
    source.write_text(json.dumps(record()))
    assert main(["report", str(source), "-o", str(tmp_path / "t.md")]) == 0
    assert (tmp_path / "t.md").read_text().startswith("| dataset |")
    assert main(["report", str(source), "-o", str(tmp_path / "t.md"), "--format", "md"]) == 0  # an earlier table
    assert main(["report", str(source), "-o", str(tmp_path / "t.txt"), "--format", "csv"]) == 0
    assert (tmp_path / "t.txt").read_text().startswith("dataset,model,architecture,")
    other = tmp_path / "notes.csv"
    other.write_text("my,own,data\n")
    assert main(["report", str(source), "-o", str(other)]) == 2
    assert "never replaces another kind of file" in capsys.readouterr().err
    assert other.read_text() == "my,own,data\n"
