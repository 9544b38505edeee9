"""CLI: bad input is one line on stderr and a non-zero exit; list, eval, report and baseline update work."""

import pytest

from sr_harness.cli.main import main
from sr_harness.records.run import load_record


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "slimrlfn_x4" in out and "default" in out and "official" in out and "embedded" in out


def test_unknown_suite(capsys):
    assert main(["eval", "--suite", "nightly", "--out", "x.json"]) == 2
    assert "unknown suite 'nightly'; known suites: default, ntire-zoo, ntire2024, ntire2024-zoo, official" in one_line_error(capsys)


def test_unknown_model(capsys, tmp_path):
    assert main(["eval", "--models", "rlfn_x5", "--data", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 2
    assert "unknown model 'rlfn_x5'; did you mean" in one_line_error(capsys)


def test_missing_weights_file_says_where_official_weights_are(capsys, tmp_path):
    args = ["eval", "--models", "rlfn_x4", "--data", str(tmp_path), "--weights-dir", str(tmp_path),
            "--out", str(tmp_path / "r.json")]
    assert main(args) == 2
    err = one_line_error(capsys)
    assert str(tmp_path / "rlfn_x4.pth") in err and "bytedance/RLFN:model_zoo" in err and "Blcony/SlimRLFN" in err


def test_missing_weights_dir(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("SR_WEIGHTS_DIR", raising=False)
    assert main(["eval", "--suite", "official", "--data", str(tmp_path), "--out", str(tmp_path / "r.json")]) == 2
    assert "pass --weights-dir DIR or set SR_WEIGHTS_DIR" in one_line_error(capsys)


def test_eval_report_and_baseline_update(hr_folder, tmp_path, capsys):
    out = tmp_path / "run.json"
    assert main(["eval", "--models", "bicubic", "--data", str(hr_folder), "--out", str(out),
                 "--report", str(tmp_path / "r.html")]) == 0
    record = load_record(out)
    assert [r["model"] for r in record["results"]] == ["bicubic"] and record["results"][0]["n_images"] == 2
    page = (tmp_path / "r.html").read_text()
    assert record["run_id"] in page and "<strong>bicubic</strong>" in page

    before = out.read_bytes()  # an existing record is never clobbered without --force
    assert main(["eval", "--models", "bicubic", "--data", str(hr_folder), "--out", str(out)]) == 2
    assert "refusing to overwrite" in one_line_error(capsys) and out.read_bytes() == before

    assert main(["eval", "--models", "bicubic", "--data", str(hr_folder), "--out", str(out), "--force",
                 "--for-baseline"]) == 0
    record = load_record(out)
    assert record["config"]["timed_for_baseline"] is True
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "update", "--from", str(out), "--to", str(baseline)]) == 0
    assert load_record(baseline)["run_id"] == record["run_id"]
    assert main(["compare", str(out), "--baseline", str(baseline), "--base", "none"]) == 0


def test_a_baseline_timed_as_a_regular_run_is_accepted_with_a_note():
    from sr_harness.gate.baseline import timing_note

    def record(factor=3, **config):
        return {"kind": "sr-harness-run", "schema_version": 3, "run_id": "r", "env": {}, "results": [],
                "suite": "default", "config": {"protocol": {"baseline_timing": factor}, **config}}

    assert "suite 'default' times a baseline 3x longer (eval --for-baseline)" in timing_note(record(), "latest.json")
    assert timing_note(record(timed_for_baseline=True), "latest.json") is None
    assert timing_note(record(1), "x.json") is None


def test_bad_dataset_is_one_line(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["eval", "--models", "bicubic", "--data", str(empty), "--out", str(tmp_path / "r.json")]) == 2
    assert str(empty) in one_line_error(capsys)
    assert not (tmp_path / "r.json").exists()


def test_threads_beyond_the_machines_cpus_are_refused_before_any_work(tmp_path, capsys):
    import os

    too_many = str(len(os.sched_getaffinity(0)) + 1)
    out = tmp_path / "r.json"
    assert main(["eval", "--suite", "default", "--threads", "100000", "--out", str(out)]) == 2
    assert main(["eval", "--suite", "default", "--threads", too_many, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "at most" in err and not out.exists()
