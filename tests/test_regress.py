"""The regression check on real timings: the speed A/B passes an unchanged models folder and fails a planted
slowdown (bench), and a planted 0.01 dB accuracy drop fails compare against a baseline.
"""

import copy

import pytest
import torch

from sr_harness.gate.compare import compare
from sr_harness.config.build import ProtocolConfig, RunConfig
from sr_harness.run.timing import REFERENCE_KEY, time_models
from sr_harness.models import build_model

SIDE = 75  # LR pixels per side: ~10-20 ms per forward on one core, long enough to dwarf timer and call overhead
ROUNDS = 10
N_INPUTS = 2


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return {"reference": build_model("rlfn_ntire_x4").eval(), "slimrlfn_x4": build_model("slimrlfn_x4").eval(),
            "rlfn_s_x4": build_model("rlfn_s_x4").eval()}


@pytest.fixture(scope="module")
def inputs():
    gen = torch.Generator().manual_seed(1)
    return [torch.rand(1, 3, SIDE, SIDE, generator=gen) * 255 for _ in range(N_INPUTS)]


def timed_record(models: dict, reference, inputs) -> dict:
    cfg = RunConfig(suite=None, models=(), data=(),
                    protocol=ProtocolConfig(warmup=1, rounds=ROUNDS, timing_size=SIDE))
    runtime, speed, _ = time_models({**models, REFERENCE_KEY: reference}, inputs, cfg)
    rows = [{"model": name, "arch": name, "variant": "random weights", "dataset": "synthetic", "n_images": N_INPUTS,
             "metrics": {"psnr_y": 30.0, "psnr_rgb": 28.0, "ssim_y": 0.9}, "runtime": runtime[name],
             "speed": speed[name]} for name in models]
    return {"kind": "sr-harness-run", "schema_version": 3, "config": {}, "run_id": "t", "env": {"device": "cpu"}, "results": rows}


@pytest.mark.bench  # real timings: a loaded machine can fail it, so it runs in `tox -e perf` only
def test_the_ab_passes_an_unchanged_tree_and_fails_a_planted_shared_slowdown(tmp_path):
    """The A/B as compare --base runs it (default suite's models and settings), against copies of the models
    folder: one unchanged, one with ~20 % of slimrlfn_x4's time added in the ESA block every model runs."""
    import shutil
    from pathlib import Path

    import sr_harness.models
    from sr_harness.gate.speed_ab import measure_and_judge, timing_inputs
    from sr_harness.gate.ab_timing import BASE, HEAD, Side
    from sr_harness.gate.calibrate import _plant_text, tune
    from sr_harness.config.build import build_config
    from sr_harness.gate.stats import DEFAULT_AB_PROCESSES, DEFAULT_AB_ROUNDS

    cfg = build_config("default")
    _, crops = timing_inputs(cfg)
    models = Path(sr_harness.models.__file__).parent
    for name in ("same", "slow"):
        shutil.copytree(models, tmp_path / name / "models", ignore=shutil.ignore_patterns("__pycache__"))
    blocks = tmp_path / "slow" / "models" / "blocks.py"
    blocks.write_text(_plant_text("shared", blocks, tune(crops, [0.2])["shared"][0.2]))
    checkpoints = tuple((e.key, e.checkpoint) for e in cfg.models if e.checkpoint)
    base = Side(BASE, str(models), checkpoints)
    settings = dict(processes=DEFAULT_AB_PROCESSES, rounds=DEFAULT_AB_ROUNDS, warmup=1, threads=1)
    for name, expected in (("same", {"ok"}), ("slow", {"regressed"})):
        head = Side(HEAD, str(tmp_path / name / "models"), checkpoints)
        verdicts = measure_and_judge(head, base, crops, 0.03, settings)[2]
        statuses = {verdicts["slimrlfn_x4"][0], verdicts["rlfn_ntire_x4"][0]}
        assert statuses <= expected | ({"improved"} if name == "same" else set()), (name, verdicts)


def test_planted_accuracy_drop_of_001_db_fails(nets, inputs):
    baseline = timed_record({"slimrlfn_x4": nets["slimrlfn_x4"]}, nets["reference"], inputs)
    planted = copy.deepcopy(baseline)
    planted["results"][0]["metrics"]["psnr_y"] -= 0.01
    deltas = compare(planted, baseline)
    assert [d.metric for d in deltas if d.failing] == ["psnr_y"]
