"""`calibrate`: the speed gate's error rates, measured on this machine instead of asserted.

Real runs: the speed reference, an identical copy of it, an unchanged model and the same model with planted
slowdowns (extra matrix products measured to cost 5, 10 and 20 % of the time) are timed
interleaved, exactly as a run's timing does, each run in a fresh process (as a baseline and a later CI run are),
several times on a quiet machine and several times with a declared background CPU load (busy processes the
command starts and stops itself, bounded in time). Like the default suite, one thread: the gate's ratios are of
thread CPU time; the same forwards' wall-clock samples are judged alike and kept beside them for comparison.

Verdicts: each (baseline run, current run) pair is judged by ``compare.speed_verdict`` at each threshold; a
suspected regression is declared only when a re-timing (a third, independent run) confirms it, and a pair whose
reference-vs-copy ratio is off 1 beyond the run-to-run offset the verdict allows for is inconclusive (neither
alarm nor detection). Real pairs are all
ordered pairs of real runs; replayed pairs resample whole rounds of recorded raw samples (the pairing inside a
round is kept) to get many replicates cheaply. Rates are over conclusive pairs, with their counts.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

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
from .records import THREAD_CPU_CLOCK, WALL_CLOCK
from .timing import ratio_clock, samples_on, speed_ratio

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


def timing_run(nets: dict, inputs: list, *, rounds: int) -> dict[str, dict[str, np.ndarray]]:
    """One interleaved timing of every net: per clock, samples as rounds x inputs arrays (ms)."""
    from sr_harness.protocols.runtime import measure_interleaved  # noqa: PLC0415

    results = measure_interleaved(nets, inputs, device="cpu", warmup=1, rounds=rounds)
    clocks = dict.fromkeys((WALL_CLOCK, ratio_clock(results.values())))
    return {clock: {k: np.asarray(samples_on(r, clock)).reshape(rounds, len(inputs)) for k, r in results.items()}
            for clock in clocks}


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


def _speed(samples: dict, name: str, rows: np.ndarray) -> dict:
    return speed_ratio(samples[name][rows].ravel().tolist(), samples[REF][rows].ravel().tolist())


def judge(base: dict, cur: dict, confirm: dict, rows: tuple) -> dict[float, dict[str, str]]:
    """Verdicts per threshold and model of one (baseline, current, re-timing) triple."""
    b_rows, c_rows, k_rows = rows
    names = [n for n in cur if n not in (REF, COPY)]
    self_ratio = _speed(cur, COPY, c_rows)
    baseline = _speed(base, SUBJECT, b_rows)
    current = {n: _speed(cur, n, c_rows) for n in names}
    retimed = {n: _speed(confirm, n, k_rows) for n in names}
    noisy = too_noisy(self_ratio)
    return {t: {n: "inconclusive" if noisy else "regressed"
                if speed_verdict(baseline, current[n], t) == "regressed"  # confirmed by re-timing
                and speed_verdict(baseline, retimed[n], t) == "regressed" else "ok" for n in names}
            for t in THRESHOLDS}


def rates(runs: list[dict], *, replicates: int, seed: int = 0) -> dict:
    """False-alarm and detection rates per threshold, over real pairs and replayed pairs."""
    rng = np.random.default_rng(seed)
    n_rounds = runs[0][REF].shape[0]
    everything = np.arange(n_rounds)
    triples = list(itertools.permutations(range(len(runs)), 3))
    tallies = {t: {"real": {}, "replayed": {}} for t in THRESHOLDS}
    draws = [("real", t, False) for t in triples] + [
        ("replayed", triples[rng.integers(len(triples))], True) for _ in range(replicates)]
    for kind, (i, j, k), resample in draws:
        rows = tuple(rng.integers(0, n_rounds, n_rounds) if resample else everything for _ in range(3))
        for threshold, verdicts in judge(runs[i], runs[j], runs[k], rows).items():
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


def summarize(runs: list[dict], replicates: int) -> dict:
    """What the JSON keeps per condition: achieved slowdowns, rates per threshold and the raw samples (ms), so
    that a changed verdict rule can be re-judged on them (``replay``) without timing again."""
    return {"measured_slowdown": measured_slowdowns(runs), "run_to_run_sd": run_to_run_sd(runs),
            "by_threshold": rates(runs, replicates=replicates),
            "samples_ms": [{k: np.round(v, 4).tolist() for k, v in run.items()} for run in runs]}


def by_clock(gate_runs: list[dict], wall_runs: list[dict] | None, replicates: int) -> dict:
    """A condition's summary on the gate's clock, with the wall clock's beside it when recorded."""
    summary = summarize(gate_runs, replicates)
    if wall_runs is not None:
        summary["wall_clock"] = summarize(wall_runs, replicates)
    return summary


def _arrays(runs: list[dict]) -> list[dict]:
    return [{k: np.asarray(v, dtype=float) for k, v in run.items()} for run in runs]


def replay(calibration: dict, *, replicates: int | None = None) -> dict:
    """The calibration re-judged by today's verdict rule on its recorded raw samples (no timing)."""
    replicates = replicates or calibration["settings"]["replicates"]
    conditions = {}
    for condition, data in calibration["conditions"].items():
        wall = data.get("wall_clock", {}).get("samples_ms")
        conditions[condition] = by_clock(_arrays(data["samples_ms"]), wall and _arrays(wall), replicates)
    settings = {**calibration["settings"], "replicates": replicates, "verdict": VERDICT, "inconclusive": INCONCLUSIVE,
                "replayed_from": calibration.get("run_utc", "an earlier calibration")}
    return {**calibration, "settings": settings, "conditions": conditions}


INCONCLUSIVE = (f"reference vs copy 95% CI excludes 1 and is off by more than {Z_TWO_SIDED_1PCT} x its "
                f"{COPY_OFFSET_SD * 100:g} % run-to-run offset")
VERDICT = (f"regressed when the ratio grew by more than the threshold and ln(ratio) grew by more than "
           f"{Z_ONE_SIDED_1PCT} standard errors of the difference: both sides' intervals and a {RUN_OFFSET_SD * 100:g} % "
           "run-to-run offset each (compare.speed_verdict)")


def run_to_run_sd(runs: list[dict]) -> dict:
    """Standard deviation across runs of ln(median paired ratio) to the reference: the offset between runs that
    one run's interval does not show (compare.RUN_OFFSET_SD is the value pooled over calibrations)."""
    def sd(name):
        return float(np.std([np.log(np.median(r[name] / r[REF])) for r in runs], ddof=1))
    return {"unchanged": sd(SUBJECT), "reference_copy": sd(COPY)}


def default_rounds() -> int:
    from .config import load_suites  # noqa: PLC0415

    return load_suites()["default"].protocol.rounds


def _nets_and_inputs(side: int, n_inputs: int, repeats: dict | None):
    """The calibration's models (seeded: every process builds the same weights) and timing inputs."""
    from sr_harness.models import build_model  # noqa: PLC0415

    torch.manual_seed(0)
    reference = build_model("rlfn_ntire_x4").eval()
    subject = build_model("slimrlfn_x4").eval()
    gen = torch.Generator().manual_seed(1)
    inputs = [torch.rand(1, 3, side, side, generator=gen) * 255 for _ in range(n_inputs)]
    nets = {REF: reference, COPY: reference, SUBJECT: subject}
    if repeats is not None:
        nets |= {planted_name(s): Planted(subject, s, repeats[s]).eval() for s in SLOWDOWNS}
    return nets, inputs


def worker(out: str, side: int, n_inputs: int, rounds: int, repeats: list[int]) -> None:
    """One real run in this (fresh) process, one thread, as the default suite times; samples saved to ``out``."""
    torch.set_num_threads(1)
    nets, inputs = _nets_and_inputs(side, n_inputs, dict(zip(SLOWDOWNS, repeats)))
    timed = timing_run(nets, inputs, rounds=rounds)
    np.savez(out, **{f"{clock}|{name}": v for clock, by_name in timed.items() for name, v in by_name.items()})


def fresh_process_run(side: int, n_inputs: int, rounds: int, repeats: dict) -> dict[str, dict[str, np.ndarray]]:
    import tempfile  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as folder:
        out = str(Path(folder) / "samples.npz")
        call = (f"from sr_harness.calibrate import worker; worker({out!r}, {side}, {n_inputs}, {rounds}, "
                f"{[repeats[s] for s in SLOWDOWNS]})")
        subprocess.run([sys.executable, "-c", call], check=True)
        with np.load(out) as saved:
            timed: dict[str, dict[str, np.ndarray]] = {}
            for key in saved.files:
                clock, name = key.split("|")
                timed.setdefault(clock, {})[name] = saved[key]
            return timed


def calibrate(*, n_runs: int = 4, rounds: int | None = None, side: int = 75, n_inputs: int = 4,
              replicates: int = 300, load_procs: int | None = None, load_seconds: float = 1800.0,
              progress=print) -> dict:
    """Defaults mirror the default suite's timing: its rounds, 4 inputs of 75 x 75 (its centre crops)."""
    if n_runs < 3:
        raise ValueError(f"calibrate needs >= 3 runs per condition (baseline, run, re-timing), got {n_runs}")
    rounds = rounds or default_rounds()
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # as the default suite times
    try:
        nets, inputs = _nets_and_inputs(side, n_inputs, None)
        repeats = tune_repeats(nets[SUBJECT], inputs)
    finally:
        torch.set_num_threads(previous)
    progress(f"calibrate: planted extra matrix products per share: {repeats}")
    conditions = {}
    procs = load_procs if load_procs is not None else os.cpu_count() or 2
    for condition in ("quiet", "load"):
        started = time.perf_counter()
        with Load(procs, load_seconds) if condition == "load" else contextlib.nullcontext():
            runs = [fresh_process_run(side, n_inputs, rounds, repeats) for _ in range(n_runs)]
        progress(f"calibrate: {condition}: {n_runs} runs timed in {time.perf_counter() - started:.0f} s")
        conditions[condition] = by_clock([run[THREAD_CPU_CLOCK] for run in runs], [run[WALL_CLOCK] for run in runs],
                                         replicates)
    return {"kind": "sr-harness-calibration", "run_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "settings": {
        "n_runs": n_runs, "runs": "each in a fresh process", "rounds": rounds,
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
