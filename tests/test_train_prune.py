"""Iterative pruning bookkeeping: widths step toward the target, params/FLOPs shrink, the floor stops it."""

import json

from test_train_support import write_images, write_recipe

from sr_harness import models
from sr_harness.trainer.config import load_recipe
from sr_harness.trainer.stages import RecipeRun

PRUNE = """
[[stages]]
name = "train"
model = "student"
steps = 3

[[stages]]
name = "prune"
model = "student"
kind = "prune"
target_widths = [[4, 4], [6, 6]]
prune_channels = 2
finetune_steps = 2
{floor}

[[exports]]
stage = "prune"
file = "pruned.pth"
form = "fused"
"""


def run(tmp_path, floor):
    recipe = write_recipe(tmp_path / "r.toml", write_images(tmp_path / "img"), PRUNE.format(floor=floor))
    runner = RecipeRun(load_recipe(recipe), out=tmp_path / "out", device="cpu", progress=False)
    runner.run()
    return runner, json.loads((tmp_path / "out" / "pruning.json").read_text())


def test_pruning_steps_are_recorded(tmp_path):
    runner, curve = run(tmp_path, "max_drop_db = 100.0")
    steps = curve["steps"]
    assert [s["inner_widths"] for s in steps] == [[[8, 8], [8, 8]], [[6, 6], [6, 6]], [[4, 4], [6, 6]]]
    assert [s["step"] for s in steps] == [0, 1, 2]
    params = [s["params"] for s in steps]
    flops = [s["flops_g"] for s in steps]
    assert params[0] > params[1] > params[2] and flops[0] > flops[1] > flops[2]
    assert all(s["accepted"] for s in steps) and all(isinstance(s["psnr_y"], float) for s in steps)
    assert curve["floor_db"] == steps[0]["psnr_y"] - 100.0
    final = runner.current["student"]
    assert [tuple(w) for w in final.inner_widths] == [(4, 4), (6, 6)] and models.is_unfused(final)
    # the fused deploy model has exactly the params recorded for the last step
    fused = models.fuse(final)
    assert sum(p.numel() for p in fused.parameters()) == params[-1]
    summary = runner.finished["runs"]["prune"]
    assert summary["pruning_curve"] == steps and not summary["stopped_by_floor"]


def test_floor_stops_pruning_and_keeps_the_last_good_model(tmp_path):
    runner, curve = run(tmp_path, "psnr_floor_db = 200.0")
    steps = curve["steps"]
    assert len(steps) == 2 and steps[1]["accepted"] is False
    assert [tuple(w) for w in runner.current["student"].inner_widths] == [(8, 8), (8, 8)]
    assert runner.finished["runs"]["prune"]["stopped_by_floor"]
