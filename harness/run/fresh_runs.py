"""``eval --ntire-runs N``: the whole NTIRE-mode evaluation repeated in N fresh processes (the organizers report
the mean of 5 runs), merged into one record: quality from the runs (which must agree to the bit), runtime the
mean of the runs' means, every run's per-image samples kept and paired with the same run's reference."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from sr_harness import HarnessError
from sr_harness.config.options import RunOptions
from sr_harness.run.progress import phase
from sr_harness.run.timing import ntire_average, speed_ratio

class FreshRunError(HarnessError):
    """A child evaluation failed, or the runs disagree on a quality number."""


def child_argv(options: RunOptions, out: Path) -> list[str]:
    """The child's command line: eval with the run's own options, writing ``out``."""
    return [sys.executable, "-m", "sr_harness", "eval", *options.to_argv(), "--out", str(out)]


def run_fresh(options: RunOptions, n: int) -> dict:
    """Run the evaluation ``options`` describe ``n`` times, each in a new interpreter, and merge the records."""
    from sr_harness.records.run import load_record  # noqa: PLC0415

    records = []
    with tempfile.TemporaryDirectory(prefix="sr-harness-runs-") as tmp:
        for i in range(n):
            out = Path(tmp) / f"run{i + 1}.json"
            with phase(f"NTIRE run {i + 1}/{n} (fresh process)"):
                done = subprocess.run(child_argv(options, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, check=False)
            if done.returncode != 0 or not out.is_file():
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise FreshRunError(f"NTIRE run {i + 1}/{n} failed (exit {done.returncode}): {last}")
            records.append(load_record(out))
    return merge_runs(records)


def merge_runs(records: list[dict]) -> dict:
    first = records[0]
    if first["config"]["protocol"]["runtime_mode"] != "ntire":
        raise FreshRunError("--ntire-runs needs the NTIRE runtime mode (--runtime-mode ntire or an NTIRE suite)")
    merged = dict(first)
    ref_key = first["speed_reference"]["model"] if first.get("speed_reference") else None
    for index, row in enumerate(first["results"]):
        rows = [r["results"][index] for r in records]
        if any((r["model"], r["dataset"]) != (row["model"], row["dataset"]) for r in rows):
            raise FreshRunError("the runs do not hold the same rows")
        if any(r["per_image"] != row["per_image"] for r in rows):
            raise FreshRunError(f"{row['model']} on {row['dataset']}: quality differs between runs "
                                "(a non-deterministic model): no mean of runs is reported")
        if row.get("runtime"):
            row["runtime"] = _merged_runtime([r["runtime"] for r in rows])
    for name, ref in (first.get("speed_reference") or {}).get("per_dataset", {}).items():
        ref["runtime"] = _merged_runtime([r["speed_reference"]["per_dataset"][name]["runtime"] for r in records])
    for row in first["results"]:
        if row.get("speed") and ref_key is not None:
            ref = first["speed_reference"]["per_dataset"][row["dataset"]]["runtime"]
            row["speed"] = row["speed"] | speed_ratio(row["runtime"]["samples_ms"], ref["samples_ms"])
    merged["ntire_runs"] = {"n": len(records), "run_ids": [r["run_id"] for r in records],
                            "rule": "runtime = mean over fresh processes of each run's per-image mean"}
    if "ntire_average" in first:
        merged["ntire_average"] = ntire_average(first["results"])
    return merged


def _merged_runtime(runs: list[dict]) -> dict:
    merged = dict(runs[0])
    merged["per_run_mean_ms"] = [r["mean_ms"] for r in runs]
    merged["mean_ms"] = statistics.fmean(merged["per_run_mean_ms"])
    merged["samples_ms"] = [s for r in runs for s in r["samples_ms"]]
    merged["input_index"] = [i for r in runs for i in r.get("input_index", [])]
    merged["median_ms"] = statistics.median(merged["samples_ms"])
    merged["n"], merged["repeats"] = len(merged["samples_ms"]), len(runs)
    merged["ntire_comparable"] = all(r["ntire_comparable"] for r in runs)
    return merged
