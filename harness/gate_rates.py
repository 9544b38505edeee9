"""The speed gate's error rates from timed samples: every comparison judged as `compare` judges it.

Each (baseline, current run, re-timing) combination of runs is judged by ``speed_stats.speed_verdict`` at each
threshold. The baseline is ``baseline_runs`` runs pooled, as a baseline timed with ``eval --for-baseline`` is
(the suite's ``baseline_timing`` times the rounds in as many times the processes). A suspected regression is
declared only when the re-timing confirms it, judged with the current run's processes added (as
``compare --retimed FIRST`` judges it), and a combination whose reference-vs-copy
ratio is off 1 beyond the run-to-run offset the verdict allows for is inconclusive (neither alarm nor detection).
Real combinations are all of the real runs; replayed ones resample whole rounds of recorded raw samples (the
pairing inside a round is kept, and each process's rounds are drawn from its own) to get many replicates
cheaply. Rates are over conclusive comparisons, with their counts.
"""

from __future__ import annotations

import itertools

import numpy as np

from .speed_stats import (
    COPY_OFFSET_SD,
    DEFAULT_SPEED_THRESHOLD,
    MIN_PROCESS_SD,
    RUN_OFFSET_SD,
    Z_ONE_SIDED_1PCT,
    Z_TWO_SIDED_1PCT,
    pooled_processes,
    speed_verdict,
    too_noisy,
)
from .process_timing import split_rounds
from .timing import per_process_ratios, speed_ratio

SLOWDOWNS = (0.05, 0.10, 0.20)
THRESHOLDS = (DEFAULT_SPEED_THRESHOLD, 0.05, 0.10)
REF, COPY, SUBJECT = "reference", "reference_copy", "unchanged"

INCONCLUSIVE = (f"reference vs copy 95% CI excludes 1 and is off by more than {Z_TWO_SIDED_1PCT} x its "
                f"{COPY_OFFSET_SD * 100:g} % run-to-run offset")
VERDICT = (f"regressed when the median of the per-process ratios grew by more than the threshold and by more than "
           f"{Z_ONE_SIDED_1PCT} standard errors of the difference of medians, the per-process SD taken from both "
           f"sides' processes (1.4826 x their median absolute deviation, at least {MIN_PROCESS_SD * 100:g} %); the "
           f"confirmation judges the current run's and the re-timing's processes together "
           f"(speed_stats.speed_verdict; single-process entries: intervals plus a {RUN_OFFSET_SD * 100:g} % offset)")


def planted_name(share: float) -> str:
    return f"slowed_{round(share * 100)}pct"


def _speed(samples: dict, name: str, rows: np.ndarray, processes: int) -> dict:
    """A speed entry as a run records it, from the selected rounds (``rows``: each process's rounds in turn)."""
    model, reference = samples[name][rows].ravel().tolist(), samples[REF][rows].ravel().tolist()
    return speed_ratio(model, reference) | {
        "processes": processes, "per_process": per_process_ratios(model, reference, len(rows), processes)}


def pooled(runs: list[dict], rows: list[np.ndarray]) -> dict:
    """Several runs' samples of the unchanged model and the reference as one run (processes one after the other)."""
    return {k: np.concatenate([run[k][r] for run, r in zip(runs, rows)]) for k in (SUBJECT, REF)}


def judge(bases: list[dict], cur: dict, confirm: dict, rows: tuple, processes: int = 1) -> dict[float, dict[str, str]]:
    """Verdicts per threshold and model of one (baseline runs, current, re-timing) combination; every run timed
    in ``processes`` fresh processes, the baseline the runs of ``bases`` pooled. ``rows``: (one row selection per
    baseline run, the current's, the re-timing's)."""
    b_rows, c_rows, k_rows = rows
    names = [n for n in cur if n not in (REF, COPY)]
    joined = pooled(bases, b_rows)
    baseline = _speed(joined, SUBJECT, np.arange(len(joined[REF])), processes * len(bases))
    self_ratio = _speed(cur, COPY, c_rows, processes)
    current = {n: _speed(cur, n, c_rows, processes) for n in names}
    retimed = {n: pooled_processes(current[n], _speed(confirm, n, k_rows, processes)) for n in names}
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


def combinations(n_runs: int, baseline_runs: int) -> list[tuple[tuple[int, ...], int, int]]:
    """Every (baseline runs, current, re-timing) of distinct runs; the baseline's runs unordered."""
    if n_runs < baseline_runs + 2:
        raise ValueError(f"need >= {baseline_runs + 2} runs ({baseline_runs} pooled for the baseline, a current run, a "
                         f"re-timing), got {n_runs}")
    return [(base, j, k) for base in itertools.combinations(range(n_runs), baseline_runs)
            for j, k in itertools.permutations([i for i in range(n_runs) if i not in base], 2)]


def rates(runs: list[dict], *, replicates: int, seed: int = 0, processes: int = 1, baseline_runs: int = 1) -> dict:
    """False-alarm and detection rates per threshold, over real combinations and replayed ones (rounds resampled
    within each process, so every replayed run keeps its processes' offsets)."""
    rng = np.random.default_rng(seed)
    n_rounds = runs[0][REF].shape[0]
    everything = np.arange(n_rounds)
    blocks = process_blocks(n_rounds, processes)
    combos = combinations(len(runs), baseline_runs)
    tallies = {t: {"real": {}, "replayed": {}} for t in THRESHOLDS}
    draws = [("real", c, False) for c in combos] + [
        ("replayed", combos[rng.integers(len(combos))], True) for _ in range(replicates)]
    for kind, (base, j, k), resample in draws:
        picked = [resampled_rounds(rng, blocks) if resample else everything for _ in range(len(base) + 2)]
        rows = (picked[:-2], picked[-2], picked[-1])
        for threshold, verdicts in judge([runs[i] for i in base], runs[j], runs[k], rows, processes).items():
            for name, verdict in verdicts.items():
                counts = tallies[threshold][kind].setdefault(name, {"regressed": 0, "ok": 0, "inconclusive": 0})
                counts[verdict] += 1
    return {f"{t:.2f}": {kind: _summary(c) for kind, c in by_kind.items()} for t, by_kind in tallies.items()}


def _summary(tally: dict) -> dict:
    def rate(c):
        c = c or {"regressed": 0, "ok": 0, "inconclusive": 0}  # none of that kind drawn (replicates=0)
        conclusive = c["regressed"] + c["ok"]
        return {"rate": c["regressed"] / conclusive if conclusive else None, "regressed": c["regressed"],
                "conclusive": conclusive, "inconclusive": c["inconclusive"]}
    return {"false_alarm_rate": rate(tally.get(SUBJECT)),
            "detection_rate": {f"{round(s * 100)}%": rate(tally.get(planted_name(s))) for s in SLOWDOWNS}}


def measured_slowdowns(runs: list[dict]) -> dict:
    """The planted work actually achieved: median over runs of the median paired ratio slowed / unchanged - 1
    (same round, same input: timed a few forwards apart)."""
    return {f"{round(s * 100)}%": float(np.median([np.median(r[planted_name(s)] / r[SUBJECT]) for r in runs]) - 1.0)
            for s in SLOWDOWNS}


def run_to_run_sd(runs: list[dict], processes: int = 1) -> dict:
    """Standard deviation across runs of ln(median paired ratio) to the reference: the offset between runs that
    one run's interval does not show; and across all processes of all runs, that of each process's own ratio
    (speed_stats.RUN_OFFSET_SD, for single-process entries, is the value pooled over calibrations)."""
    def sd(values):
        return float(np.std(values, ddof=1))

    def ln_ratio(run, name, rows=slice(None)):
        return np.log(np.median(run[name][rows] / run[REF][rows]))

    blocks = [slice(a, b) for a, b in process_blocks(runs[0][REF].shape[0], processes)]
    return {"unchanged": sd([ln_ratio(r, SUBJECT) for r in runs]),
            "reference_copy": sd([ln_ratio(r, COPY) for r in runs]),
            "unchanged_per_process": sd([ln_ratio(r, SUBJECT, b) for r in runs for b in blocks])}


def summarize(runs: list[dict], replicates: int, processes: int = 1, baseline_runs: int = 1) -> dict:
    """What the JSON keeps per condition: achieved slowdowns, rates per threshold and the raw samples (ms), so
    that a changed verdict rule can be re-judged on them (``replay``) without timing again."""
    return {"measured_slowdown": measured_slowdowns(runs), "run_to_run_sd": run_to_run_sd(runs, processes),
            "by_threshold": rates(runs, replicates=replicates, processes=processes, baseline_runs=baseline_runs),
            "samples_ms": [{k: np.round(v, 4).tolist() for k, v in run.items()} for run in runs]}


def by_clock(gate_runs: list[dict], wall_runs: list[dict] | None, replicates: int, processes: int = 1,
             baseline_runs: int = 1) -> dict:
    """A condition's summary on the gate's clock, with the wall clock's beside it when recorded."""
    summary = summarize(gate_runs, replicates, processes, baseline_runs)
    if wall_runs is not None:
        summary["wall_clock"] = summarize(wall_runs, replicates, processes, baseline_runs)
    return summary


def _arrays(runs: list[dict]) -> list[dict]:
    return [{k: np.asarray(v, dtype=float) for k, v in run.items()} for run in runs]


def replay(calibration: dict, *, replicates: int | None = None, baseline_runs: int | None = None) -> dict:
    """The calibration re-judged by today's verdict rule on its recorded raw samples (no timing); with
    ``baseline_runs``, the baseline pooled from that many of its runs instead of the calibration's own number."""
    settings = calibration["settings"]
    replicates = replicates or settings["replicates"]
    processes = settings.get("processes", 1)
    baseline_runs = baseline_runs or settings.get("baseline_runs", 1)
    conditions = {}
    for condition, data in calibration["conditions"].items():
        wall = data.get("wall_clock", {}).get("samples_ms")
        conditions[condition] = by_clock(_arrays(data["samples_ms"]), wall and _arrays(wall), replicates, processes,
                                         baseline_runs) | {k: data[k] for k in ("huge_pages_mib",) if k in data}
    settings = {**settings, "replicates": replicates, "baseline_runs": baseline_runs, "verdict": VERDICT,
                "inconclusive": INCONCLUSIVE, "replayed_from": calibration.get("run_utc", "an earlier calibration")}
    return {**calibration, "settings": settings, "conditions": conditions}
