"""`calibrate`: the speed gate's error rates, measured on this machine instead of asserted.

Real runs: the speed reference, an identical copy of it, an unchanged model and the same model with planted
slowdowns (extra matrix products measured to cost 5, 10 and 20 % of the time) are timed interleaved, exactly as a
run's timing does, each run in the default suite's fresh timing processes, several times on a quiet machine and
several times with a declared background CPU load (busy processes the command starts and stops itself, bounded in
time). Like the default suite, one thread: the gate's ratios are of thread CPU time; the same forwards' wall-clock
samples are judged alike and kept beside them for comparison. The baseline of each comparison is the suite's
``baseline_timing`` runs pooled, as ``eval --for-baseline`` times it; how the comparisons are judged and counted:
``gate_rates``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time

import numpy as np
import torch

from .gate_rates import COPY, INCONCLUSIVE, REF, SLOWDOWNS, SUBJECT, VERDICT, by_clock, planted_name
from .process_timing import call_in_timing_process, split_rounds
from .records import THREAD_CPU_CLOCK, WALL_CLOCK
from .timing import ratio_clock, samples_on, timing_order


class Planted(torch.nn.Module):
    """A model doing known extra work: after its forward, ``repeats`` products of two 128 x 128 matrices
    (compute-bound and cache-resident, so the cost is linear in ``repeats`` and slows down under load as the
    model does; ``tune_repeats`` measures how many cost ``share`` of the time). Planting by a second forward
    on a crop overshot (its smallest valid crop costs 9 % here), and a wide extra convolution cost in steps."""

    def __init__(self, model: torch.nn.Module, share: float, repeats: int):
        super().__init__()
        self.model, self.share, self.repeats = model, share, repeats
        self.register_buffer("operand", torch.rand(128, 128, generator=torch.Generator().manual_seed(2)))

    def forward(self, x):
        out = self.model(x)
        for _ in range(self.repeats):
            torch.mm(self.operand, self.operand)
        return out


def tune_repeats(inputs: list, *, rounds: int = 48, processes: int = 6, steps: int = 2) -> dict[float, int]:
    """Per share, the number of extra matrix products that costs that share of the unchanged model's time,
    measured here: first from the cost of 100 products alone, then corrected ``steps`` times, each share on its
    own, by timing the calibration's own models as a run times them, in ``processes`` fresh timing processes
    (each process sets every module's speed a little apart: tuned in one process, plants meant as 5 and 10 %
    cost +6.0 and +8.1 %)."""
    model_ms, probe_ms = call_in_timing_process(_probe_costs, inputs)
    products = {share: max(1, round(share * model_ms / probe_ms)) for share in SLOWDOWNS}
    for _ in range(steps):
        samples = real_run(inputs, rounds, products, processes)[0][THREAD_CPU_CLOCK]  # the gate's clock
        for share in SLOWDOWNS:  # paired with the unchanged model's samples: same input, same round
            achieved = float(np.median(samples[planted_name(share)] / samples[SUBJECT])) - 1.0
            if achieved > 0:
                products[share] = max(1, round(products[share] * share / achieved))
    return products


def _probe_costs(inputs: list) -> tuple[float, float]:
    """The unchanged model's time and one extra product's, timed in this (fresh) process on the gate's clock."""
    from sr_harness.protocols.runtime import measure_interleaved  # noqa: PLC0415

    torch.set_num_threads(1)  # as the default suite times
    probe = Planted(torch.nn.Identity(), 0.0, 100)
    results = measure_interleaved({"model": calibration_nets()[SUBJECT], "probe": probe}, inputs, device="cpu",
                                  warmup=1, rounds=9)
    clock = ratio_clock(results.values())
    return (float(np.median(samples_on(results["model"], clock))),
            float(np.median(samples_on(results["probe"], clock))) / probe.repeats)


class Load:
    """``n`` busy processes for at most ``seconds``; stopped on exit whatever happens."""

    def __init__(self, n: int, seconds: float):
        code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
        self.procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]

    def __enter__(self):
        time.sleep(0.5)  # let the load start before timing
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=10)


def calibration_inputs(side: int, n_inputs: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return [torch.rand(1, 3, side, side, generator=gen) * 255 for _ in range(n_inputs)]


def calibration_nets(planted_products: tuple[int, ...] | None = None) -> dict:
    """The calibration's models, seeded (every process builds the same weights); with ``planted_products`` (one
    count per SLOWDOWNS share) the planted models too."""
    from sr_harness.models import build_model  # noqa: PLC0415

    torch.manual_seed(0)
    reference = build_model("rlfn_ntire_x4").eval()
    subject = build_model("slimrlfn_x4").eval()
    nets = {REF: reference, SUBJECT: subject}
    if planted_products is not None:
        nets |= {planted_name(s): Planted(subject, s, n).eval() for s, n in zip(SLOWDOWNS, planted_products)}
    return {key: nets.get(key, reference) for key in timing_order(list(nets), REF, COPY)}  # COPY: as a run does


def real_run(inputs: list, rounds: int, repeats: dict, processes: int) -> tuple[dict[str, dict[str, np.ndarray]], list]:
    """One real run as a run of the default suite times: ``rounds`` in ``processes`` fresh processes, one thread;
    per clock, samples as rounds x inputs arrays (ms), rounds in process order; and each process's memory in huge
    pages (MiB)."""
    from .process_timing import measure_in_processes  # noqa: PLC0415

    results = measure_in_processes(calibration_nets, (tuple(repeats[s] for s in SLOWDOWNS),), inputs,
                                   processes=processes, device="cpu", warmup=1, rounds=rounds, threads=1)
    clocks = dict.fromkeys((WALL_CLOCK, ratio_clock(results.values())))
    samples = {clock: {k: np.asarray(samples_on(r, clock)).reshape(rounds, len(inputs)) for k, r in results.items()}
               for clock in clocks}
    return samples, results[REF].huge_pages_mib


def default_timing() -> tuple[int, int, int]:
    """The default suite's rounds, timing processes and baseline_timing: calibrate measures the gate as the suite
    runs it."""
    from .config import load_suites  # noqa: PLC0415

    protocol = load_suites()["default"].protocol
    return protocol.rounds, protocol.timing_processes, protocol.baseline_timing


def calibrate(*, n_runs: int | None = None, rounds: int | None = None, processes: int | None = None,
              baseline_runs: int | None = None, side: int = 75, n_inputs: int = 4, replicates: int = 300,
              load_procs: int | None = None, load_seconds: float = 1800.0, progress=print) -> dict:
    """Defaults mirror the default suite's timing: its rounds and timing processes, a baseline of its
    baseline_timing runs pooled, 4 inputs of 75 x 75 (its centre crops); runs per condition: the baseline's
    and 3 more."""
    suite_rounds, suite_processes, suite_baseline = default_timing()
    baseline_runs = baseline_runs or suite_baseline
    n_runs = n_runs or baseline_runs + 3
    if n_runs < baseline_runs + 2:
        raise ValueError(f"calibrate needs >= {baseline_runs + 2} runs per condition ({baseline_runs} pooled for the "
                         f"baseline, a run, a re-timing), got {n_runs}")
    rounds = rounds or suite_rounds
    processes = min(processes or suite_processes, rounds)
    inputs = calibration_inputs(side, n_inputs)
    repeats = tune_repeats(inputs)  # in processes like the timing ones: their pages, their speed
    progress(f"calibrate: planted extra matrix products per share: {repeats}")
    conditions = {}
    procs = load_procs if load_procs is not None else os.cpu_count() or 2
    for condition in ("quiet", "load"):
        started = time.perf_counter()
        with Load(procs, load_seconds) if condition == "load" else contextlib.nullcontext():
            timed = [real_run(inputs, rounds, repeats, processes) for _ in range(n_runs)]
        progress(f"calibrate: {condition}: {n_runs} runs timed in {time.perf_counter() - started:.0f} s")
        runs = [run for run, _ in timed]
        conditions[condition] = by_clock([run[THREAD_CPU_CLOCK] for run in runs], [run[WALL_CLOCK] for run in runs],
                                         replicates, processes, baseline_runs) | {
            "huge_pages_mib": [pages for _, pages in timed]}
    return {"kind": "sr-harness-calibration", "run_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "settings": {
        "n_runs": n_runs, "runs": f"each in {processes} fresh processes, one after the other", "rounds": rounds,
        "processes": processes, "process_rounds": split_rounds(rounds, processes),
        "baseline_runs": baseline_runs,
        "baseline": f"{baseline_runs} runs pooled ({baseline_runs * processes} processes), as eval --for-baseline "
                    "times a baseline",
        "inputs": f"{n_inputs} x {side}x{side} LR", "threads": 1, "clock": THREAD_CPU_CLOCK,
        "pages": "timing processes' malloc on transparent huge pages (process_timing; huge_pages_mib per process)",
        "wall_clock": "the same forwards on the wall clock, judged alike, for comparison",
        "replicates": replicates, "load": f"{procs} busy processes (bounded to {load_seconds:.0f} s)",
        "models": "reference rlfn_ntire_x4 and its copy; unchanged slimrlfn_x4; planted: slimrlfn_x4 plus 128 x 128 "
                  "matrix products, as many as were measured to cost 5/10/20 % of its time",
        "planted_products": {f"{round(s * 100)}%": v for s, v in repeats.items()},
        "verdict": VERDICT,
        "confirm": "a suspected regression is re-timed on an independent run before it counts, judged with the "
                   "first run's processes added (compare --retimed FIRST.json)",
        "inconclusive": INCONCLUSIVE},
        "conditions": conditions}
