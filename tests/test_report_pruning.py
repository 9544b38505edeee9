"""Pruning curve in the report: the runner copies a checkpoint's training record into the run record, and the
report renders its curve (table and SVG) from the record alone; rows without one render no section."""

import copy
import json
import warnings
from pathlib import Path

import pytest
from test_report import EVIL, record
from test_runner import TinySet, config

from sr_harness.config.build import ModelEntry
from sr_harness.records.run import load_record, write_record
from sr_harness.report.page import render, widths_label
from sr_harness.run.runner import run
from sr_harness.run.training_summary import TrainingRecordWarning, summarise, training_summary

SHIPPED = Path(__file__).resolve().parents[1] / "results" / "checkpoints" / "slimrlfn_prune_x4.pth"


def curve():
    def point(step, width, params, psnr, accepted):
        return {"step": step, "inner_widths": [[width, width]] * 5 + [[30, 30]], "params": params,
                "flops_g": params * 5.77e-5, "psnr_y": psnr, "accepted": accepted}
    return [point(0, 30, 207774, 37.86, True), point(1, 28, 197134, 38.23, True) | {"finetune_steps": 150},
            point(2, 26, 186614, 37.10, False) | {"finetune_steps": 150}]


def train_record(file="slimrlfn_prune_x4.pth"):
    return {"file": file, "recipe": f"recipe{EVIL}", "seed": 0, "data": "embedded:train", "stage": "prune",
            "total_steps": 450, "train_wall_s": 321.5, "device": "cpu", "world_size": 1,
            "stages": {"student": {"kind": "train", "model": "slimrlfn_unfused_x4", "steps": 150, "wall_s": 100.0,
                                   "val_psnr_y": 37.86},
                       f"prune{EVIL}": {"kind": "prune", "steps": 300, "wall_s": 221.5, "floor_db": 37.5,
                                        "stopped_by_floor": True, "pruning_curve": curve()}}}


def training_summary_of(data):
    return summarise(data, file="slimrlfn_prune_x4.train.json")


def pruned_record():
    rec = record()
    rec["results"][2]["training"] = training_summary_of(train_record())
    return rec


def test_pruning_section_renders_table_and_plot():
    html = render([pruned_record()])
    assert "<script" not in html.lower()
    assert html.count("Pruning curve — ") == 1
    assert "Pruning curve — mine&lt;script&gt;" in html  # the row's model label, escaped
    assert html.count('<tr class="pruning-step">') == 3
    assert html.count("<svg") == 4  # three Pareto plots + the pruning curve
    assert "Pruning: validation PSNR-Y vs params per step" in html
    assert "(28, 28)×5 · (30, 30)" in html and "197,134" in html and "38.2300" in html
    assert html.count('class="ok">kept</td>') == 2 and "stopped (below floor)" in html and "(it stopped there)" in html
    assert "recipe&lt;script&gt;" in html and "prune&lt;script&gt;" in html
    assert "Training stages (2)" in html


def test_rows_without_a_curve_render_no_section():
    rec = record()
    assert "Pruning curve" not in render([rec])  # rows with no "training" key: records from before the field
    rec["results"][2]["training"] = training_summary_of({**train_record(), "stages": {"s": {"steps": 1}}})
    html = render([rec])
    assert "Pruning curve" not in html and html.count("<svg") == 3  # the three Pareto plots only


def test_section_is_shown_once_per_model_across_datasets():
    rec = pruned_record()
    other = copy.deepcopy(rec["results"][2]) | {"dataset": "Set14"}
    rec["results"].append(other)
    rec["datasets"].append({"name": "Set14", "n_images": 1, "scale": 4})
    assert render([rec]).count("Pruning curve — ") == 1


def test_widths_label_groups_equal_blocks():
    assert widths_label([[28, 28], [28, 28], [30, 26]]) == "(28, 28)×2 · (30, 26)"


def write_sidecar(folder, data):
    (folder / "slimrlfn_prune_x4.train.json").write_text(json.dumps(data))


def test_training_summary_reads_the_sidecar_and_refuses_bad_ones(tmp_path):
    ckpt = tmp_path / "slimrlfn_prune_x4.pth"
    assert training_summary(ckpt, {}) is None  # no sidecar: nothing to show, nothing to warn about
    write_sidecar(tmp_path, train_record())
    summary = training_summary(ckpt, {"train_record": "../../elsewhere/slimrlfn_prune_x4.train.json"})
    assert summary["file"] == "slimrlfn_prune_x4.train.json"  # only the name counts: the sidecar lies alongside
    assert [p["step"] for p in summary["pruning"][0]["curve"]] == [0, 1, 2]
    assert summary["pruning"][0]["floor_db"] == 37.5 and summary["train_wall_s"] == 321.5
    bad_point = train_record()
    bad_point["stages"][f"prune{EVIL}"]["pruning_curve"][1]["params"] = "many"
    for data, message in ((train_record(file="other.pth"), "describes 'other.pth'"),
                          (bad_point, "bad or missing 'params'"), ([1, 2], "not a JSON object")):
        write_sidecar(tmp_path, data)
        with pytest.warns(TrainingRecordWarning, match=message):
            assert training_summary(ckpt, {}) is None
    (tmp_path / "slimrlfn_prune_x4.train.json").write_text("{not json")
    with pytest.warns(TrainingRecordWarning, match="slimrlfn_prune_x4.train.json: training record not used"):
        assert training_summary(ckpt, {}) is None


def test_runner_copies_the_curve_so_the_record_alone_renders_it(tmp_path):
    from sr_harness.models import build_model, save_model

    ckpt = tmp_path / "slimrlfn_prune_x4.pth"
    save_model(build_model("slimrlfn_x4"), ckpt, extra={"train_record": "slimrlfn_prune_x4.train.json"})
    write_sidecar(tmp_path, train_record())
    plain = tmp_path / "plain" / "slimrlfn_x4.pth"
    plain.parent.mkdir()
    save_model(build_model("slimrlfn_x4"), plain)
    entries = (ModelEntry("slimrlfn_x4", checkpoint=str(ckpt), variant="pruned", label="slimrlfn_prune_x4"),
               ModelEntry("slimrlfn_x4", checkpoint=str(plain), variant="plain"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingRecordWarning)
        rec = run(config(*entries), datasets=[TinySet([(20, 20)])])
    rows = {r["model"]: r for r in rec["results"]}
    assert rows["slimrlfn_x4"]["training"] is None
    assert rows["slimrlfn_prune_x4"]["training"]["pruning"][0]["curve"] == curve()
    (tmp_path / "slimrlfn_prune_x4.train.json").unlink()  # the record must not need the file any more
    loaded = load_record(write_record(rec, tmp_path / "run.json"))
    html = render([loaded])
    assert html.count("Pruning curve — slimrlfn_prune_x4") == 1 and html.count('<tr class="pruning-step">') == 3


@pytest.mark.skipif(not SHIPPED.is_file(), reason="shipped pruned checkpoint not in this checkout")
def test_shipped_pruned_checkpoint_has_a_curve_ending_at_its_size():
    from sr_harness.models import load_model

    module, info = load_model(SHIPPED, map_location="cpu")
    summary = training_summary(SHIPPED, info.extra)
    kept = [p for p in summary["pruning"][0]["curve"] if p["accepted"]]
    assert kept[-1]["params"] == sum(p.numel() for p in module.parameters())
