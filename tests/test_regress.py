"""The regression check proven on real, interleaved timings in-process (tiny models, small inputs).

What CI sees on a loaded 2-core box: other processes steal time in bursts. The check compares each model's
time as a paired ratio to a reference timed in the same rounds, so bursts hit both sides; an unchanged re-run
must pass, a planted ~20 % slowdown of one model must fail, and a planted 0.01 dB accuracy drop must fail.
"""

import copy

import pytest
import torch

from sr_harness.compare import compare, has_regression
from sr_harness.config import ProtocolConfig, RunConfig
from sr_harness.timing import REFERENCE_KEY, time_models
from sr_harness.models import build_model

SIDE = 75  # LR pixels per side: ~10-20 ms per forward on one core, long enough to dwarf timer and call overhead;
# the slowed model's extra strip is then 15 rows = 20 % of the image (15 is the models' minimum input)
ROUNDS = 10
N_INPUTS = 2


class Slowed(torch.nn.Module):
    """Does ~20 % extra work: the same forward again on a strip of a fifth of the rows."""

    def __init__(self, model):
        super().__init__()
        self.model, self.data_range = model, model.data_range

    def forward(self, x):
        out = self.model(x)
        self.model(x[..., : max(15, x.shape[-2] // 5), :])
        return out


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
    return {"kind": "sr-harness-run", "run_id": "t", "env": {"device": "cpu"}, "results": rows}


@pytest.mark.bench  # real timings: a loaded machine can fail it, so it runs in `tox -e perf` only
def test_unchanged_rerun_passes_and_planted_slowdown_fails(nets, inputs):
    models = {"slimrlfn_x4": nets["slimrlfn_x4"], "rlfn_s_x4": nets["rlfn_s_x4"]}
    baseline = timed_record(models, nets["reference"], inputs)
    rerun = timed_record(models, nets["reference"], inputs)
    deltas = compare(rerun, baseline)
    assert not has_regression(deltas), [d for d in deltas if d.failing]

    slowed = timed_record({**models, "slimrlfn_x4": Slowed(nets["slimrlfn_x4"])}, nets["reference"], inputs)
    deltas = compare(slowed, baseline)
    moved = {d.model: d for d in deltas if d.metric == "time_ratio"}
    assert moved["slimrlfn_x4"].status == "regressed", moved["slimrlfn_x4"]
    assert moved["rlfn_s_x4"].status == "ok", moved["rlfn_s_x4"]  # the untouched model is not blamed
    assert has_regression(deltas)


def test_planted_accuracy_drop_of_001_db_fails(nets, inputs):
    baseline = timed_record({"slimrlfn_x4": nets["slimrlfn_x4"]}, nets["reference"], inputs)
    planted = copy.deepcopy(baseline)
    planted["results"][0]["metrics"]["psnr_y"] -= 0.01
    deltas = compare(planted, baseline)
    assert [d.metric for d in deltas if d.failing] == ["psnr_y"]
