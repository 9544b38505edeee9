"""The stage loop: training lowers the loss; a killed run resumes to bit-identical weights."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest
import torch
from test_train_support import write_images, write_recipe

from sr_harness import models
from sr_harness.trainer.config import load_recipe
from sr_harness.trainer.loop import StopTraining
from sr_harness.trainer.stages import RecipeRun, TrainError

TWO_STAGES = """
[[stages]]
name = "teacher"
model = "teacher"
steps = 4

[[stages]]
name = "student_distill"
model = "student"
teacher = "teacher"
distill_weight = 0.5
steps = 8
"""

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture()
def images(tmp_path):
    return write_images(tmp_path / "img")


def run(recipe_path, out, **kw):
    runner = RecipeRun(load_recipe(recipe_path), out=out, device="cpu", progress=False, **kw)
    runner.run()
    return runner


def weights(path):
    return models.load_model(path)[0].state_dict()


def assert_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_few_steps_lower_the_loss(tmp_path, images):
    recipe = write_recipe(tmp_path / "r.toml", images, '[[stages]]\nname = "s"\nmodel = "rlfn"\nsteps = 30\n'
                          'log_every = 5\nlr = 5e-3\n')
    run(recipe, tmp_path / "out")
    losses = [r["loss"] for r in map(json.loads, (tmp_path / "out" / "log.jsonl").read_text().splitlines())
              if r["event"] == "step"]
    assert len(losses) == 6
    assert losses[-1] < 0.7 * losses[0]


def test_resume_after_stop_is_bit_identical(tmp_path, images):
    recipe = write_recipe(tmp_path / "r.toml", images, TWO_STAGES)
    run(recipe, tmp_path / "full")
    with pytest.raises(StopTraining):  # "killed" mid-way through the second stage, after its step-6 checkpoint
        run(recipe, tmp_path / "cut", max_steps=4 + 7)
    assert torch.load(tmp_path / "cut" / "state.pt", map_location="cpu", weights_only=True)["step"] == 6
    run(recipe, tmp_path / "cut", resume=True)
    for stage in ("teacher", "student_distill"):
        assert_identical(weights(tmp_path / "full" / "stages" / f"{stage}.pth"),
                         weights(tmp_path / "cut" / "stages" / f"{stage}.pth"))


def test_existing_run_needs_resume(tmp_path, images):
    recipe = write_recipe(tmp_path / "r.toml", images, '[[stages]]\nname = "s"\nmodel = "rlfn"\nsteps = 1\n')
    run(recipe, tmp_path / "out")
    with pytest.raises(TrainError, match="--resume"):
        run(recipe, tmp_path / "out")


def _train_cmd(recipe, out, *extra):
    return [sys.executable, "-m", "sr_harness.trainer", "train", "--recipe", str(recipe), "--out", str(out),
            "--device", "cpu", "--threads", "1", "--no-progress", *extra]


@pytest.mark.bench  # the kill lands at a time, not at a step: run by the perf env
def test_resume_after_sigkill_is_bit_identical(tmp_path, images):
    body = '[[stages]]\nname = "s"\nmodel = "student"\nsteps = 80\ncheckpoint_every = 2\n'
    recipe = write_recipe(tmp_path / "r.toml", images, body)
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(_train_cmd(recipe, tmp_path / "cut"), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state = tmp_path / "cut" / "state.pt"
    deadline = time.monotonic() + 120
    while not state.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, stderr.decode()
    assert not (tmp_path / "cut" / "stages" / "s.pth").exists()
    killed_at = torch.load(state, map_location="cpu", weights_only=True)["step"]
    assert 0 < killed_at < 80
    done = subprocess.run(_train_cmd(recipe, tmp_path / "cut", "--resume"), cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    torch.set_num_threads(1)
    run(recipe, tmp_path / "full")
    assert_identical(weights(tmp_path / "full" / "stages" / "s.pth"), weights(tmp_path / "cut" / "stages" / "s.pth"))


@pytest.mark.gpu
def test_cuda_stage_trains_and_resumes(tmp_path, images, cuda_device):
    recipe = write_recipe(tmp_path / "r.toml", images, TWO_STAGES)
    runner = RecipeRun(load_recipe(recipe), out=tmp_path / "gpu", device=cuda_device, progress=False)
    runner.run()
    assert runner.dist.device.type == "cuda"
    assert weights(tmp_path / "gpu" / "stages" / "student_distill.pth")["conv_1.weight"].device.type == "cpu"


def test_exports_carry_provenance_and_the_data_manifest(tmp_path):
    import json

    from test_train_support import write_images, write_recipe

    from sr_harness.trainer.cli import main

    data = write_images(tmp_path / "img", n=3)
    write_images(tmp_path / "img" / "small", n=1, size=40, seed=5)  # recursive; smaller than the 64 HR patch
    recipe = write_recipe(tmp_path / "r.toml", data, '[[stages]]\nname = "s"\nmodel = "student"\nsteps = 2\n',
                          exports='[[exports]]\nstage = "s"\nfile = "s.pth"\n')
    assert main(["train", "--recipe", str(recipe), "--out", str(tmp_path / "out"), "--device", "cpu",
                 "--no-progress", "--threads", "1"]) == 0
    record = json.loads((tmp_path / "out" / "export" / "s.train.json").read_text())
    manifest = record["data_manifest"]
    assert manifest["n_files"] == 4 and len(manifest["hash"]) == 64
    assert [f["name"] for f in manifest["files"]][-1] == "img/small/img0.png"
    assert manifest["skipped_smaller_than_patch"] == {"s": ["img/small/img0.png"]}
    assert record["git"].keys() == {"commit", "dirty"} and len(record["recipe_hash"]) == 64
    assert record["resolved_recipe"]["stages"][0]["steps"] == 2
    config = models.load_model(tmp_path / "out" / "export" / "s.pth")[1].config
    assert config["recipe_hash"] == record["recipe_hash"] and config["data_manifest_hash"] == manifest["hash"]
