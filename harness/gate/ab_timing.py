"""Speed A/B timing: the same models from two source trees (head and base) timed interleaved in fresh processes.

Each process imports both trees' model code under private names, loads each side's checkpoints with that side's
code, and times all of them round-robin on the same inputs, one thread, the same pages (``process_timing``). The
two sides of a model sit half a rotation apart (a model timed right after one of its own architecture runs ~1.5 %
faster), and the side listed first alternates from process to process (A B, B A, ...). A model's head/base ratio
is paired per round and input on the thread-CPU clock; each process's median paired ratio is one replicate of the
verdict (``stats.ab_change``).
"""

from __future__ import annotations

import importlib
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from sr_harness.run.process_timing import _time_in_child, fresh_processes, split_rounds
from sr_harness.run.timing import page_kind, per_process_ratios, ratio_clock, samples_on, scaled_module, speed_ratio

HEAD, BASE = "head", "base"


@dataclass(frozen=True)
class Side:
    """One source tree to time: its models package folder and (model key, checkpoint path) per model."""

    label: str
    models_dir: str
    checkpoints: tuple[tuple[str, str], ...]


def _load_side(side: Side) -> dict:
    from sr_harness.gate.base_tree import import_models  # noqa: PLC0415

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

    per_part = {side: [RuntimeResult(**part[f"{side}:{key}"]) for part in parts] for side in (HEAD, BASE)}
    head_all, base_all = merge_results(per_part[HEAD]), merge_results(per_part[BASE])
    clock = ratio_clock([head_all, base_all])
    head_samples, base_samples = samples_on(head_all, clock), samples_on(base_all, clock)
    return {**speed_ratio(head_samples, base_samples), "clock": clock,
            "per_process": per_process_ratios(head_samples, base_samples, sum(shares), len(parts)),
            "processes": len(parts), "rounds": sum(shares), "input_hw": list(inputs[0].shape[-2:]),
            "n_inputs": len(inputs), "head_median_ms": head_all.median_ms, "base_median_ms": base_all.median_ms,
            "head_clock_ms_per_process": [statistics.median(samples_on(r, clock)) for r in per_part[HEAD]],
            "base_clock_ms_per_process": [statistics.median(samples_on(r, clock)) for r in per_part[BASE]],
            "pages": page_kind(head_all.huge_pages_mib)}


def pooled(first: dict, again: dict) -> dict:
    """One entry from two measurements of the same model: their processes together (the confirmation's verdict)."""
    return {**again, "per_process": [*first["per_process"], *again["per_process"]],
            "processes": first["processes"] + again["processes"], "rounds": first["rounds"] + again["rounds"],
            "head_clock_ms_per_process": [*first["head_clock_ms_per_process"], *again["head_clock_ms_per_process"]],
            "base_clock_ms_per_process": [*first["base_clock_ms_per_process"], *again["base_clock_ms_per_process"]]}

