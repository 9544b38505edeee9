"""Forward-pass runtime, in milliseconds per image, on CUDA or CPU.

Only ``model(x)`` is timed: inputs are already on the device, and copies, quantisation and metrics are
outside the timer. CUDA: ``torch.cuda.Event`` pairs around the forward, then ``synchronize``. CPU:
``time.perf_counter`` around the forward under ``inference_mode``, with the thread count recorded (and, on one
thread in steady mode, the thread's CPU time per sample too). CPU
timings are CPU timings and never NTIRE GPU runtime.

Modes:
- ``ntire``: the official script: no warm-up, ``cudnn.benchmark`` off (``ntire_pass``), one pass over the inputs in
  order, first (cold) image included, each forward timed by ``ForwardTimer``; ``ntire_result`` takes the per-image
  mean. ``ntire_comparable`` is True only for fp32 on CUDA.
- ``steady`` (``measure_interleaved``): ``warmup`` untimed passes, then ``rounds`` timed passes of every model,
  round-robin; the statistic is the median of all samples with a bootstrap 95% CI.
Half precision (``half=True``) times an fp16 copy of the model and is never NTIRE-comparable.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from .machine import cpu_model, environment_flags, nvidia_driver  # noqa: F401  (re-exported)
from .timing_stats import bootstrap_ci, ratio_ci  # noqa: F401  (ratio_ci re-exported)

__all__ = ["ForwardTimer", "RuntimeResult", "bootstrap_ci", "environment_flags", "measure_interleaved",
           "merge_results", "ntire_pass", "ntire_result", "ratio_ci"]


@dataclass
class RuntimeResult:
    mode: str
    device: str
    samples_ms: list[float]
    mean_ms: float
    median_ms: float
    ci_low_ms: float | None
    ci_high_ms: float | None
    n: int
    warmup: int
    repeats: int
    threads: int
    precision: str
    ntire_comparable: bool
    flags: dict
    unit: str = "ms"
    input_index: list[int] = field(default_factory=list)  # which input each sample timed
    cold: bool | None = None  # ntire mode: the first sample is the model's first forward on this device
    memory_mib: float | None = None  # CUDA: torch.cuda.max_memory_allocated after the pass (never reset)
    source: str = ""  # where the samples come from (e.g. "quality pass")
    # CPU, one thread: the forward's CPU time on the timing thread (time.thread_time), sample by sample. Time the
    # scheduler gave other processes is not in it, so ratios of it stay put under load (see harness.timing).
    cpu_samples_ms: list[float] = field(default_factory=list)
    processes: int = 1  # fresh processes the samples were taken in (merge_results), the rounds split over them
    # per process: its memory in transparent huge pages after timing (MiB; None where the OS does not say)
    huge_pages_mib: list[float | None] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def measure_interleaved(
    models: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    inputs: Sequence[torch.Tensor],
    *,
    device: str,
    warmup: int,
    rounds: int,
    half: bool = False,
    progress: Callable | None = None,
) -> dict[str, RuntimeResult]:
    """Steady-mode timing of several models, round-robin, so machine noise hits every model alike.

    Each round times every model once on each input, the models back to back per input (paired samples of two
    models are a few forwards apart, not a whole round: quieter ratios on a shared machine); the model order
    rotates every round to cancel position effects. Each model is thus always timed right after the same one (an
    order drawn afresh per input was no steadier: per-process SD of an unchanged model's ratio 1.9-2.8 % vs
    1.2-3.0 % rotated); one timed right after a model of its own architecture ran ~1.5 % faster, so a caller
    keeps two entries of one network apart in ``models``.

    Use ``ratio_ci`` on two results' ``samples_ms`` for a noise-aware comparison. ``progress`` wraps the rounds
    (e.g. a tqdm bar): ``progress(iterable, total=..., desc=...)``.
    """
    if not models:
        raise ValueError("measure_interleaved needs at least one model")
    if rounds < 1 or warmup < 0:
        raise ValueError(f"rounds must be >= 1 and warmup >= 0, got rounds={rounds}, warmup={warmup}")
    kind = _device_kind(device)
    timed_inputs = _prepare_inputs(inputs, half=half)
    prepared = {name: _prepare_model(fn, half=half) for name, fn in models.items()}
    names = list(prepared)
    samples: dict[str, list[float]] = {n: [] for n in names}
    cpu_samples: dict[str, list[float]] = {n: [] for n in names}
    index: dict[str, list[int]] = {n: [] for n in names}
    flags = environment_flags(device)
    timer = ForwardTimer(kind)
    with torch.inference_mode():
        for _ in range(warmup):
            for name in names:
                for x in timed_inputs:
                    prepared[name](x)
        timer.sync()
        rounds_iter = range(rounds) if progress is None else progress(range(rounds), total=rounds,
                                                                       desc="steady timing rounds")
        for r in rounds_iter:
            order = names[r % len(names):] + names[: r % len(names)]
            for i, x in enumerate(timed_inputs):  # all models on one input back to back: paired samples close in time
                for name in order:
                    samples[name].append(timer.timed(prepared[name], x)[1])
                    cpu_samples[name].append(timer.cpu_ms)
                    index[name].append(i)
    results = {
        n: _result("steady", kind, samples[n], index[n], warmup=warmup, repeats=rounds, half=half, flags=flags)
        for n in names
    }
    if kind == "cpu" and torch.get_num_threads() == 1:  # with more threads the work is not all on this one
        for n in names:
            results[n].cpu_samples_ms = cpu_samples[n]
    return results


def merge_results(parts: Sequence[RuntimeResult]) -> RuntimeResult:
    """One steady result from the same timing repeated in several processes: samples concatenated in process
    order (so two models' samples stay paired), statistics recomputed over all of them."""
    first = parts[0]
    merged = _result(first.mode, first.device, [s for p in parts for s in p.samples_ms],
                     [i for p in parts for i in p.input_index], warmup=first.warmup,
                     repeats=sum(p.repeats for p in parts), half=first.precision == "fp16", flags=first.flags)
    merged.threads, merged.processes = first.threads, sum(p.processes for p in parts)
    merged.huge_pages_mib = [m for p in parts for m in p.huge_pages_mib]
    if all(p.cpu_samples_ms for p in parts):
        merged.cpu_samples_ms = [s for p in parts for s in p.cpu_samples_ms]
    return merged


def ntire_pass():
    """The NTIRE conditions for a timed pass: ``cudnn.benchmark`` off (as the organizers' script)."""
    return _cudnn_benchmark(False)


def ntire_result(samples: Sequence[float], *, device: str, cold: bool, half: bool = False,
                 memory_mib: float | None = None, source: str = "quality pass",
                 follows_cold_set: bool = False) -> RuntimeResult:
    """A runtime result from per-image samples taken in dataset order (mean over all images, first included).

    Comparable to the organizers' numbers when the pass was cold, or when it is a later set of the same process
    that followed a cold one (their test set runs right after the valid set)."""
    kind = _device_kind(device)
    result = _result("ntire", kind, list(samples), list(range(len(samples))), warmup=0, repeats=1, half=half,
                     flags=environment_flags(device))
    result.cold, result.memory_mib, result.source = cold, memory_mib, source
    result.ntire_comparable = result.ntire_comparable and (cold or follows_cold_set)
    return result


class ForwardTimer:
    """Times one forward and returns its output with the milliseconds: CUDA events + synchronize, or perf_counter.
    The steady and NTIRE loops use it, and so does the runner's quality pass in NTIRE mode (the organizers time
    each full image inside the pass that also computes PSNR; use it inside ``ntire_pass()`` there)."""

    def __init__(self, device: str):
        self.kind = _device_kind(device)
        self.cpu_ms: float | None = None  # CPU: the last forward's CPU time on this thread
        if self.kind == "cuda":
            self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def sync(self) -> None:
        if self.kind == "cuda":
            torch.cuda.synchronize()

    def timed(self, fn: Callable, x: torch.Tensor):
        if self.kind == "cuda":
            self.start.record()
            out = fn(x)
            self.end.record()
            torch.cuda.synchronize()
            return out, float(self.start.elapsed_time(self.end))
        t0, c0 = time.perf_counter(), time.thread_time()
        out = fn(x)
        c1, t1 = time.thread_time(), time.perf_counter()
        self.cpu_ms = (c1 - c0) * 1000.0
        return out, (t1 - t0) * 1000.0


def _result(mode, kind, samples, index, *, warmup, repeats, half, flags) -> RuntimeResult:
    values = np.asarray(samples, dtype=np.float64)
    low = high = None
    if mode == "steady":
        low, high = bootstrap_ci(values)
    return RuntimeResult(
        mode=mode,
        device=kind,
        samples_ms=[float(v) for v in values],
        mean_ms=float(values.mean()),
        median_ms=float(np.median(values)),
        ci_low_ms=low,
        ci_high_ms=high,
        n=len(values),
        warmup=warmup,
        repeats=repeats,
        threads=torch.get_num_threads(),
        precision="fp16" if half else "fp32",
        ntire_comparable=mode == "ntire" and kind == "cuda" and not half,
        flags=flags,
        input_index=list(index),
    )


def _prepare_inputs(inputs, *, half: bool) -> list[torch.Tensor]:
    if not inputs:
        raise ValueError("runtime needs at least one input")
    return [x.half() for x in inputs] if half else list(inputs)


def _prepare_model(fn, *, half: bool):
    if isinstance(fn, nn.Module):
        fn.eval()
    if not half:
        return fn
    if not isinstance(fn, nn.Module):
        raise TypeError("half=True needs an nn.Module (an fp16 copy of it is timed)")
    return copy.deepcopy(fn).half().eval()


@contextlib.contextmanager
def _cudnn_benchmark(value: bool | None):
    """Set ``cudnn.benchmark`` for the block (None leaves it alone) and restore it afterwards."""
    saved = torch.backends.cudnn.benchmark
    if value is not None:
        torch.backends.cudnn.benchmark = value
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = saved


def _device_kind(device: str) -> str:
    kind = torch.device(device).type
    if kind not in ("cpu", "cuda"):
        raise ValueError(f"runtime device {device!r} is unsupported; use 'cpu' or 'cuda'")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("runtime device 'cuda' requested but CUDA is not available")
    return kind
