"""CPU forward time of SlimRLFN unfused (training form) vs fused (deploy) vs RLFN_ntire at a 256x256 LR input.

Run with ``pytest tests/bench/test_bench_models.py --benchmark-enable``. Under ``--benchmark-disable`` (the
default test run) each benchmark runs once as a plain test on a 64x64 input, to keep ``tox`` fast. Absolute times depend on the machine; the
interleaved test measures the ratios within one run so that load from other processes hits all models alike.
"""

import statistics

import pytest
import torch

from sr_harness.models import build_model, fuse
from sr_harness.protocols.runtime import measure_interleaved, ratio_ci

pytestmark = pytest.mark.bench

LR_SHAPE = (1, 3, 256, 256)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    unfused = build_model("slimrlfn_unfused_x4").eval()
    return {"slimrlfn_unfused_x4": unfused, "slimrlfn_x4": fuse(unfused).eval(),
            "rlfn_ntire_x4": build_model("rlfn_ntire_x4").eval()}


@pytest.fixture
def lr_input(benchmark):
    shape = (1, 3, 64, 64) if benchmark.disabled else LR_SHAPE
    return torch.rand(shape, generator=torch.Generator().manual_seed(0)) * 255


def forward(model, x):
    with torch.inference_mode():
        return model(x)


@pytest.mark.parametrize("name", ["slimrlfn_unfused_x4", "slimrlfn_x4", "rlfn_ntire_x4"])
def test_cpu_forward_256(benchmark, nets, lr_input, name):
    benchmark.group = "cpu forward 1x3x256x256"
    benchmark.extra_info.update(model=name, threads=torch.get_num_threads(), input=list(lr_input.shape))
    out = benchmark.pedantic(forward, args=(nets[name], lr_input), rounds=5, iterations=1, warmup_rounds=1)
    assert out.shape == (1, 3, 4 * lr_input.shape[2], 4 * lr_input.shape[3])


def test_interleaved_ratios_256(benchmark, nets, lr_input, capsys):
    """Median time ratios unfused/fused and rlfn_ntire/fused from one round-robin run (bootstrap 95% CI).

    The whole interleaved run is the benchmarked call (one round), so the ratios land in the benchmark
    JSON's extra_info.
    """
    rounds, warmup = (1, 0) if benchmark.disabled else (9, 1)
    benchmark.group = "interleaved ratios 1x3x256x256"

    def run():
        return measure_interleaved({n: nets[n] for n in nets}, [lr_input], device="cpu", warmup=warmup,
                                   rounds=rounds)

    results = benchmark.pedantic(run, rounds=1, iterations=1)
    fused = results["slimrlfn_x4"].samples_ms
    ratios = {f"{n}/slimrlfn_x4": ratio_ci(results[n].samples_ms, fused)
              for n in ("slimrlfn_unfused_x4", "rlfn_ntire_x4")}
    # Per-round ratios pair timings taken seconds apart, so slow drifts in machine load cancel.
    paired = {f"{n}/slimrlfn_x4 paired": statistics.median(a / b for a, b in zip(results[n].samples_ms, fused))
              for n in ("slimrlfn_unfused_x4", "rlfn_ntire_x4")}
    benchmark.extra_info.update({k: list(v) for k, v in ratios.items()}, **paired,
                                median_ms={n: r.median_ms for n, r in results.items()}, rounds=rounds,
                                threads=torch.get_num_threads())
    with capsys.disabled():
        for key, (ratio, low, high) in ratios.items():
            print(f"\n{key}: median ratio {ratio:.2f} (95% CI {low:.2f}-{high:.2f}, {rounds} rounds), "
                  f"median per-round ratio {paired[key + ' paired']:.2f}", end="")
    assert all(r.n == rounds for r in results.values())
    # The two forms compute the same function, so the speed comparison is between equals.
    with torch.inference_mode():
        a, b = nets["slimrlfn_unfused_x4"](lr_input[..., :32, :32]), nets["slimrlfn_x4"](lr_input[..., :32, :32])
    assert ((a - b).abs().max() / b.abs().max()).item() < 1e-5
