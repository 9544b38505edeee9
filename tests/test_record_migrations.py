"""Older record layouts load at the current schema version with every field present, and no number changes."""

import json
from pathlib import Path

import pytest

from sr_harness.gate.compare import compare, has_regression
from sr_harness.records.migrate import ROW_DEFAULTS, TOP_DEFAULTS, migrate
from sr_harness.records.run import SCHEMA_VERSION, RecordError, load_record, write_record

ROOT = Path(__file__).resolve().parents[1]
V2 = {"kind": "sr-harness-run", "schema_version": 2, "run_id": "old", "config": {}, "env": {},
      "results": [{"model": "m", "arch": "m", "dataset": "d", "metrics": {"psnr_y": 30.5, "psnr_rgb": 28.0,
                                                                          "ssim_y": 0.9},
                   "speed": {"reference": "rlfn_ntire_x4", "ratio": 0.8}}]}


def test_a_version_2_record_reads_as_version_3_with_every_field(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps(V2))
    record = load_record(path)
    assert record["schema_version"] == SCHEMA_VERSION == 3
    assert set(TOP_DEFAULTS) <= set(record) and set(ROW_DEFAULTS) <= set(record["results"][0])
    row = record["results"][0]
    assert row["status"] == "ok" and row["runtime"] is None and row["per_image"] == []
    assert row["speed"] == {"clock": "wall", "pages": "regular", "reference": "rlfn_ntire_x4", "ratio": 0.8}
    assert row["metrics"] == V2["results"][0]["metrics"]
    assert V2["results"][0]["speed"] == {"reference": "rlfn_ntire_x4", "ratio": 0.8}  # the input is not changed


def test_a_written_record_carries_every_field(tmp_path):
    trimmed = {**V2, "schema_version": SCHEMA_VERSION}
    written = json.loads(write_record(trimmed, tmp_path / "new.json").read_text())
    assert set(TOP_DEFAULTS) <= set(written) and set(ROW_DEFAULTS) <= set(written["results"][0])
    assert migrate(written) == written  # already current


@pytest.mark.parametrize("version", [1, 4, "2", True])
def test_versions_without_a_migration_are_refused_by_name(tmp_path, version):
    path = tmp_path / "r.json"
    path.write_text(json.dumps({**V2, "schema_version": version}))
    with pytest.raises(RecordError, match=r"schema_version .*this harness reads 2, 3"):
        load_record(path)


@pytest.mark.parametrize("name", ["results/baseline.json", "results/zoo_set5.json"])
def test_committed_records_migrate_with_their_numbers_unchanged(name):
    raw = json.loads((ROOT / name).read_text())
    record = load_record(ROOT / name)
    assert raw["schema_version"] == 2 and record["schema_version"] == 3
    for before, after in zip(raw["results"], record["results"]):
        for part in ("metrics", "complexity", "runtime", "per_image"):
            if part in before:
                assert json.dumps(after[part], sort_keys=True) == json.dumps(before[part], sort_keys=True) or \
                    after[part] == before[part]
    deltas = compare(record, load_record(ROOT / name))
    assert deltas and not has_regression(deltas)
