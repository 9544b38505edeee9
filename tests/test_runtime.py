"""Runtime protocol structure on CPU; CUDA paths when a GPU is present."""

import itertools
import json
import time

import numpy as np
import pytest
import torch
from torch import nn

from sr_harness import models
from sr_harness.protocols.runtime import (ForwardTimer, bootstrap_ci, measure_interleaved, ntire_pass, ntire_result,
                                         ratio_ci)


class ColdStart(nn.Module):
    """Sleeps ``cold_s`` on its first ``cold_calls`` calls, then returns at once: a visible cold start."""

    def __init__(self, cold_calls=2, cold_s=0.03):
        super().__init__()
        self.calls, self.cold_calls, self.cold_s = 0, cold_calls, cold_s

    def forward(self, x):
        self.calls += 1
        if self.calls <= self.cold_calls:
            time.sleep(self.cold_s)
        return x


INPUTS = [torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 12), torch.zeros(1, 3, 16, 8)]


def ntire_timed(model, inputs, device="cpu"):
    """The runner's NTIRE timing: each input once, in order, inside ntire_pass, each forward by ForwardTimer."""
    timer = ForwardTimer(device)
    with ntire_pass(), torch.inference_mode():
        samples = [timer.timed(model, x)[1] for x in inputs]
        return ntire_result(samples, device=device, cold=True)


@pytest.mark.bench  # asserts on wall-clock times: run by the perf env, never by the default tox
def test_ntire_timing_times_each_input_once_including_cold_start():
    model = ColdStart(cold_calls=1)
    result = ntire_timed(model, INPUTS)
    assert model.calls == len(INPUTS) and result.n == len(INPUTS) and result.input_index == [0, 1, 2]
    assert (result.warmup, result.repeats) == (0, 1)
    assert result.samples_ms[0] >= 25.0 > max(result.samples_ms[1:])


def test_ntire_result_is_the_mean_over_every_image_without_a_ci():
    result = ntire_result([5.0, 1.0, 3.0, 1.0], device="cpu", cold=True)
    assert result.mean_ms == 2.5 and result.median_ms == 2.0 and result.ci_low_ms is None is result.ci_high_ms
    assert result.device == "cpu" and result.unit == "ms" and not result.ntire_comparable  # a CPU time
    assert result.threads == torch.get_num_threads() and result.mode == "ntire"


@pytest.mark.bench  # asserts on wall-clock times: run by the perf env, never by the default tox
def test_steady_timing_excludes_warmup_and_reports_median_with_ci():
    model = ColdStart(cold_calls=len(INPUTS))
    result = measure_interleaved({"m": model}, INPUTS, device="cpu", warmup=1, rounds=4)["m"]
    assert model.calls == len(INPUTS) * 5
    assert result.n == 12 and result.repeats == 4 and result.warmup == 1
    assert max(result.samples_ms) < 25.0  # the slow warm-up calls were not timed
    assert result.ci_low_ms <= result.median_ms <= result.ci_high_ms
    assert result.median_ms == pytest.approx(np.median(result.samples_ms))
    assert result.input_index == [0, 1, 2] * 4
    json.dumps(result.to_dict())  # records must serialise


def test_real_model_and_recorded_flags():
    model = models.build_model("slimrlfn_x4")
    x = [torch.rand(1, 3, 16, 16) * 255]
    result = measure_interleaved({"slim": model}, x, device="cpu", warmup=1, rounds=3)["slim"]
    assert all(s > 0 for s in result.samples_ms) and result.precision == "fp32"
    for key in ("tf32_cudnn", "tf32_matmul", "cudnn_benchmark", "gpu_name", "driver", "torch", "cuda", "cudnn", "cpu_model"):
        assert key in result.flags
    assert result.flags["torch"] == torch.__version__


def test_half_precision_is_flagged_and_leaves_the_model_alone():
    model = nn.Conv2d(3, 3, 3, padding=1)
    result = measure_interleaved({"conv": model}, INPUTS[:1], device="cpu", warmup=0, rounds=1, half=True)["conv"]
    assert result.precision == "fp16" and not result.ntire_comparable
    assert model.weight.dtype == torch.float32


def test_ntire_pass_turns_cudnn_benchmark_off_and_restores_it():
    saved = torch.backends.cudnn.benchmark
    try:
        torch.backends.cudnn.benchmark = True
        result = ntire_timed(ColdStart(0), INPUTS)
        assert result.flags["cudnn_benchmark"] is False
        assert torch.backends.cudnn.benchmark is True
    finally:
        torch.backends.cudnn.benchmark = saved


@pytest.mark.bench  # asserts on wall-clock times: run by the perf env, never by the default tox
def test_interleaved_returns_every_model_with_all_samples():
    fast, slow = ColdStart(0), ColdStart(cold_calls=10**9, cold_s=0.003)
    results = measure_interleaved({"fast": fast, "slow": slow, "fn": lambda x: x}, INPUTS, device="cpu",
                                  warmup=1, rounds=4)
    assert set(results) == {"fast", "slow", "fn"}
    for result in results.values():
        assert result.n == 4 * len(INPUTS) and result.mode == "steady" and result.repeats == 4
    assert fast.calls == slow.calls == 5 * len(INPUTS)
    ratio, low, high = ratio_ci(results["slow"].samples_ms, results["fast"].samples_ms)
    assert ratio > 1 and low <= ratio <= high and low > 1


def test_interleaved_order_gives_each_model_a_fixed_predecessor_and_every_position():
    calls = []
    nets = {name: (lambda x, name=name: calls.append(name) or x) for name in "abcd"}
    measure_interleaved(nets, INPUTS, device="cpu", warmup=0, rounds=4)
    per_round = len(INPUTS) * 4
    for start in range(0, len(calls), per_round):
        one_round = calls[start:start + per_round]
        assert all(sorted(one_round[at:at + 4]) == list("abcd") for at in range(0, per_round, 4))
        for prev, cur in itertools.pairwise(one_round):  # inside a round: always right after the same model
            assert prev == "abcd"["abcd".index(cur) - 1]
    assert {calls[at] for at in range(0, len(calls), per_round)} == set("abcd")  # each model leads one round


@pytest.mark.bench  # asserts on wall-clock times: run by the perf env, never by the default tox
def test_one_thread_also_records_the_forwards_thread_cpu_time_which_excludes_waiting():
    sleeper = ColdStart(cold_calls=10**9, cold_s=0.02)  # waits without using the CPU, as when descheduled
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = measure_interleaved({"sleeper": sleeper}, INPUTS, device="cpu", warmup=0, rounds=2)["sleeper"]
        torch.set_num_threads(2)
        two = measure_interleaved({"sleeper": sleeper}, INPUTS, device="cpu", warmup=0, rounds=2)["sleeper"]
    finally:
        torch.set_num_threads(previous)
    assert len(one.cpu_samples_ms) == len(one.samples_ms) == 2 * len(INPUTS)
    assert min(one.samples_ms) >= 20.0 and max(one.cpu_samples_ms) < 10.0
    assert two.cpu_samples_ms == []  # other threads' work would be missing from this thread's clock


def test_results_of_several_processes_merge_in_process_order_with_statistics_over_all():
    from sr_harness.protocols.runtime import RuntimeResult, merge_results

    def part(samples, cpu):
        return RuntimeResult("steady", "cpu", samples, 0, 0, None, None, len(samples), 1, 1, 1, "fp32", False, {},
                             input_index=[0, 1] * (len(samples) // 2), cpu_samples_ms=cpu)

    merged = merge_results([part([1.0, 2.0], [0.5, 1.0]), part([3.0, 4.0, 5.0, 6.0], [1.5, 2.0, 2.5, 3.0])])
    assert merged.samples_ms == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0] and merged.input_index == [0, 1, 0, 1, 0, 1]
    assert merged.cpu_samples_ms == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert merged.median_ms == 3.5 and merged.mean_ms == 3.5 and merged.n == 6
    assert merged.processes == 2 and merged.repeats == 2 and merged.ci_low_ms <= 3.5 <= merged.ci_high_ms
    # a part without thread CPU time (more than one thread there) leaves the merge on the wall clock
    assert merge_results([part([1.0, 2.0], [0.5, 1.0]), part([3.0, 4.0], [])]).cpu_samples_ms == []


def test_bootstrap_and_ratio_ci():
    rng = np.random.default_rng(0)
    base = rng.normal(10.0, 0.2, 200)
    low, high = bootstrap_ci(base)
    assert low < np.median(base) < high and high - low < 0.2
    ratio, low, high = ratio_ci(base * 1.5, base)
    assert ratio == pytest.approx(1.5) and low < 1.5 < high
    _, low, high = ratio_ci(base, rng.normal(10.0, 0.2, 200))
    assert low < 1.0 < high
    assert bootstrap_ci([3.0]) == (3.0, 3.0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="rounds"):
        measure_interleaved({"m": ColdStart(0)}, INPUTS, device="cpu", warmup=0, rounds=0)
    with pytest.raises(ValueError, match="at least one input"):
        measure_interleaved({"m": ColdStart(0)}, [], device="cpu", warmup=0, rounds=1)
    with pytest.raises(ValueError):
        measure_interleaved({}, INPUTS, device="cpu", warmup=0, rounds=1)
    with pytest.raises(TypeError):
        measure_interleaved({"f": lambda x: x}, INPUTS, device="cpu", warmup=0, rounds=1, half=True)


@pytest.mark.gpu
def test_cuda_ntire_and_steady(cuda_device):
    model = models.build_model("rlfn_ntire_x4").to(cuda_device)
    inputs = [torch.rand(1, 3, 64, 64, device=cuda_device) * 255 for _ in range(3)]
    ntire = ntire_timed(model, inputs, device=cuda_device)
    assert ntire.device == "cuda" and ntire.ntire_comparable and ntire.n == 3
    assert ntire.flags["gpu_name"] and ntire.flags["cuda"]
    steady = measure_interleaved({"m": model}, inputs, device=cuda_device, warmup=2, rounds=5)["m"]
    assert steady.n == 15 and steady.ci_low_ms <= steady.median_ms <= steady.ci_high_ms
    assert not steady.ntire_comparable
    half = measure_interleaved({"m": model}, inputs, device=cuda_device, warmup=1, rounds=2, half=True)["m"]
    assert half.precision == "fp16" and not half.ntire_comparable


@pytest.mark.gpu
def test_cuda_interleaved(cuda_device):
    fns = {n: models.build_model(n).to(cuda_device) for n in ("rlfn_ntire_x4", "slimrlfn_x4")}
    inputs = [torch.rand(1, 3, 64, 64, device=cuda_device) * 255]
    results = measure_interleaved(fns, inputs, device=cuda_device, warmup=2, rounds=5)
    assert set(results) == set(fns) and all(r.n == 5 and r.device == "cuda" for r in results.values())
