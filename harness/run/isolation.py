"""Foreign entries (a ``--model`` class, a suite's ``source =`` model, an NTIRE team) each evaluated in a process of
its own, under a time and a memory limit, so that code the project did not write cannot take the run down.

The project's own models and the bicubic row run in this process (``run.runner.run``). Each foreign entry runs as
``eval`` with the run's own options plus ``--isolated-entry KEY`` (that entry alone, timed against the speed
reference in the same child), writing a record this process merges. A child that exits without its record, is
killed by a signal, runs past the time limit or past the memory limit becomes a failed row with the reason,
on every dataset, and the other entries go on.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sr_harness.config.build import ModelEntry, RunConfig
from sr_harness.config.options import RunOptions
from sr_harness.run.progress import phase

DEFAULT_TIME_LIMIT_S = 900  # one Set5 NTIRE team takes 5-20 s on 2 cores; a whole zoo entry far less than this
DEFAULT_MEMORY_LIMIT_GIB = 12  # address space per child: torch alone maps ~3 GiB; half a 24 GiB machine


def is_foreign(entry: ModelEntry) -> bool:
    return entry.external is not None


def limit_memory(gib: float) -> None:
    """Cap this process's address space (called by the child itself: no preexec_fn in a threaded parent)."""
    import resource  # noqa: PLC0415

    limit = int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child(argv: list[str], out: Path, time_limit_s: float, memory_gib: float) -> str | None:
    """Run one child; None when it wrote its record, else why not (one line)."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=time_limit_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its timing processes too
        proc.communicate()
        return f"ran past the time limit of {time_limit_s:g} s (--entry-time-limit) and was stopped"
    last = next((line for line in reversed(err.strip().splitlines()) if line.strip()), "")
    if out.is_file() and proc.returncode in (0, 4):
        return None
    if proc.returncode < 0:
        return f"its process was killed by signal {signal.Signals(-proc.returncode).name}" + (f" ({last})" if last else "")
    if "MemoryError" in err or "memory" in last.lower() and "alloc" in last.lower():
        return f"ran out of memory under the limit of {memory_gib:g} GiB (--entry-memory-limit): {last}"
    return f"its process exited with code {proc.returncode} without writing its record" + (f": {last}" if last else "")


def _failed_rows(entry: ModelEntry, datasets: list[str], reason: str) -> list[dict]:
    return [{"model": entry.key, "arch": entry.name, "variant": entry.variant, "dataset": name, "status": "failed",
             "error": reason, "metrics": {}} for name in datasets]


def run_isolated(options: RunOptions, cfg: RunConfig) -> dict:
    """The run ``cfg`` describes, with every foreign entry in its own process; one merged record."""
    from sr_harness.records.run import load_record  # noqa: PLC0415
    from sr_harness.run.fresh_runs import child_argv  # noqa: PLC0415
    from sr_harness.run.runner import run  # noqa: PLC0415
    from sr_harness.run.timing import ntire_average  # noqa: PLC0415

    time_limit_s = options.entry_time_limit or DEFAULT_TIME_LIMIT_S
    memory_gib = options.entry_memory_limit or DEFAULT_MEMORY_LIMIT_GIB
    foreign = [e for e in cfg.models if is_foreign(e)]
    record = run(dataclasses.replace(cfg, models=tuple(e for e in cfg.models if not is_foreign(e))))
    datasets = [d["name"] for d in record["datasets"]]
    rows, started, inside = list(record["results"]), time.perf_counter(), defaultdict(float)
    with tempfile.TemporaryDirectory(prefix="sr-harness-entries-") as tmp:
        for i, entry in enumerate(foreign):
            out = Path(tmp) / f"entry{i}.json"
            with phase(f"{entry.key}: own process ({i + 1}/{len(foreign)})"):
                argv = [*child_argv(options, out), "--isolated-entry", entry.key]
                reason = _child(argv, out, time_limit_s, memory_gib)
            if reason is None:
                child = load_record(out)
                rows += child["results"]
                for name, seconds in child["phase_seconds"].items():
                    inside[f"entries.{name}"] += seconds
                inside["entries.inside_children"] += child["wall_seconds"]
                record["missing"] += child["missing"]
                if not record["speed_reference"]["per_dataset"]:  # nothing of the run's own was timed here
                    record["speed_reference"] |= {"per_dataset": child["speed_reference"]["per_dataset"]}
            else:
                rows += _failed_rows(entry, datasets, reason)
    order = {e.key: i for i, e in enumerate(cfg.models)}
    record["results"] = sorted(rows, key=lambda r: (datasets.index(r["dataset"]), order.get(r["model"], len(order))))
    record["phase_seconds"]["isolated_entries"] = time.perf_counter() - started
    record["wall_seconds"] += record["phase_seconds"]["isolated_entries"]
    record["phase_seconds"] |= inside  # the children's own phases, summed: what isolation adds is the difference
    record["config"]["isolation"] = {"mode": "process", "entries": [e.key for e in foreign],
                                     "time_limit_s": time_limit_s, "memory_limit_gib": memory_gib}
    if "ntire_average" in record and len(datasets) > 1:
        record["ntire_average"] = ntire_average(record["results"])
    return record
