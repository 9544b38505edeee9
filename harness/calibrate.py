"""`calibrate`: the speed gate's error rates, measured on this machine instead of asserted.

Real runs: the speed reference, an identical copy of it, an unchanged model and the same model with planted
slowdowns (extra matrix products measured to cost 5, 10 and 20 % of the time) are timed
interleaved, exactly as a run's timing does, each run in the default suite's fresh timing processes (as a
baseline and a later CI run are),
several times on a quiet machine and several times with a declared background CPU load (busy processes the
command starts and stops itself, bounded in time). Like the default suite, one thread: the gate's ratios are of
thread CPU time; the same forwards' wall-clock samples are judged alike and kept beside them for comparison.

Verdicts: each (baseline run, current run) pair is judged by ``compare.speed_verdict`` at each threshold; a
suspected regression is declared only when a re-timing (a third, independent run) confirms it, and a pair whose
reference-vs-copy ratio is off 1 beyond the run-to-run offset the verdict allows for is inconclusive (neither
alarm nor detection). Real pairs are all
ordered pairs of real runs; replayed pairs resample whole rounds of recorded raw samples (the pairing inside a
round is kept, and each process's rounds are drawn from its own) to get many replicates cheaply. Rates are over
conclusive pairs, with their counts.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
import time

import numpy as np
import torch

from .compare import (
    DEFAULT_SPEED_THRESHOLD,
    COPY_OFFSET_SD,
    RUN_OFFSET_SD,
    Z_ONE_SIDED_1PCT,
    Z_TWO_SIDED_1PCT,
    speed_verdict,
    too_noisy,
)
from .process_timing import split_rounds
from .records import THREAD_CPU_CLOCK, WALL_CLOCK
from .timing import ratio_clock, samples_on, speed_ratio, timing_order

SLOWDOWNS = (0.05, 0.10, 0.20)
THRESHOLDS = (DEFAULT_SPEED_THRESHOLD, 0.05, 0.10)
REF, COPY, SUBJECT = "reference", "reference_copy", "unchanged"


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


def tune_repeats(model, inputs: list, shares=SLOWDOWNS, *, rounds: int = 9) -> dict[float, int]:
    """Per share, the number of extra matrix products that costs that share of the model's time, measured here:
    first from the cost of 100 products alone, then corrected once by timing each planted model against the
    model (products right after a forward cost more than alone: the first estimate planted 4.4 % for 5 %)."""
    from sr_harness.protocols.runtime import measure_interleaved  # noqa: PLC0415

    def timed(nets):  # samples on the clock the gate uses, per net
        results = measure_interleaved(nets, inputs, device="cpu", warmup=1, rounds=rounds)
        clock = ratio_clock(results.values())
        return {k: np.asarray(samples_on(r, clock)) for k, r in results.items()}

    probe = Planted(torch.nn.Identity(), 0.0, 100)
    first = timed({"model": model, "probe": probe})
    per_product = float(np.median(first["probe"])) / probe.repeats
    model_ms = float(np.median(first["model"]))
    repeats = {share: max(1, round(share * model_ms / per_product)) for share in shares}
    second = timed({"model": model} | {share: Planted(model, share, n).eval() for share, n in repeats.items()})
    base, model_ms = second["model"], float(np.median(second["model"]))
    # Extra time per product, pooled over the three plants (paired with the model's samples: same input, same
    # round); the largest plant, the most precisely measured share, weighs most.
    extra_ms = sum(float(np.median(second[share] / base) - 1.0) * model_ms for share in shares)
    per_product = extra_ms / sum(repeats.values())
    if per_product <= 0:
        return repeats
    return {share: max(1, round(share * model_ms / per_product)) for share in shares}


def planted_name(share: float) -> str:
    return f"slowed_{round(share * 100)}pct"


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


def _speed(samples: dict, name: str, rows: np.ndarray, processes: int) -> dict:
    return speed_ratio(samples[name][rows].ravel().tolist(), samples[REF][rows].ravel().tolist()) | {
        "processes": processes}


def judge(base: dict, cur: dict, confirm: dict, rows: tuple, processes: int = 1) -> dict[float, dict[str, str]]:
    """Verdicts per threshold and model of one (baseline, current, re-timing) triple of runs timed in
    ``processes`` fresh processes each."""
    b_rows, c_rows, k_rows = rows
    names = [n for n in cur if n not in (REF, COPY)]
    self_ratio = _speed(cur, COPY, c_rows, processes)
    baseline = _speed(base, SUBJECT, b_rows, processes)
    current = {n: _speed(cur, n, c_rows, processes) for n in names}
    retimed = {n: _speed(confirm, n, k_rows, processes) for n in names}
    noisy = too_noisy(self_ratio)
    return {t: {n: "inconclusive" if noisy else "regressed"
                if speed_verdict(baseline, current[n], t) == "regressed"  # confirmed by re-timing
                and speed_verdict(baseline, retimed[n], t) == "regressed" else "ok" for n in names}
            for t in THRESHOLDS}


def process_blocks(n_rounds: int, processes: int) -> list[tuple[int, int]]:
    """(first, end) rounds of each process in a run's samples (processes in order, rounds split as timed)."""
    ends = np.cumsum(split_rounds(n_rounds, processes))
    return list(zip([0, *ends[:-1].tolist()], ends.tolist()))


def resampled_rounds(rng, blocks: list[tuple[int, int]]) -> np.ndarray:
    """Rounds drawn with replacement, each process's from its own rounds (as many as it has)."""
    return np.concatenate([rng.integers(a, b, b - a) for a, b in blocks])


def rates(runs: list[dict], *, replicates: int, seed: int = 0, processes: int = 1) -> dict:
    """False-alarm and detection rates per threshold, over real pairs and replayed pairs (rounds resampled
    within each process, so every replayed run keeps its processes' offsets)."""
    rng = np.random.default_rng(seed)
    n_rounds = runs[0][REF].shape[0]
    everything = np.arange(n_rounds)
    blocks = process_blocks(n_rounds, processes)
    triples = list(itertools.permutations(range(len(runs)), 3))
    tallies = {t: {"real": {}, "replayed": {}} for t in THRESHOLDS}
    draws = [("real", t, False) for t in triples] + [
        ("replayed", triples[rng.integers(len(triples))], True) for _ in range(replicates)]
    for kind, (i, j, k), resample in draws:
        rows = tuple(resampled_rounds(rng, blocks) if resample else everything for _ in range(3))
        for threshold, verdicts in judge(runs[i], runs[j], runs[k], rows, processes).items():
            for name, verdict in verdicts.items():
                counts = tallies[threshold][kind].setdefault(name, {"regressed": 0, "ok": 0, "inconclusive": 0})
                counts[verdict] += 1
    return {f"{t:.2f}": {kind: _summary(c) for kind, c in by_kind.items()} for t, by_kind in tallies.items()}


def _summary(tally: dict) -> dict:
    def rate(c):
        conclusive = c["regressed"] + c["ok"]
        return {"rate": c["regressed"] / conclusive if conclusive else None, "regressed": c["regressed"],
                "conclusive": conclusive, "inconclusive": c["inconclusive"]}
    return {"false_alarm_rate": rate(tally[SUBJECT]),
            "detection_rate": {f"{round(s * 100)}%": rate(tally[planted_name(s)]) for s in SLOWDOWNS}}


def measured_slowdowns(runs: list[dict]) -> dict:
    """The planted work actually achieved: median over runs of the median paired ratio slowed / unchanged - 1
    (same round, same input: timed a few forwards apart)."""
    return {f"{round(s * 100)}%": float(np.median([np.median(r[planted_name(s)] / r[SUBJECT]) for r in runs]) - 1.0)
            for s in SLOWDOWNS}


def summarize(runs: list[dict], replicates: int, processes: int = 1) -> dict:
    """What the JSON keeps per condition: achieved slowdowns, rates per threshold and the raw samples (ms), so
    that a changed verdict rule can be re-judged on them (``replay``) without timing again."""
    return {"measured_slowdown": measured_slowdowns(runs), "run_to_run_sd": run_to_run_sd(runs, processes),
            "by_threshold": rates(runs, replicates=replicates, processes=processes),
            "samples_ms": [{k: np.round(v, 4).tolist() for k, v in run.items()} for run in runs]}


def by_clock(gate_runs: list[dict], wall_runs: list[dict] | None, replicates: int, processes: int = 1) -> dict:
    """A condition's summary on the gate's clock, with the wall clock's beside it when recorded."""
    summary = summarize(gate_runs, replicates, processes)
    if wall_runs is not None:
        summary["wall_clock"] = summarize(wall_runs, replicates, processes)
    return summary


def _arrays(runs: list[dict]) -> list[dict]:
    return [{k: np.asarray(v, dtype=float) for k, v in run.items()} for run in runs]


def replay(calibration: dict, *, replicates: int | None = None) -> dict:
    """The calibration re-judged by today's verdict rule on its recorded raw samples (no timing)."""
    replicates = replicates or calibration["settings"]["replicates"]
    processes = calibration["settings"].get("processes", 1)
    conditions = {}
    for condition, data in calibration["conditions"].items():
        wall = data.get("wall_clock", {}).get("samples_ms")
        conditions[condition] = by_clock(_arrays(data["samples_ms"]), wall and _arrays(wall), replicates, processes)
    settings = {**calibration["settings"], "replicates": replicates, "verdict": VERDICT, "inconclusive": INCONCLUSIVE,
                "replayed_from": calibration.get("run_utc", "an earlier calibration")}
    return {**calibration, "settings": settings, "conditions": conditions}


INCONCLUSIVE = (f"reference vs copy 95% CI excludes 1 and is off by more than {Z_TWO_SIDED_1PCT} x its "
                f"{COPY_OFFSET_SD * 100:g} % run-to-run offset")
VERDICT = (f"regressed when the ratio grew by more than the threshold and ln(ratio) grew by more than "
           f"{Z_ONE_SIDED_1PCT} standard errors of the difference: both sides' intervals and a {RUN_OFFSET_SD * 100:g} % "
           "run-to-run offset each (compare.speed_verdict)")


def run_to_run_sd(runs: list[dict], processes: int = 1) -> dict:
    """Standard deviation across runs of ln(median paired ratio) to the reference: the offset between runs that
    one run's interval does not show; and across all processes of all runs, that of each process's own ratio
    (compare.RUN_OFFSET_SD, per process, is the value pooled over calibrations)."""
    def sd(values):
        return float(np.std(values, ddof=1))

    def ln_ratio(run, name, rows=slice(None)):
        return np.log(np.median(run[name][rows] / run[REF][rows]))

    blocks = [slice(a, b) for a, b in process_blocks(runs[0][REF].shape[0], processes)]
    return {"unchanged": sd([ln_ratio(r, SUBJECT) for r in runs]),
            "reference_copy": sd([ln_ratio(r, COPY) for r in runs]),
            "unchanged_per_process": sd([ln_ratio(r, SUBJECT, b) for r in runs for b in blocks])}


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


def real_run(inputs: list, rounds: int, repeats: dict, processes: int) -> dict[str, dict[str, np.ndarray]]:
    """One real run as a run of the default suite times: ``rounds`` in ``processes`` fresh processes, one thread;
    per clock, samples as rounds x inputs arrays (ms), rounds in process order."""
    from .process_timing import measure_in_processes  # noqa: PLC0415

    results = measure_in_processes(calibration_nets, (tuple(repeats[s] for s in SLOWDOWNS),), inputs,
                                   processes=processes, device="cpu", warmup=1, rounds=rounds, threads=1)
    clocks = dict.fromkeys((WALL_CLOCK, ratio_clock(results.values())))
    return {clock: {k: np.asarray(samples_on(r, clock)).reshape(rounds, len(inputs)) for k, r in results.items()}
            for clock in clocks}


def default_timing() -> tuple[int, int]:
    """The default suite's rounds and timing processes: calibrate measures the gate as the suite runs it."""
    from .config import load_suites  # noqa: PLC0415

    protocol = load_suites()["default"].protocol
    return protocol.rounds, protocol.timing_processes


def calibrate(*, n_runs: int = 5, rounds: int | None = None, processes: int | None = None, side: int = 75,
              n_inputs: int = 4, replicates: int = 300, load_procs: int | None = None, load_seconds: float = 1800.0,
              progress=print) -> dict:
    """Defaults mirror the default suite's timing: its rounds and timing processes, 4 inputs of 75 x 75 (its
    centre crops)."""
    if n_runs < 3:
        raise ValueError(f"calibrate needs >= 3 runs per condition (baseline, run, re-timing), got {n_runs}")
    suite_rounds, suite_processes = default_timing()
    rounds = rounds or suite_rounds
    processes = min(processes or suite_processes, rounds)
    inputs = calibration_inputs(side, n_inputs)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # as the default suite times
    try:
        repeats = tune_repeats(calibration_nets()[SUBJECT], inputs)
    finally:
        torch.set_num_threads(previous)
    progress(f"calibrate: planted extra matrix products per share: {repeats}")
    conditions = {}
    procs = load_procs if load_procs is not None else os.cpu_count() or 2
    for condition in ("quiet", "load"):
        started = time.perf_counter()
        with Load(procs, load_seconds) if condition == "load" else contextlib.nullcontext():
            runs = [real_run(inputs, rounds, repeats, processes) for _ in range(n_runs)]
        progress(f"calibrate: {condition}: {n_runs} runs timed in {time.perf_counter() - started:.0f} s")
        conditions[condition] = by_clock([run[THREAD_CPU_CLOCK] for run in runs], [run[WALL_CLOCK] for run in runs],
                                         replicates, processes)
    return {"kind": "sr-harness-calibration", "run_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "settings": {
        "n_runs": n_runs, "runs": f"each in {processes} fresh processes, one after the other", "rounds": rounds,
        "processes": processes, "process_rounds": split_rounds(rounds, processes),
        "inputs": f"{n_inputs} x {side}x{side} LR", "threads": 1, "clock": THREAD_CPU_CLOCK,
        "wall_clock": "the same forwards on the wall clock, judged alike, for comparison",
        "replicates": replicates, "load": f"{procs} busy processes (bounded to {load_seconds:.0f} s)",
        "models": "reference rlfn_ntire_x4 and its copy; unchanged slimrlfn_x4; planted: slimrlfn_x4 plus 128 x 128 "
                  "matrix products, as many as were measured to cost 5/10/20 % of its time",
        "planted_products": {f"{round(s * 100)}%": v for s, v in repeats.items()},
        "verdict": VERDICT,
        "confirm": "a suspected regression is re-timed on an independent run before it counts",
        "inconclusive": INCONCLUSIVE},
        "conditions": conditions}
