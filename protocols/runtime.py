"""Forward-pass runtime, in milliseconds per image, on CUDA or CPU.

Only ``model(x)`` is timed: inputs are already on the device, and copies, quantisation and metrics are
outside the timer. CUDA: ``torch.cuda.Event`` pairs around the forward, then ``synchronize``. CPU:
``time.perf_counter`` around the forward under ``inference_mode``, with the thread count recorded. CPU
timings are CPU timings and never NTIRE GPU runtime.

Modes:
- ``ntire``: the official script: no warm-up, ``cudnn.benchmark`` off, one pass over the inputs in order,
  first (cold) image included; the statistic is the per-image mean. ``ntire_comparable`` is True only for
  fp32 on CUDA.
- ``steady``: ``warmup`` untimed passes, then at least ``repeats`` timed passes and at least ``min_time_s``
  of timed forwards; the statistic is the median of all samples with a bootstrap 95% CI.
Half precision (``half=True``) times an fp16 copy of the model and is never NTIRE-comparable.
"""

from __future__ import annotations

import contextlib
import copy
import platform
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

__all__ = ["RuntimeResult", "bootstrap_ci", "environment_flags", "measure_interleaved", "measure_runtime", "ratio_ci"]

MODES = ("ntire", "steady")
N_BOOTSTRAP = 2000


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

    def to_dict(self) -> dict:
        return asdict(self)


def bootstrap_ci(
    samples: Sequence[float], *, level: float = 0.95, seed: int = 0, n_boot: int = N_BOOTSTRAP
) -> tuple[float, float]:
    """Percentile bootstrap CI of the median."""
    values = _as_array(samples, "samples")
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, len(values), size=(n_boot, len(values)))], axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(medians, [tail, 100.0 - tail])
    return float(low), float(high)


def ratio_ci(
    samples: Sequence[float],
    reference_samples: Sequence[float],
    *,
    level: float = 0.95,
    seed: int = 0,
    n_boot: int = N_BOOTSTRAP,
) -> tuple[float, float, float]:
    """median(samples) / median(reference_samples) and its percentile bootstrap CI (independent resampling)."""
    a, b = _as_array(samples, "samples"), _as_array(reference_samples, "reference_samples")
    rng = np.random.default_rng(seed)
    boot_a = np.median(a[rng.integers(0, len(a), size=(n_boot, len(a)))], axis=1)
    boot_b = np.median(b[rng.integers(0, len(b), size=(n_boot, len(b)))], axis=1)
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(boot_a / boot_b, [tail, 100.0 - tail])
    return float(np.median(a) / np.median(b)), float(low), float(high)


def measure_runtime(
    model: nn.Module,
    inputs: Sequence[torch.Tensor],
    *,
    device: str,
    mode: str,
    warmup: int = 3,
    repeats: int = 10,
    min_time_s: float = 0.0,
    half: bool = False,
) -> RuntimeResult:
    """Time ``model`` over ``inputs`` (already on ``device``); see the module docstring for the modes."""
    if mode not in MODES:
        raise ValueError(f"runtime mode {mode!r} is unknown; use one of {', '.join(MODES)}")
    kind = _device_kind(device)
    inputs = _prepare_inputs(inputs, half=half)
    model = _prepare_model(model, half=half)
    if mode == "ntire":
        warmup, repeats, min_time_s = 0, 1, 0.0
    with _cudnn_benchmark(False if mode == "ntire" else None):
        flags = environment_flags(device)
        timer = _Timer(kind)
        with torch.inference_mode():
            for _ in range(warmup):
                for x in inputs:
                    model(x)
            timer.sync()
            samples, index = [], []
            start = time.perf_counter()
            passes = 0
            while passes < repeats or (time.perf_counter() - start) < min_time_s:
                for i, x in enumerate(inputs):
                    samples.append(timer.time(model, x))
                    index.append(i)
                passes += 1
    return _result(mode, kind, samples, index, warmup=warmup, repeats=passes, half=half, flags=flags)


def measure_interleaved(
    models: Mapping[str, Callable[[torch.Tensor], torch.Tensor]],
    inputs: Sequence[torch.Tensor],
    *,
    device: str,
    warmup: int,
    rounds: int,
    half: bool = False,
) -> dict[str, RuntimeResult]:
    """Steady-mode timing of several models, round-robin, so machine noise hits every model alike.

    Each round times every model once over all inputs; the model order rotates every round to cancel position
    effects. Use ``ratio_ci`` on two results' ``samples_ms`` for a noise-aware comparison.
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
    index: dict[str, list[int]] = {n: [] for n in names}
    flags = environment_flags(device)
    timer = _Timer(kind)
    with torch.inference_mode():
        for _ in range(warmup):
            for name in names:
                for x in timed_inputs:
                    prepared[name](x)
        timer.sync()
        for r in range(rounds):
            for name in names[r % len(names):] + names[: r % len(names)]:
                for i, x in enumerate(timed_inputs):
                    samples[name].append(timer.time(prepared[name], x))
                    index[name].append(i)
    return {
        n: _result("steady", kind, samples[n], index[n], warmup=warmup, repeats=rounds, half=half, flags=flags)
        for n in names
    }


def environment_flags(device: str) -> dict:
    """Settings that change a timing: TF32 and cuDNN switches, GPU, driver, library versions, CPU model."""
    flags = {
        "tf32_cudnn": bool(torch.backends.cudnn.allow_tf32),  # what the convolutions of these models use
        "tf32_matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpu_name": None,
        "driver": None,
        "cpu_model": cpu_model(),
        "threads": torch.get_num_threads(),
    }
    if _device_kind(device) == "cuda":
        flags["gpu_name"] = torch.cuda.get_device_name(torch.device(device))
        flags["driver"] = nvidia_driver()
    return flags


class _Timer:
    def __init__(self, kind: str):
        self.kind = kind
        if kind == "cuda":
            self.start, self.end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def sync(self) -> None:
        if self.kind == "cuda":
            torch.cuda.synchronize()

    def time(self, fn: Callable, x: torch.Tensor) -> float:
        if self.kind == "cuda":
            self.start.record()
            fn(x)
            self.end.record()
            torch.cuda.synchronize()
            return float(self.start.elapsed_time(self.end))
        t0 = time.perf_counter()
        fn(x)
        return (time.perf_counter() - t0) * 1000.0


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


def _as_array(samples: Sequence[float], what: str) -> np.ndarray:
    values = np.asarray(samples, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"{what} must be a non-empty 1-D sequence of timings")
    return values


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=10, check=True,
        )
        return out.stdout.strip().splitlines()[0] or None
    except (OSError, subprocess.SubprocessError, IndexError):
        return None
