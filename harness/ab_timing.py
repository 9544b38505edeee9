"""Speed A/B timing: the same models from two source trees (head and base) timed interleaved in fresh processes.

Each process imports both trees' model code under private names, loads each side's checkpoints with that side's
code, and times all of them round-robin on the same inputs, one thread, the same pages (``process_timing``). The
two sides of a model sit half a rotation apart (a model timed right after one of its own architecture runs ~1.5 %
faster), and the side listed first alternates from process to process (A B, B A, ...). A model's head/base ratio
is paired per round and input on the thread-CPU clock; each process's median paired ratio is one replicate of the
verdict (``speed_stats.ab_change``).
"""

from __future__ import annotations

import importlib
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from .process_timing import _time_in_child, fresh_processes, split_rounds
from .timing import page_kind, ratio_clock, samples_on, scaled_module, speed_ratio

HEAD, BASE = "head", "base"


@dataclass(frozen=True)
class Side:
    """One source tree to time: its models package folder and (model key, checkpoint path) per model."""

    label: str
    models_dir: str
    checkpoints: tuple[tuple[str, str], ...]


def _load_side(side: Side) -> dict:
    from .base_tree import import_models  # noqa: PLC0415

    package = import_models(Path(side.models_dir), f"_sr_harness_ab_{side.label}_models")
    checkpoints = importlib.import_module(f"{package.__name__}.checkpoints")
    nets = {}
    for key, path in side.checkpoints:
        module, _ = checkpoints.load_model(path, map_location="cpu")
        nets[f"{side.label}:{key}"] = scaled_module(module)
    return nets


def build_pair(first: Side, second: Side) -> dict:
    """Both sides' nets, ``first``'s block of models then ``second``'s (run in each timing process)."""
    return {**_load_side(first), **_load_side(second)}


def time_ab(head: Side, base: Side, inputs: list[torch.Tensor], *, processes: int, rounds: int, warmup: int = 1,
            threads: int | None = 1, device: str = "cpu", start_with_base: bool = False,
            progress=None) -> dict[str, dict]:
    """Per model key present on both sides: both sides' times and the head/base ratios per process."""
    cpu_inputs = [x.detach().cpu() for x in inputs]
    parts = []
    shares = split_rounds(rounds, processes)
    with fresh_processes() as pool:
        for i, share in enumerate(shares):
            base_first = (i % 2 == 0) == start_with_base
            order = (base, head) if base_first else (head, base)
            parts.append(pool.submit(_time_in_child, build_pair, order, cpu_inputs, device=device, warmup=warmup,
                                     rounds=share, half=False, threads=threads).result())
            if progress:
                progress(i + 1, len(shares))
    keys = [key for key, _ in head.checkpoints if key in dict(base.checkpoints)]
    return {key: _entry(parts, key, shares, cpu_inputs) for key in keys}


def _entry(parts: list[dict], key: str, shares: list[int], inputs: list[torch.Tensor]) -> dict:
    from sr_harness.protocols.runtime import RuntimeResult, merge_results  # noqa: PLC0415

    per_process, head_ms, base_ms = [], [], []
    sides = {}
    for side in (HEAD, BASE):
        results = [RuntimeResult(**part[f"{side}:{key}"]) for part in parts]
        sides[side] = (results, merge_results(results))
    clock = ratio_clock([sides[HEAD][1], sides[BASE][1]])
    for h, b in zip(sides[HEAD][0], sides[BASE][0]):
        hs, bs = samples_on(h, clock), samples_on(b, clock)
        per_process.append(statistics.median(x / y for x, y in zip(hs, bs)))
        head_ms.append(statistics.median(hs))
        base_ms.append(statistics.median(bs))
    head_all, base_all = sides[HEAD][1], sides[BASE][1]
    pooled = speed_ratio(samples_on(head_all, clock), samples_on(base_all, clock))
    return {**pooled, "clock": clock, "per_process": per_process, "processes": len(parts),
            "rounds": sum(shares), "input_hw": list(inputs[0].shape[-2:]), "n_inputs": len(inputs),
            "head_median_ms": head_all.median_ms, "base_median_ms": base_all.median_ms,
            "head_clock_ms_per_process": head_ms, "base_clock_ms_per_process": base_ms,
            "pages": page_kind(head_all.huge_pages_mib)}


def pooled(first: dict, again: dict) -> dict:
    """One entry from two measurements of the same model: their processes together (the confirmation's verdict)."""
    return {**again, "per_process": [*first["per_process"], *again["per_process"]],
            "processes": first["processes"] + again["processes"], "rounds": first["rounds"] + again["rounds"],
            "head_clock_ms_per_process": [*first["head_clock_ms_per_process"], *again["head_clock_ms_per_process"]],
            "base_clock_ms_per_process": [*first["base_clock_ms_per_process"], *again["base_clock_ms_per_process"]]}

