"""Records: round trip, atomic writes, no silent overwrite, one-line errors for bad files."""

import json
import math
import os
import re

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


def edited(change):
    data = record()
    change(data, data["results"][0])
    return data


def _set(where, **values):
    return lambda top, row: (top if where == "top" else row if where == "row" else
                             row.setdefault(where, {})).update(values)


# Each edit of a valid record, and whether the validator accepts it (True) or the refusal it names.
FIELD_CASES = [
    ("n_images is a bool", _set("row", n_images=True), "field 'n_images' is a bool"),
    ("wall_seconds is a bool", _set("top", wall_seconds=False), "field 'wall_seconds' is a bool"),
    ("no headline", _set("top", headline=None), True),
    ("a quality headline", _set("top", headline="psnr_rgb"), True),
    ("headline not a quality metric", _set("top", headline="params"), "headline 'params' is not a quality metric"),
    ("a metric outside the registry", _set("metrics", lpips_custom="any"), True),
    ("a registry metric nan", _set("metrics", ssim_y=math.nan), "ssim_y = nan"),
    ("a complexity count nan", _set("complexity", params=math.nan), "complexity params = nan"),
    ("a complexity field outside the registry", _set("complexity", input_hw=[256, 256]), True),
    ("speed low zero", _set("speed", reference="r", ratio=1.0, low=0.0), "speed low = 0.0"),
    ("speed high inf", _set("speed", reference="r", ratio=1.0, high=math.inf), "speed high = inf"),
    ("per-process ratios with a zero", _set("speed", reference="r", ratio=1.0, per_process=[0.9, 0.0]),
     "per_process must be a list of positive"),
    ("per-process ratios not a list", _set("speed", reference="r", ratio=1.0, per_process="0.9"),
     "per_process must be a list"),
    ("no per-process ratios", _set("speed", reference="r", ratio=1.0, per_process=[]), True),
    ("no reference time", _set("speed", reference="r", ratio=1.0), True),
    ("a reference time of zero", _set("speed", reference="r", ratio=1.0, reference_clock_ms=0.0),
     "reference_clock_ms = 0.0"),
    ("a team checkpoint without its script hash", _set("row", checkpoint={"team": 3, "ntire_repo": "x"}),
     "checkpoint lacks its path or sha256"),
    ("a team checkpoint", _set("row", checkpoint={"team": 3, "ntire_repo": "x", "script_sha256": "h"}), True),
    ("a --model checkpoint without its source hash", _set("row", checkpoint={"source": "a.py:N", "path": "w", "sha256": "h"}),
     "checkpoint lacks its path or sha256"),
    ("a checkpoint file", _set("row", checkpoint={"path": "w.pth", "sha256": "h"}), True),
    ("a checkpoint without its hash", _set("row", checkpoint={"path": "w.pth"}), "checkpoint lacks its path or sha256"),
    ("the same row twice", lambda top, row: top["results"].append(dict(row)), "appears twice"),
    ("one model on two datasets", lambda top, row: top["results"].append({**row, "dataset": "e"}), True),
]


@pytest.mark.parametrize("change, expected", [c[1:] for c in FIELD_CASES], ids=[c[0] for c in FIELD_CASES])
def test_every_field_the_readers_use_is_checked(tmp_path, change, expected):
    path = tmp_path / "r.json"
    if expected is True:
        assert load_record(write_record(edited(change), path))["run_id"] == "r1"
    else:
        with pytest.raises(RecordError, match=re.escape(expected)):
            write_record(edited(change), path)
        assert not path.exists()


def test_a_written_record_keeps_its_key_order_and_infinities_in_any_section(tmp_path):
    data = record()
    data["config"] = {"limits": [-math.inf, math.inf]}
    path = write_record(data, tmp_path / "r.json")
    assert next(iter(json.loads(path.read_text()))) == "kind"  # kind first: a reader sees what the file is
    assert load_record(path)["config"]["limits"] == [-math.inf, math.inf]


@pytest.mark.parametrize("content", ["[1, 2]", '{"schema_version": 3}'])
def test_json_that_is_not_a_record_is_named_as_such(tmp_path, content):
    path = tmp_path / "r.json"
    path.write_text(content)
    with pytest.raises(RecordError, match=r"not an sr-harness run record"):
        load_record(path)
