"""Steady timing split over fresh processes.

Between fresh processes an unchanged model's time ratio to the reference moves by an offset specific to the
process and the module (calibrate: 1.2-3.3 % standard deviation per process), which no number of rounds inside one
process averages away. Timing ``rounds`` as k fresh processes of rounds / k each costs k process start-ups and
divides that offset's variance by k. Each process is a new interpreter (``spawn``), builds its models with
``build(*build_args)`` (a module-level function, so it pickles) and times them interleaved; the results are merged
with samples in process order, so samples of two models stay paired.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

import torch


def split_rounds(rounds: int, processes: int) -> list[int]:
    if not 1 <= processes <= rounds:
        raise ValueError(f"need 1 <= processes <= rounds, got {processes} processes for {rounds} rounds")
    return [rounds // processes + (i < rounds % processes) for i in range(processes)]


def _time_in_child(build: Callable, build_args: tuple, inputs: list, *, device: str, warmup: int, rounds: int,
                   half: bool, threads: int | None) -> dict:
    from sr_harness.protocols.runtime import measure_interleaved  # noqa: PLC0415

    if threads is not None:
        torch.set_num_threads(threads)
    nets = build(*build_args)
    timed = [x.to(device) for x in inputs]
    results = measure_interleaved(nets, timed, device=device, warmup=warmup, rounds=rounds, half=half)
    return {name: result.to_dict() for name, result in results.items()}


def measure_in_processes(build: Callable, build_args: tuple, inputs: list[torch.Tensor], *, processes: int,
                         device: str, warmup: int, rounds: int, half: bool = False, threads: int | None = None,
                         progress: Callable | None = None) -> dict:
    """``measure_interleaved`` of the nets ``build(*build_args)`` returns, in ``processes`` fresh processes one
    after the other (never side by side: they would time each other), ``rounds`` in all; name -> RuntimeResult."""
    from sr_harness.protocols.runtime import RuntimeResult, merge_results  # noqa: PLC0415

    shares = split_rounds(rounds, processes)
    cpu_inputs = [x.detach().cpu() for x in inputs]
    parts = []
    steps = shares if progress is None else progress(shares, total=len(shares), desc="timing processes")
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                             max_tasks_per_child=1) as pool:  # one task per child: every share a fresh process
        for share in steps:
            parts.append(pool.submit(_time_in_child, build, build_args, cpu_inputs, device=device, warmup=warmup,
                                     rounds=share, half=half, threads=threads).result())
    return {name: merge_results([RuntimeResult(**part[name]) for part in parts]) for name in parts[0]}
