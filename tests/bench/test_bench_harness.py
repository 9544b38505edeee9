"""Benchmark: harness overhead (decode, metrics, record writing) against model forward time, default suite.

The default suite's architectures run over the embedded evaluation set exactly as `tox -e bench` runs them
(random weights stand in for checkpoints that are not there yet: forward cost does not depend on the weights).
The runner clocks each phase; the ratio (open + decode + metrics wait + record write) / forward does not depend
on the machine's speed. The target is <= 10 %. One warm-up run first, so one-off module imports (skimage, fvcore)
are not charged to the run.

The runner computes image i's metrics on a worker thread while image i+1 goes through the model, so the
metrics cost wall time only where they outlast the forwards; their full compute time (`metrics_cpu`) is
reported beside the ratio. Both the total and the decode + records part are asserted against the target.
"""

import dataclasses
import pathlib
import time

import pytest

from sr_harness.config.build import BICUBIC, build_config
from sr_harness.records.run import write_record
from sr_harness.run.runner import run

MAX_RATIO = 0.10


def default_suite_config():
    cfg = build_config("default", rounds=1, warmup=0)
    models = tuple(m if m.name == BICUBIC or pathlib.Path(m.checkpoint).is_file()
                   else dataclasses.replace(m, checkpoint=None, variant="random weights (benchmark)")
                   for m in cfg.models)
    return dataclasses.replace(cfg, models=models)


@pytest.mark.bench
def test_harness_overhead_vs_forward(benchmark, tmp_path):
    cfg = default_suite_config()
    state = {}

    def evaluate():
        record = run(cfg)
        start = time.perf_counter()
        write_record(record, tmp_path / "run.json", force=True)
        state["record"], state["write_s"] = record, time.perf_counter() - start

    evaluate()  # warm-up, called here: pytest-benchmark ignores warmup_rounds under --benchmark-disable (tox)
    benchmark.pedantic(evaluate, rounds=1, iterations=1)
    phases = state["record"]["phase_seconds"]
    overhead = phases["open_data"] + phases["decode"] + phases["metrics"] + state["write_s"]
    ratio = overhead / phases["forward"]
    plumbing = (phases["open_data"] + phases["decode"] + state["write_s"]) / phases["forward"]
    metrics_cpu_ratio = phases["metrics_cpu"] / phases["forward"]
    benchmark.extra_info.update({"overhead_ratio": ratio, "overhead_without_metrics_ratio": plumbing,
                                 "metrics_cpu_ratio": metrics_cpu_ratio,
                                 **{f"{k}_s": v for k, v in phases.items()}, "record_write_s": state["write_s"]})
    print(f"\nharness overhead / forward = {ratio:.3f} (decode+records only: {plumbing:.3f}; metrics compute, "
          f"overlapped with the forwards: {metrics_cpu_ratio:.3f}); phases {phases}")
    assert plumbing <= MAX_RATIO, f"decode + records cost {plumbing:.1%} of forward time"
    assert ratio <= MAX_RATIO, (f"decode + metrics + records = {ratio:.1%} of forward time "
                                f"(metrics {phases['metrics'] / phases['forward']:.1%}, decode + records {plumbing:.1%})")
