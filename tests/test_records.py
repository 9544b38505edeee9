"""Records: round trip, atomic writes, no silent overwrite, one-line errors for bad files."""

import json
import math
import os

import pytest

from sr_harness.cli.main import main
from sr_harness.records.run import SCHEMA_VERSION, RecordError, load_record, write_record


def record(run_id="r1", psnr=30.0):
    return {"kind": "sr-harness-run", "schema_version": SCHEMA_VERSION, "run_id": run_id, "config": {}, "env": {},
            "results": [{"model": "m", "arch": "m", "dataset": "d",
                         "metrics": {"psnr_y": psnr, "psnr_rgb": math.inf, "ssim_y": 0.9}}]}


def test_round_trip_keeps_values_and_infinity(tmp_path):
    path = write_record(record(), tmp_path / "run.json")
    loaded = load_record(path)
    assert loaded["results"][0]["metrics"] == {"psnr_y": 30.0, "psnr_rgb": math.inf, "ssim_y": 0.9}
    assert json.loads(path.read_text())["results"][0]["metrics"]["psnr_rgb"] == "inf"  # valid JSON, no Infinity


def test_existing_file_is_not_overwritten_unless_forced(tmp_path):
    path = write_record(record("old"), tmp_path / "run.json")
    with pytest.raises(RecordError, match="refusing to overwrite"):
        write_record(record("new"), path)
    assert load_record(path)["run_id"] == "old"
    write_record(record("new"), path, force=True)
    assert load_record(path)["run_id"] == "new"


def test_crash_mid_write_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = write_record(record("old"), tmp_path / "run.json")
    before = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        write_record(record("new"), path, force=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def with_speed(**speed):
    rec = record()
    rec["results"][0]["speed"] = {"reference": "r", "ratio": 1.0, "low": 0.9, "high": 1.1, **speed}
    return rec


@pytest.mark.parametrize("content, message", [
    ("{not json", "not a valid JSON record"),
    (json.dumps(with_speed(per_process=[1.0, 0.0])), "per_process must be a list of positive finite ratios"),
    (json.dumps(with_speed(per_process="1.0")), "per_process must be a list"),
    (json.dumps(with_speed(reference_clock_ms=-3.0)), "reference_clock_ms = -3.0 is not a positive time"),
    (json.dumps(with_speed(ratio=-1.0)), "speed ratio = -1.0 is not a positive finite number"),
    (json.dumps({**with_speed(), "results": [{**with_speed()["results"][0], "speed": {"ratio": 1.0}}]}),
     "speed lacks its reference model name"),
    (json.dumps({**with_speed(), "results": [{**with_speed()["results"][0], "speed": {"reference": "r"}}]}),
     "speed lacks its ratio"),
    (json.dumps({"kind": "something-else"}), "not an sr-harness run record"),
    (json.dumps({**record(), "schema_version": SCHEMA_VERSION + 1}), "schema_version"),
    (json.dumps({k: v for k, v in record().items() if k != "results"}), "lacks the field 'results'"),
])
def test_bad_records_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(RecordError, match=message) as info:
        load_record(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_cli_reports_bad_record_in_one_line_and_fails(tmp_path, capsys):
    good = write_record(record(), tmp_path / "good.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**record(), "schema_version": 0}))
    assert main(["compare", str(bad), "--baseline", str(good)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "schema_version 0" in err and str(bad) in err
    assert main(["report", str(tmp_path / "absent.json"), "-o", str(tmp_path / "r.html")]) == 2
    assert "no such record file" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("damage", [{"ratio": -1.0}, {"reference": None}, {"ratio": None}])
def test_a_damaged_speed_entry_in_a_baseline_is_exit_2_for_compare_and_baseline_update(tmp_path, capsys, damage):
    good = write_record(with_speed(), tmp_path / "good.json")
    bad = with_speed()
    speed = bad["results"][0]["speed"]
    for key, value in damage.items():
        speed.pop(key) if value is None else speed.__setitem__(key, value)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    before = path.read_bytes()
    assert main(["compare", str(good), "--baseline", str(path)]) == 2
    assert main(["baseline", "update", "--from", str(good), "--to", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unexpected" not in err and err.count(str(path)) == 2 and path.read_bytes() == before
