"""Steady timing split over fresh processes.

Between fresh processes an unchanged model's time ratio to the reference moves by an offset specific to the
process, which no number of rounds inside one process averages away. Timing ``rounds`` as k fresh processes of
rounds / k each costs k process start-ups and divides that offset's variance by k. Each process is a new
interpreter (``spawn``), builds its models with ``build(*build_args)`` (a module-level function, so it pickles)
and times them interleaved; the results are merged with samples in process order, so samples of two models stay
paired.

The offset comes mostly from 4 KiB pages placing weights and activations on other cache sets and TLB entries in
each process, so the timing processes ask glibc for malloc on transparent huge pages (``glibc.malloc.hugetlb=1``,
set for them only). Each process reports how much of it the kernel did put in huge pages (``huge_pages_mib``):
the tunable is a request, ignored before glibc 2.35 or where the kernel's THP setting is ``never``. The measured
spreads with and without huge pages are in results/speed_gate.md.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import torch

HUGE_PAGE_MALLOC = "glibc.malloc.hugetlb=1"  # malloc madvises its memory for transparent huge pages


def split_rounds(rounds: int, processes: int) -> list[int]:
    if not 1 <= processes <= rounds:
        raise ValueError(f"need 1 <= processes <= rounds, got {processes} processes for {rounds} rounds")
    return [rounds // processes + (i < rounds % processes) for i in range(processes)]


@contextlib.contextmanager
def fresh_processes() -> Iterator[ProcessPoolExecutor]:
    """A pool that runs each task in a new interpreter, one at a time, its malloc asking for huge pages.

    The tunable must be in the environment when a child starts (the loader reads it), so it is set in this
    process's environment while the pool lives and restored afterwards."""
    saved = os.environ.get("GLIBC_TUNABLES")
    os.environ["GLIBC_TUNABLES"] = f"{saved}:{HUGE_PAGE_MALLOC}" if saved else HUGE_PAGE_MALLOC
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                 max_tasks_per_child=1) as pool:  # one task per child: every task a fresh process
            yield pool
    finally:
        if saved is None:
            os.environ.pop("GLIBC_TUNABLES", None)
        else:
            os.environ["GLIBC_TUNABLES"] = saved


def call_in_timing_process(fn: Callable, *args):
    """``fn(*args)`` in one fresh process like a timing process (``fn`` module-level, so it pickles)."""
    with fresh_processes() as pool:
        return pool.submit(fn, *args).result()


def _time_in_child(build: Callable, build_args: tuple, inputs: list, *, device: str, warmup: int, rounds: int,
                   half: bool, threads: int | None) -> dict:
    from sr_harness.protocols.machine import huge_pages_mib  # noqa: PLC0415
    from sr_harness.protocols.runtime import measure_interleaved  # noqa: PLC0415

    if threads is not None:
        torch.set_num_threads(threads)
    nets = build(*build_args)
    timed = [x.to(device) for x in inputs]
    results = measure_interleaved(nets, timed, device=device, warmup=warmup, rounds=rounds, half=half)
    huge = huge_pages_mib()
    for result in results.values():
        result.huge_pages_mib = [huge]
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
    with fresh_processes() as pool:
        for share in steps:
            parts.append(pool.submit(_time_in_child, build, build_args, cpu_inputs, device=device, warmup=warmup,
                                     rounds=share, half=half, threads=threads).result())
    return {name: merge_results([RuntimeResult(**part[name]) for part in parts]) for name in parts[0]}
