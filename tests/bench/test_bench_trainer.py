"""Trainer step throughput vs a bare PyTorch loop on the same model and batch size (overhead target <= 10%).

Run with ``pytest tests/bench/test_bench_trainer.py --benchmark-enable``: RLFN_ntire x4, batch 16, LR patch 32
(the cpu_default setting), rounds interleaved so machine load hits both loops alike; the ratio of median
per-step times is in the benchmark JSON's extra_info and printed. Under ``--benchmark-disable`` (the default
test run) it runs once on a tiny setting and checks only that both loops ran.
"""

import pathlib
import statistics
import time

import pytest
import torch

from sr_harness import models
from sr_harness.trainer import distributed
from sr_harness.trainer.config import StageConfig
from sr_harness.trainer.data import PatchDataset, PatchStream
from sr_harness.trainer.logs import JsonlLog
from sr_harness.trainer.loop import StepBudget, train_stage
from sr_harness.trainer.losses import charbonnier
from sr_harness.trainer.stages import RunContext, RunPaths

pytestmark = pytest.mark.bench


def _pairs(n, lr_side, scale=4):
    g = torch.Generator().manual_seed(0)
    hr = [(torch.rand(3, lr_side * scale, lr_side * scale, generator=g) * 255).to(torch.uint8) for _ in range(n)]
    return [(f"img{i}", torch.nn.functional.avg_pool2d(h[None].float(), scale)[0].to(torch.uint8), h)
            for i, h in enumerate(hr)]


def test_trainer_overhead_vs_bare_loop(benchmark, tmp_path: pathlib.Path, capsys):
    enabled = not benchmark.disabled
    batch, lr_patch, steps, rounds = (16, 32, 10, 7) if enabled else (2, 16, 2, 1)
    torch.manual_seed(0)
    model = models.build_model("rlfn_ntire_x4")
    stage = StageConfig(name="bench", model="m", steps=steps, hr_patch=4 * lr_patch, batch_size=batch, lr=5e-4,
                        log_every=10, checkpoint_every=10**9)
    dataset = PatchDataset(_pairs(4, 96), hr_patch=4 * lr_patch, scale=4, seed=0, patches_per_image=64)
    stream = PatchStream(dataset, global_batch=batch)
    ctx = RunContext(device=torch.device("cpu"), dist=distributed.Dist(), log=JsonlLog(tmp_path / "log.jsonl"),
                     paths=RunPaths(tmp_path, tmp_path), seed=0, budget=StepBudget(), progress=False)
    lr_batch, hr_batch = (t.float() for t in next(stream.batches(0)))
    bare_opt = torch.optim.Adam(model.parameters(), lr=5e-4)

    def bare(n):
        for _ in range(n):
            loss = charbonnier(model(lr_batch), hr_batch)
            bare_opt.zero_grad(set_to_none=True)
            loss.backward()
            bare_opt.step()

    def interleaved():
        per_step = {"trainer": [], "bare": []}
        for _ in range(rounds):
            start = time.perf_counter()
            train_stage(model, stage, stream=stream, val_images=[], ctx=ctx)
            per_step["trainer"].append((time.perf_counter() - start) / steps)
            start = time.perf_counter()
            bare(steps)
            per_step["bare"].append((time.perf_counter() - start) / steps)
        return per_step

    if enabled:
        interleaved()  # warm-up round
    per_step = benchmark.pedantic(interleaved, rounds=1, iterations=1)
    trainer_s, bare_s = statistics.median(per_step["trainer"]), statistics.median(per_step["bare"])
    overhead = trainer_s / bare_s - 1.0
    benchmark.extra_info.update(trainer_step_s=trainer_s, bare_step_s=bare_s, overhead=overhead, batch=batch,
                                lr_patch=lr_patch, threads=torch.get_num_threads(), model="rlfn_ntire_x4")
    with capsys.disabled():
        print("" if enabled else "\n(smoke setting, not a measurement)", end="")
        print(f"\ntrainer {trainer_s * 1e3:.1f} ms/step, bare loop {bare_s * 1e3:.1f} ms/step, "
              f"overhead {overhead * 100:+.1f}%")
    assert len(per_step["trainer"]) == rounds and all(t > 0 for t in per_step["bare"])
    if enabled:
        assert overhead <= 0.10
