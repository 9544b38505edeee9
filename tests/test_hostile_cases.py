"""Hostile input as a table: each case writes its files, runs one command, and states the exit code, the first
error line and the files that must come out unchanged. Every case stops before any model runs (a few ms each)."""

import json
import os
import re

import pytest

from sr_harness.cli.main import main

SUITE = '[mine]\ndata = ["embedded"]\nprotocol = {{ {} }}\n[[mine.models]]\nname = "bicubic"\n'
RECORD = {"kind": "sr-harness-run", "schema_version": 3, "run_id": "r", "config": {}, "env": {},
          "results": [{"model": "m", "arch": "m", "dataset": "d",
                       "metrics": {"psnr_y": 30.0, "psnr_rgb": 28.0, "ssim_y": 0.9},
                       "speed": {"reference": "rlfn_ntire_x4", "ratio": 0.8}}]}


def damaged_speed(**speed):
    row = {**RECORD["results"][0], "speed": {k: v for k, v in speed.items() if v is not None}}
    return json.dumps({**RECORD, "results": [row]})


EVAL = ["eval", "--suite-file", "{dir}/s.toml", "--suite", "mine", "--out", "{dir}/r.json"]
# id, files (name -> text, bytes or "FIFO"), argv, exit code, first error line (regex), files that must not change
CASES = [
    ("rounds not whole", {"s.toml": SUITE.format("rounds = 2.5")}, EVAL, 2,
     r"error: .*s\.toml \[mine\]\.protocol: rounds must be a whole number from 1 to 100000, got 2\.5", []),
    ("warmup not whole", {"s.toml": SUITE.format("warmup = 0.5")}, EVAL, 2, r"error: .*warmup must be a whole", []),
    ("complexity size of one side", {"s.toml": SUITE.format("complexity_hw = [1]")}, EVAL, 2,
     r"error: .*complexity_hw must be two whole numbers", []),
    ("negative crop", {"s.toml": SUITE.format("crop = -3")}, EVAL, 2, r"error: .*crop must be a whole number", []),
    ("timing crop that cannot fit", {"s.toml": SUITE.format("timing_size = 100000000")}, EVAL, 2,
     r"error: .*timing_size must be a whole number from 15 to 2048", []),
    ("threads past the machine", {"s.toml": SUITE.format("threads = 100000")}, EVAL, 2,
     r"error: .*threads must be a whole number from 1 to \d+ \(the CPUs", []),
    ("models not a list", {"s.toml": "[mine]\nmodels = 3\n"}, EVAL, 2, r"error: .*models must be a list of tables", []),
    ("suite file not UTF-8", {"s.toml": b"\xff\xfe[mine]"}, EVAL, 2, r"error: .*s\.toml: cannot read suites file", []),
    ("suite file nested too deeply", {"s.toml": "[mine]\nmodels = " + "[" * 3000 + "]" * 3000 + "\n"}, EVAL, 2,
     r"error: .*s\.toml: nested too deeply", []),
    ("suite file is a FIFO", {"s.toml": "FIFO"}, EVAL, 2, r"error: .*s\.toml: not a regular file", []),
    ("--threads past the machine", {}, ["eval", "--models", "bicubic", "--threads", "100000", "--out", "{dir}/r.json"],
     2, r"argument --threads: must be at most", []),
    ("--model-args nested deep", {}, ["eval", "--model", "x.py:N", "--model-args", "[" * 5000 + "]" * 5000,
                                      "--out", "{dir}/r.json"], 2, r"--model-args: nested more than 16 levels", []),
    ("--model-args not an object", {}, ["eval", "--model", "x.py:N", "--model-args", "[1]", "--out", "{dir}/r.json"],
     2, r"--model-args: must be a JSON object", []),
    ("speed threshold nan", {"a.json": json.dumps(RECORD)},
     ["compare", "{dir}/a.json", "--baseline", "{dir}/a.json", "--speed-threshold", "nan"], 2,
     r"--speed-threshold: must be a finite number > 0", ["a.json"]),
    ("baseline speed without reference", {"a.json": json.dumps(RECORD), "b.json": damaged_speed(ratio=0.8)},
     ["compare", "{dir}/a.json", "--baseline", "{dir}/b.json", "--base", "none"], 2,
     r"error: .*b\.json: .*speed lacks its reference model name", ["b.json"]),
    ("baseline with a negative ratio", {"a.json": json.dumps(RECORD),
                                        "b.json": damaged_speed(reference="rlfn_ntire_x4", ratio=-1.0)},
     ["baseline", "update", "--from", "{dir}/a.json", "--to", "{dir}/b.json"], 2,
     r"error: .*b\.json: .*speed ratio = -1\.0 is not a positive finite number", ["b.json"]),
]


@pytest.mark.parametrize("files, argv, code, first_line, unchanged", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_and_a_documented_exit(tmp_path, capsys, files, argv, code, first_line, unchanged):
    for name, content in files.items():
        path = tmp_path / name
        if content == "FIFO":
            os.mkfifo(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    before = {name: (tmp_path / name).read_bytes() for name in unchanged}
    try:
        exit_code = main([part.replace("{dir}", str(tmp_path)) for part in argv])
    except SystemExit as exc:  # argparse refuses a flag value itself
        exit_code = exc.code
    assert exit_code == code
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert errors and re.search(first_line, errors[0]), errors
    assert "Traceback" not in "\n".join(errors) and "unexpected" not in errors[0]
    assert {name: (tmp_path / name).read_bytes() for name in unchanged} == before
    assert not (tmp_path / "r.json").exists()


def test_a_run_that_measured_no_row_is_not_a_success(tmp_path, capsys):
    (tmp_path / "s.toml").write_text('[mine]\ndata = ["embedded"]\nbicubic = false\n[[mine.models]]\n'
                                     'name = "rlfn_ntire_x4"\ncheckpoint = "absent.pth"\noptional = true\n')
    out = tmp_path / "r.json"
    assert main(["eval", "--suite-file", str(tmp_path / "s.toml"), "--out", str(out)]) == 4
    err = capsys.readouterr().err
    assert f"error: {out}: no row was measured" in err
    assert json.loads(out.read_text())["missing"][0]["model"] == "rlfn_ntire_x4"  # the record says what was skipped
